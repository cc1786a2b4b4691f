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
              help="project root (default: the project around the current directory, else the current directory)")
@friendly
def new(name: str, kind: str, root: Path | None) -> None:
    """Scaffold system NAME into the current project: system, spec (threads), state machine, note.

    The folders are the project's ([tool.racekit] in pyproject.toml: systems,
    machines, specs, notes); without one, the defaults under the current
    directory.  Then: racekit check NAME.
    """
    from racekit.project import NoProject, find_project, project_at
    from racekit.scaffold import scaffold

    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise RacekitError(f"system name {name!r} must be lower_snake_case")
    if root is not None:
        proj = project_at(root)
    else:
        try:
            proj = find_project()
        except NoProject:
            proj = project_at(Path.cwd())  # a fresh folder: it becomes the project
    for path in scaffold(proj, name, kind):
        click.echo(f"created {proj.rel(path)}")
    click.echo(f"next: racekit check {name}")
