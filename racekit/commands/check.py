"""``racekit check``: every variant against its expectation, in parallel."""

from __future__ import annotations

import io
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
    from racekit.registry import load_machine, load_system, project

    p = project(Path(root))
    system = load_system(system_name, p)
    machine = load_machine(system_name, p)
    report = check_variant(machine, system, system.variant(variant_name), profile(profile_name), p, save=save)
    return report.to_json()


@click.command("check")
@click.argument("systems", nargs=-1)
@click.option("--profile", "profile_name", default="ci", type=click.Choice(["smoke", "ci", "deep"]), show_default=True,
              help="smoke: seconds, a sanity pass; ci: the default; deep: long exploration")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of results")
@click.option("--save/--no-save", default=True, show_default=True,
              help="write counterexamples of broken variants (to the project's counterexample folder)")
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
    from racekit.registry import load_system, project, system_names

    proj = project()
    root = proj.root
    known = system_names(proj)
    names = list(systems) or known
    for n in names:
        if n not in known:
            raise RacekitError(f"unknown system {n!r} (known: {', '.join(known) or 'none'})")
    if not names:
        raise RacekitError(f"no systems in {proj.rel(proj.systems)}/ yet: write one with `racekit new NAME`")
    if variants and len(names) != 1:
        raise RacekitError("--variant needs exactly one SYSTEM")
    plan = [(n, v.name, v.expect) for n in names for v in load_system(n, proj).variants]
    if variants:
        system = load_system(names[0], proj)
        for name in variants:
            system.variant(name)  # one line naming the variants there are
        plan = [p for p in plan if p[1] in variants]
    phases = [[p for p in plan if p[2] == "violation"], [p for p in plan if p[2] == "correct"]]
    results: list[dict[str, Any]] = []
    workers = jobs or os.cpu_count() or 1

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=as_json and not console.is_terminal, transient=True,
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
                        emit(progress.console, res)
                    progress.advance(task)
    order = {(s, v): i for i, (s, v, _) in enumerate(plan)}
    results.sort(key=lambda r: order.get((r["system"], r["variant"]), 0))
    failed = [r for r in results if not r["met"]]
    if as_json:
        click.echo(json.dumps(results, indent=1))
    else:
        from rich.console import Console as Out

        Out(width=_width(), highlight=False).print(_table(results))
        click.echo(_met(results))
        for r in failed:
            click.echo(f"MISSED {r['system']}/{r['variant']}: {'; '.join(r['problems'])}")
        for line in next_steps(results, proj, save):
            click.echo(line)
    sys.exit(1 if failed else 0)


def emit(console: Any, r: dict[str, Any]) -> None:
    """One line per finished variant: cut to a terminal's width (a wrapped log
    line is noise), whole when stderr is a file or a CI log."""
    if console.is_terminal:
        console.print(log_line(r), no_wrap=True, overflow="ellipsis", markup=False, highlight=False)
    else:
        console.print(log_line(r), soft_wrap=True, markup=False, highlight=False)


def log_line(r: dict[str, Any]) -> str:
    """The progress line of one finished variant."""
    mark = "ok" if r["met"] else "MISSED"
    what = r["outcome"] + (f" of {r['property']}" if r["outcome"] == "violation" and r.get("property") else "")
    return f"{mark:6} {r['seconds']:6.1f}s  {r['system']}/{r['variant']}: {what}"


TABLE_WIDTH = 100


def _width() -> int:
    """At most 100 columns; fewer when the terminal is narrower."""
    from rich.console import Console

    console = Console()
    return min(TABLE_WIDTH, console.width) if console.is_terminal else TABLE_WIDTH


def _found(r: dict[str, Any]) -> str:
    if r["outcome"] == "violation":
        return f"violation: {r['property']}" if r.get("property") else "violation"
    if r["outcome"] in ("skipped", "error"):
        return f"{r['outcome']}: {r.get('message') or ''}".rstrip(": ")
    return str(r["outcome"])


def _table(results: list[dict[str, Any]]) -> Any:
    """System and variant names are never cut (they are what you type next);
    only the "found" column wraps.  What each variant was expected to show is
    in its ok/MISSED mark, and spelled out below the table when missed."""
    from rich import box
    from rich.table import Table

    table = Table(title="racekit check", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    table.add_column("system", no_wrap=True, min_width=max([len(r["system"]) for r in results] + [6]))
    table.add_column("variant", no_wrap=True, min_width=max([len(r["variant"]) for r in results] + [7]))
    table.add_column("found", ratio=1, overflow="fold")
    table.add_column("runs", justify="right", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for r in results:
        table.add_row(r["system"], r["variant"], _found(r), str(r["schedules"]), f"{r['seconds']:.1f}",
                      "[green]ok[/]" if r["met"] else "[red]MISSED[/]")
    return table


def _met(results: list[dict[str, Any]]) -> str:
    return f"{sum(1 for r in results if r['met'])}/{len(results)} expectations met"


def summary_table(results: list[dict[str, Any]], width: int = TABLE_WIDTH) -> str:
    """The table and its count as plain text, at most ``width`` columns wide."""
    from rich.console import Console

    console = Console(width=width, record=True, highlight=False, file=io.StringIO(), force_terminal=False)
    console.print(_table(results))
    return console.export_text() + _met(results) + "\n"


def _here(root: Path, rel: str) -> str:
    """A path inside the project as the user would type it from the current directory."""
    from racekit.project import project_at

    return project_at(root).shown(rel)


def next_steps(results: list[dict[str, Any]], proj: Any, save: bool) -> list[str]:
    """Where the counterexamples went, and the command to run next."""
    folder = _here(proj.root, proj.rel(proj.counterexamples)).rstrip("/") + "/"
    written = sorted({r["counterexample"] for r in results if r.get("counterexample")})
    broken = [r for r in results if r["expect"] == "violation"]
    lines = []
    if not broken:
        lines.append(f"counterexamples: none to write (no broken variant checked); saved ones are in {folder}")
    elif save:
        lines.append(f"counterexamples: {len(written)} written to {folder} (JSON + Markdown, to commit)")
    else:
        lines.append(f"counterexamples: not written (--no-save); {len(written)} saved one(s) in {folder} checked")
    missed = [r for r in results if not r["met"]]
    if missed:
        r = missed[0]
        if r.get("counterexample"):
            lines.append(f"next: racekit replay {_here(proj.root, r['counterexample'])}")
        else:
            lines.append(f"next: racekit explore {r['system']} --variant {r['variant']}")
    elif written:
        lines.append(f"next: racekit show {_here(proj.root, written[0])}")
        lines.append("      racekit gallery -o site/   (all of them as HTML)")
    return lines
