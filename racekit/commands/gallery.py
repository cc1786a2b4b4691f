"""``racekit gallery -o DIR``: a static HTML site of every counterexample."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

import click

from racekit.errors import RacekitError


def _fail(message: str) -> None:
    first = message.splitlines()[0] if message else "error"
    click.echo(f"racekit: error: {first}", err=True)
    sys.exit(2)


@click.command("gallery")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(path_type=Path, file_okay=True, dir_okay=True),
              help="Directory to write the site to (created if missing).")
@click.option("--open", "open_", is_flag=True, help="Open the index in a web browser afterwards.")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def gallery(output: Path, open_: bool, files: tuple[Path, ...]) -> None:
    """Render every system, variant and saved counterexample as static HTML.

    Extra counterexample FILES (outside counterexamples/) are added to the site;
    FILES ending in .edn are transactional histories (like counterexamples/txn/).
    The site needs no server and no network: open DIR/index.html.
    """
    from racekit.gallery import build
    from racekit.project import find_project

    if output.exists() and not output.is_dir():
        _fail(f"{output}: exists and is not a directory")
    try:
        root = find_project()
    except RacekitError as exc:
        _fail(str(exc))
    for f in files:
        if not f.is_file():
            _fail(f"{f}: no such counterexample file")
    try:
        site = build(root, output, extra=list(files))
    except RacekitError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{output}: cannot write the gallery ({exc.strerror or exc})")
    click.echo(
        f"gallery: {len(site.pages)} counterexample page(s)"
        + (f", {sum(1 for t in site.txn if t.href)} transactional history page(s)" if site.txn else "")
        + f", {len(site.unreadable)} unreadable file(s)"
        f" -> {site.index}"
    )
    if open_:
        webbrowser.open(site.index.resolve().as_uri())
