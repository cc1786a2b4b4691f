"""``racekit list``: every catalogue system and its variants."""

from __future__ import annotations

import json

import click

from racekit.commands.common import friendly


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@friendly
def list_cmd(as_json: bool) -> None:
    """Every catalogue system and its variants, with what each must show."""
    from racekit.registry import catalogue_root, load_system, system_names

    root = catalogue_root()
    rows = []
    for name in system_names(root):
        system = load_system(name, root)
        for v in system.variants:
            rows.append(
                {"system": name, "kind": system.kind, "variant": v.name, "expect": v.expect,
                 "property": v.property, "bug": v.bug}
            )
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"racekit catalogue ({len({r['system'] for r in rows})} systems, {len(rows)} variants)")
    for col in ("system", "kind", "variant", "expect", "property"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["system"], r["kind"], r["variant"], r["expect"], r["property"] or "")
    Console().print(table)
