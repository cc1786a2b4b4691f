"""``racekit show FILE``: one counterexample as a timeline in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from racekit.errors import RacekitError


def _fail(message: str) -> None:
    """A user error: one line on stderr, exit status 2, no traceback."""
    first = message.splitlines()[0] if message else "error"
    click.echo(f"racekit: error: {first}", err=True)
    sys.exit(2)


def find_root(path: Path) -> Path | None:
    """The root of the project a counterexample file belongs to (its source lines are
    read there), or None when there is none: the file is shown without them."""
    from racekit.project import project_for_file

    try:
        return project_for_file(path).root
    except RacekitError:
        return None


@click.command("show")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True, file_okay=True))
@click.option("--width", type=click.IntRange(min=40, max=1000), default=None,
              help="Columns to fit the view to (default: the terminal's).")
@click.option("--plain", is_flag=True, help="Plain ASCII text: no colour, no box characters.")
def show(file: Path, width: int | None, plain: bool) -> None:
    """Show the counterexample in FILE: timeline, schedule, and the fix's replay."""
    from racekit import store
    from racekit.show import render_plain, render_terminal

    if file.is_dir():
        _fail(f"{file}: is a directory, not a counterexample file")
    try:
        doc = store.load(file)
    except RacekitError as exc:
        _fail(str(exc))
    except RecursionError:
        _fail(f"{file}: JSON nested too deeply to be a counterexample")
    root = find_root(file)
    if plain:
        click.echo(render_plain(doc, width or 100, root), nl=False)
        return
    from rich.console import Console

    console = Console(width=width, highlight=False, soft_wrap=False)
    render_terminal(doc, console, root)
