"""``racekit explore SYSTEM --variant V``: one strategy (or the default search)
on one variant of any kind of system; prints the result and how to replay it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from racekit.commands.common import Progress, friendly
from racekit.errors import RacekitError


def _strategies() -> list[str]:
    from racekit.choice import names

    return ["default", *[n for n in names() if n != "replay"]]


@click.command("explore")
@click.argument("system_name", metavar="SYSTEM")
@click.option("--variant", required=True, help="variant to explore")
@click.option("--strategy", default="default", show_default=True,
              help="default (the whole search, as racekit check), or one of: bounded, dpor, dfs, pct, random, hypothesis")
@click.option("--budget", type=click.IntRange(1), default=None, help="max runs (default: the ci profile's)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of random and pct")
@click.option("--bound", "--preemption-bound", "bound", type=click.IntRange(0), default=None,
              help="at most this many deviations (preemptions, faults, kills)")
@click.option("--max-bound", type=click.IntRange(0), default=2, show_default=True,
              help="bounded: iterate 0..this many deviations, then unbounded")
@click.option("--pct-depth", type=click.IntRange(1), default=3, show_default=True, help="pct: the bug depth d")
@click.option("--profile", "profile_name", default="ci", type=click.Choice(["smoke", "ci", "deep"]), show_default=True,
              help="the default search's effort (and the default budget of one strategy)")
@click.option("--save", "save", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="write a failure as a counterexample file (then: racekit replay FILE)")
@click.option("--json", "as_json", is_flag=True)
@friendly
def explore(
    system_name: str, variant: str, strategy: str, budget: int | None, seed: int, bound: int | None,
    max_bound: int, pct_depth: int, profile_name: str, save: Path | None, as_json: bool,
) -> None:
    """Explore SYSTEM's VARIANT with one strategy over its seed scenarios
    (hypothesis and random: generated scenarios), minimize what it finds."""
    from racekit import portfolio
    from racekit.choice import Replay, Result
    from racekit.profiles import PROFILES
    from racekit.registry import load_machine, load_system

    if strategy not in _strategies():
        raise RacekitError(f"unknown strategy {strategy!r} (choose from: {', '.join(_strategies())})")
    system = load_system(system_name)
    v = system.variant(variant)
    machine = load_machine(system_name)
    reason = machine.unavailable(v)
    if reason:
        raise RacekitError(f"{system_name}/{variant} cannot run here: {reason}")
    progress = Progress(enabled=None if not as_json else False)
    command = f"racekit explore {system_name} --variant {variant} --strategy {strategy} --seed {seed} --profile {profile_name}"
    if budget:
        command += f" --budget {budget}"
    profile = PROFILES[profile_name]
    try:
        if strategy == "default":
            result = portfolio.search(machine, v, profile, progress=progress)
            schedules, first = int(result.stats.get("runs", 0)), None
        else:
            exhaustive = strategy in ("bounded", "dpor", "dfs")
            runs = budget or (profile.budget if exhaustive else profile.max_examples)
            knobs = {"seed": seed, "bound": bound, "max_bound": max_bound, "pct_depth": pct_depth}
            rep = portfolio.explore(machine, v, strategy, runs, progress=progress, **knobs)
            schedules, first = rep.runs, rep.first_hit
            if rep.found is None:
                result = Result(False, engine=machine.engine, coverage=rep.coverage)
            else:
                plan = machine.plan(v, profile)
                with machine.session(v) as session:
                    scenario, choices, _ = portfolio.minimize(machine, v, session, plan, rep.found)
                    result = session.run(scenario, Replay(choices), detail=True)
                    if not result.failed:  # never drop a failure
                        scenario, choices = rep.found.scenario, rep.found.choices
                        result = session.run(scenario, Replay(choices), detail=True)
                result.scenario, result.choices = scenario, list(choices)
                result.coverage = rep.coverage
    except KeyboardInterrupt:
        progress.done()
        click.echo(f"racekit: interrupted: {progress.summary()}; no counterexample", err=True)
        sys.exit(130)
    progress.done()
    replay = command
    if result.failed and save is not None:
        _save(save, system, v, result)
        replay = f"racekit replay {save}"
    out = _json(result, strategy, schedules, first, replay)
    if as_json:
        click.echo(json.dumps(out, indent=1, default=str))
    else:
        click.echo(_text(out))
    sys.exit(0)


def _save(path: Path, system: Any, variant: Any, result: Any) -> None:
    from racekit import store

    store.save(path, store.document(system, variant, result, {}, path.as_posix()))


def _json(result: Any, strategy: str, schedules: int, first: int | None, replay: str) -> dict[str, Any]:
    return {
        "violation": result.failed,
        "kind": result.kind,
        "property": result.property,
        "message": result.message,
        "engine": result.engine,
        "strategy": strategy,
        "schedules": schedules,
        "first_failure": first,
        "coverage": result.coverage.describe() if result.coverage else None,
        "scenario": result.scenario,
        "choices": result.choices,
        "trace": result.trace,
        "notes": result.notes,
        "replay": replay,
    }


def _text(out: dict[str, Any]) -> str:
    if not out["violation"]:
        return f"no violation ({out['strategy']}, {out['coverage'] or str(out['schedules']) + ' runs'})"
    lines = [
        f"{out['property']}: {out['message']}",
        f"found by {out['strategy']} in {out['schedules']} runs; choices {out['choices']}",
        f"scenario: {json.dumps(out['scenario'], default=str)}",
    ]
    for row in out["trace"]:
        cells = [str(row.get(k, "")) for k in ("step", "t", "name", "node", "what", "where", "detail") if k in row]
        mark = " <- preempted" if row.get("preemption") else ""
        lines.append("  " + "  ".join(cells) + mark)
    lines += [f"note: {n}" for n in out["notes"]]
    lines.append(f"replay: {out['replay']}")
    return "\n".join(lines)
