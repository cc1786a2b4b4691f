"""``racekit new NAME --kind thr|sim|proc``: scaffold a system into the current project."""

from __future__ import annotations

import re
from pathlib import Path

import click

from racekit.commands.common import friendly
from racekit.errors import RacekitError


@click.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(["thr", "sim", "proc"]), default="thr", show_default=True,
              help="thr: threads in one process; sim: simulated nodes; proc: real processes")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="project directory (default: the current directory)")
@friendly
def new(name: str, kind: str, root: Path | None) -> None:
    """Scaffold system NAME: system, spec (threads), state machine, note."""
    from racekit.scaffold import scaffold

    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise RacekitError(f"system name {name!r} must be lower_snake_case")
    for path in scaffold(root or Path.cwd(), name, kind):
        click.echo(f"created {path}")
