"""The ``racekit`` command: list, check, explore, replay, show, gallery, lincheck, new.

Thin on purpose: every command parses its options, calls the engine, and
prints.  A user error (unknown system, bad file, wrong option) is one line on
stderr and exit status 2 - never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

import click

from racekit.errors import RacekitError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"racekit: error: {message}", err=True)
    sys.exit(2)


def friendly(fn: F) -> F:
    """Turn racekit's user errors into one line on stderr."""

    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RacekitError as exc:
            _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except KeyboardInterrupt:
            click.echo("racekit: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="racekit")
def main() -> None:
    """racekit: break concurrent and distributed code before production does."""


# ------------------------------------------------------------------- list
@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@friendly
def list_cmd(as_json: bool) -> None:
    """Every catalogue system and its variants, with what each must show."""
    from racekit.catalogue import catalogue_root, load_system, system_names

    root = catalogue_root()
    rows = []
    for name in system_names(root):
        system = load_system(name, root)
        for v in system.variants:
            rows.append(
                {
                    "system": name,
                    "kind": system.kind,
                    "variant": v.name,
                    "expect": v.expect,
                    "property": v.property,
                    "bug": v.bug,
                }
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


# ------------------------------------------------------------------ check
def _check_one(root: str, system_name: str, variant_name: str, profile_name: str, save: bool) -> dict[str, Any]:
    """One variant, in a worker process (top-level so it pickles)."""
    os.chdir(root)
    from racekit.catalogue import load_machine, load_system, profile
    from racekit.checking import check_variant

    system = load_system(system_name, Path(root))
    machine = load_machine(system_name, Path(root))
    report = check_variant(machine, system, system.variant(variant_name), profile(profile_name), Path(root), save=save)
    return report.to_json()


@main.command()
@click.argument("systems", nargs=-1)
@click.option("--profile", "profile_name", default="ci", type=click.Choice(["smoke", "ci", "deep"]), show_default=True,
              help="smoke: seconds, a sanity pass; ci: the default; deep: long exploration")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list of results")
@click.option("--save/--no-save", default=True, show_default=True, help="write counterexamples of broken variants")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="worker processes (default: cores)")
@click.option("--variant", "only_variants", multiple=True, help="check only this variant of the one SYSTEM given (repeatable)")
@friendly
def check(systems: tuple[str, ...], profile_name: str, as_json: bool, save: bool, jobs: int | None,
          only_variants: tuple[str, ...] = ()) -> None:
    """Search every variant of SYSTEMS (default: all) and compare with its expectation.

    Broken variants run first and save their minimized counterexamples; fixed
    variants then run and replay their broken siblings' counterexamples.
    Exits 1 when any expectation is not met.
    """
    from racekit.catalogue import catalogue_root, load_system, system_names

    root = catalogue_root()
    names = list(systems) or system_names(root)
    known = system_names(root)
    for n in names:
        if n not in known:
            raise RacekitError(f"unknown system {n!r} (known: {', '.join(known)})")
    plan = [(n, v.name, v.expect) for n in names for v in load_system(n, root).variants]
    if only_variants:
        if len(names) != 1:
            raise RacekitError("--variant needs exactly one SYSTEM")
        for v in only_variants:
            load_system(names[0], root).variant(v)  # an unknown variant is a one-line error
        plan = [p for p in plan if p[1] in only_variants]
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
                futures = {pool.submit(_check_one, str(root), s, v, profile_name, save): (s, v) for s, v, _ in phase}
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


# ---------------------------------------------------------------- explore
@main.command()
@click.argument("system_name", metavar="SYSTEM")
@click.option("--variant", required=True, help="variant to explore")
@click.option("--strategy", default="dfs", type=click.Choice(["dfs", "dfs-nopor", "pct", "random", "hypothesis"]), show_default=True)
@click.option("--budget", type=click.IntRange(1), default=None, help="max schedules")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--preemption-bound", type=click.IntRange(0), default=None)
@click.option("--json", "as_json", is_flag=True)
@friendly
def explore(system_name: str, variant: str, strategy: str, budget: int | None, seed: int, preemption_bound: int | None, as_json: bool) -> None:
    """Run one explorer over the system's small fixed scenario (thread systems)."""
    from racekit.catalogue import load_machine, load_system

    system = load_system(system_name)
    v = system.variant(variant)
    machine = load_machine(system_name)
    if not hasattr(machine, "explore"):
        raise RacekitError(f"{system_name} is a {system.kind} system: explore works on thread systems; use 'racekit check {system_name}'")
    result = machine.explore(v, strategy, budget, seed, preemption_bound)
    result.replay = (
        f"racekit explore {system_name} --variant {variant} --strategy {strategy} --seed {seed}"
        + (f" --budget {budget}" if budget else "")
    )
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1))
    else:
        click.echo(str(result))
    sys.exit(0)


# ----------------------------------------------------------------- replay
@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--variant", default=None, help="replay on another variant of the same system")
@click.option("--json", "as_json", is_flag=True)
@friendly
def replay(file: str, variant: str | None, as_json: bool) -> None:
    """Reproduce a saved counterexample; exit 0 when the outcome matches the file.

    On its own variant the violation must reappear; with --variant naming a
    fixed sibling, the file's recorded outcome for that variant (clean) must.
    """
    from racekit import store
    from racekit.catalogue import load_machine, load_system
    from racekit.checking import replay_on

    doc = store.load(file)
    system = load_system(doc["system"])
    target = system.variant(variant or doc["variant"])
    system.variant(doc["variant"])
    machine = load_machine(doc["system"])
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


# -------------------------------------------------------------------- new
@main.command()
@click.argument("name")
@friendly
def new(name: str) -> None:
    """Scaffold a thread system NAME: system, spec, state machine and note."""
    import re

    from racekit.catalogue import catalogue_root
    from racekit.scaffold import scaffold

    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise RacekitError(f"system name {name!r} must be lower_snake_case")
    for path in scaffold(catalogue_root(), name):
        click.echo(f"created {path}")


def _register_optional() -> None:
    """Commands that live in their own modules (lincheck, show, gallery)."""
    import importlib

    for module, attr in (
        ("racekit.commands.lincheck", "lincheck"),
        ("racekit.commands.show", "show"),
        ("racekit.commands.gallery", "gallery"),
        ("racekit.commands.mutate", "mutate"),
    ):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        main.add_command(getattr(mod, attr))


_register_optional()
