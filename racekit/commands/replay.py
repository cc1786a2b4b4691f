"""``racekit replay FILE``: reproduce a saved counterexample."""

from __future__ import annotations

import json
import sys

import click

from racekit.commands.common import friendly


@click.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--variant", default=None, help="replay on another variant of the same system")
@click.option("--json", "as_json", is_flag=True)
@friendly
def replay(file: str, variant: str | None, as_json: bool) -> None:
    """Reproduce a saved counterexample; exit 0 when the outcome matches the file.

    On its own variant the violation must reappear; with --variant naming a
    fixed sibling, the file's recorded outcome for that variant (clean) must.
    """
    from pathlib import Path

    from racekit import store
    from racekit.checking import replay_on
    from racekit.project import project_for_file
    from racekit.registry import machine_for

    doc = store.load(file)
    # The project the file lives in: its system is looked up there by name, or,
    # for a Machine outside the registry, by the module the file names - which
    # must lie in a folder that project's [tool.racekit] allows.
    machine = machine_for(doc, project_for_file(Path(file)), source=file)
    system = machine.system
    target = system.variant(variant or doc["variant"])
    system.variant(doc["variant"])
    outcome = replay_on(machine, target, doc)
    if target.name == doc["variant"]:
        expected = "violation"
        matches = outcome.failed and outcome.kind == doc["kind"]
    else:
        expected = doc["replay"].get(target.name, {}).get("outcome", "clean")
        matches = (outcome.failed and expected == "violation") or (not outcome.failed and expected == "clean")
    got = "violation" if outcome.failed else "clean"
    if as_json:
        click.echo(json.dumps({"file": file, "variant": target.name, "expected": expected, "outcome": got,
                               "kind": outcome.kind, "message": outcome.message, "matches": matches}, indent=1))
    else:
        click.echo(f"{doc['system']}/{target.name}: {got}" + (f" - {outcome.kind}: {outcome.message}" if outcome.failed else ""))
        click.echo("matches the file" if matches else f"DOES NOT MATCH: the file says {expected}")
    sys.exit(0 if matches else 1)


