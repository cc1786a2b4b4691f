"""``racekit check``: every variant against its expectation, in parallel."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import click

from racekit.commands.common import friendly
from racekit.errors import RacekitError


def check_one(root: str, system_name: str, variant_name: str, profile_name: str, save: bool) -> dict[str, Any]:
    """One variant, in a worker process (top-level so it pickles)."""
    os.chdir(root)
    from racekit.checking import check_variant
    from racekit.profiles import profile
    from racekit.registry import load_machine, load_system

    system = load_system(system_name, Path(root))
    machine = load_machine(system_name, Path(root))
    report = check_variant(machine, system, system.variant(variant_name), profile(profile_name), Path(root), save=save)
    return report.to_json()


@click.command("check")
@click.argument("systems", nargs=-1)
@click.option("--profile", "profile_name", default="ci", type=click.Choice(["smoke", "ci", "deep"]), show_default=True,
              help="smoke: seconds, a sanity pass; ci: the default; deep: long exploration")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of results")
@click.option("--save/--no-save", default=True, show_default=True, help="write counterexamples of broken variants")
@click.option("--variant", "variants", multiple=True, help="only this variant (repeatable; needs one SYSTEM)")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="worker processes (default: cores)")
@friendly
def check(
    systems: tuple[str, ...], profile_name: str, as_json: bool, save: bool, variants: tuple[str, ...], jobs: int | None
) -> None:
    """Search every variant of SYSTEMS (default: all) and compare with its expectation.

    Broken variants run first and save their minimized counterexamples; fixed
    variants then run and replay their broken siblings' counterexamples.
    Exits 1 when any expectation is not met.
    """
    from racekit.registry import catalogue_root, load_system, system_names

    root = catalogue_root()
    names = list(systems) or system_names(root)
    known = system_names(root)
    for n in names:
        if n not in known:
            raise RacekitError(f"unknown system {n!r} (known: {', '.join(known)})")
    if variants and len(names) != 1:
        raise RacekitError("--variant needs exactly one SYSTEM")
    plan = [(n, v.name, v.expect) for n in names for v in load_system(n, root).variants]
    if variants:
        system = load_system(names[0], root)
        for name in variants:
            system.variant(name)  # one line naming the variants there are
        plan = [p for p in plan if p[1] in variants]
    phases = [[p for p in plan if p[2] == "violation"], [p for p in plan if p[2] == "correct"]]
    results: list[dict[str, Any]] = []
    workers = jobs or os.cpu_count() or 1

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=as_json and not console.is_terminal,
    ) as progress:
        task = progress.add_task("checking", total=len(plan))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for phase in phases:
                futures = {pool.submit(check_one, str(root), s, v, profile_name, save): (s, v) for s, v, _ in phase}
                for fut in as_completed(futures):
                    s, v = futures[fut]
                    try:
                        res = fut.result()
                    except Exception as exc:  # a crash in one variant is reported, not fatal
                        res = {"system": s, "variant": v, "expect": "?", "outcome": "error", "property": None,
                               "met": False, "message": f"{type(exc).__name__}: {exc}", "counterexample": None,
                               "schedules": 0, "length": None, "seconds": 0.0, "problems": [str(exc)]}
                    results.append(res)
                    if not as_json:
                        mark = "ok" if res["met"] else "MISSED"
                        progress.console.log(f"{mark:6} {s}/{v}: {res['outcome']} ({res['seconds']:.1f}s)")
                    progress.advance(task)
    order = {(s, v): i for i, (s, v, _) in enumerate(plan)}
    results.sort(key=lambda r: order.get((r["system"], r["variant"]), 0))
    failed = [r for r in results if not r["met"]]
    if as_json:
        click.echo(json.dumps(results, indent=1))
    else:
        _summary_table(results)
        for r in failed:
            click.echo(f"MISSED {r['system']}/{r['variant']}: {'; '.join(r['problems'])}")
            if r.get("counterexample"):
                click.echo(f"  replay: racekit replay {r['counterexample']}")
    if save and not as_json:
        saved = sorted({r["counterexample"] for r in results if r.get("counterexample")})
        if saved:
            click.echo(f"counterexamples in {root / 'counterexamples'}; next: racekit show {saved[0]}")
    sys.exit(1 if failed else 0)


def _summary_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="racekit check")
    for col in ("system", "variant", "expected", "outcome", "property", "schedules", "min. length", "seconds", ""):
        table.add_column(col)
    for r in results:
        table.add_row(
            r["system"], r["variant"], r["expect"], r["outcome"], r["property"] or "",
            str(r["schedules"]), "" if r["length"] is None else str(r["length"]),
            f"{r['seconds']:.1f}", "[green]ok[/]" if r["met"] else "[red]MISSED[/]",
        )
    Console(width=max(120, Console().width)).print(table)
    ok = sum(1 for r in results if r["met"])
    click.echo(f"{ok}/{len(results)} expectations met")


