"""``racekit mutate SYSTEM...``: plant concurrency bugs in fixed variants and see if ``check`` kills them.

Thin, like the other commands: resolve systems and variants, make the
mutants (:mod:`racekit.mutation.generate`), run them
(:mod:`racekit.mutation.runner`), print (:mod:`racekit.mutation.report`).
Exit status 0 when every mutant that was run was killed, 1 otherwise, 2 on
a user error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from racekit.errors import RacekitError

if TYPE_CHECKING:
    from racekit.mutation.generate import Mutant
    from racekit.mutation.ledger import Judgment
    from racekit.mutation.runner import Baseline, MutantResult


def _fail(message: str) -> None:
    click.echo(f"racekit: error: {message.splitlines()[0] if message else 'error'}", err=True)
    sys.exit(2)


@click.command()
@click.argument("systems", nargs=-1)
@click.option("--variant", "variant_names", multiple=True, help="only this fixed variant (repeatable; needs one SYSTEM)")
@click.option("--operators", "operator_names", default="", metavar="NAMES",
              help="comma-separated operators or families (default: all; see --list-operators)")
@click.option("--mutant", "mutant_ids", multiple=True, metavar="ID",
              help="only this mutant: its id, or [SYSTEM/VARIANT/]OPERATOR:FUNCTION[#K] - one operator's mutants"
                   " in one function (the K-th of them) (repeatable)")
@click.option("--limit", type=click.IntRange(1), default=None, help="at most N mutants per variant (round-robin over operators)")
@click.option("--profile", "profile_name", default="ci", type=click.Choice(["smoke", "ci", "deep"]), show_default=True,
              help="the racekit check profile each mutant runs under")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=None, help="mutants checked at once (default: cores)")
@click.option("--timeout", type=click.FloatRange(1.0), default=None,
              help="seconds per mutant (default: 20x the unmutated check, at least 240)")
@click.option("--coverage/--no-coverage", default=True, show_default=True,
              help="run the unmutated check first and skip mutants on lines it never executes")
@click.option("--json", "as_json", is_flag=True, help="print JSON rows")
@click.option("--markdown", "as_markdown", is_flag=True, help="print the tables of docs/mutation.md")
@click.option("--all", "show_all", is_flag=True, help="list killed and uncovered mutants in the table too")
@click.option("--list", "list_only", is_flag=True, help="list the mutants (with diffs under --json) without running them")
@click.option("--list-operators", is_flag=True, help="list the operators and exit")
def mutate(systems: tuple[str, ...], variant_names: tuple[str, ...], operator_names: str, mutant_ids: tuple[str, ...],
           limit: int | None, profile_name: str, jobs: int | None, timeout: float | None, coverage: bool,
           as_json: bool, as_markdown: bool, show_all: bool, list_only: bool, list_operators: bool) -> None:
    """Mutation testing of the harness on the fixed variants of SYSTEMS (default: all).

    Each mutant is a fixed variant's code with one planted bug (a lock
    removed, a wait under 'if', a notify dropped, a transaction split ...);
    it runs through the same search as 'racekit check' in a scratch copy of
    the catalogue.  A survivor is printed with its diff: either the harness
    has a blind spot, or the mutant is equivalent.
    """
    try:
        _mutate(systems, variant_names, operator_names, mutant_ids, limit, profile_name, jobs, timeout, coverage,
                as_json, as_markdown, show_all, list_only, list_operators)
    except RacekitError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        click.echo("racekit: interrupted", err=True)
        sys.exit(130)


def _mutate(systems: tuple[str, ...], variant_names: tuple[str, ...], operator_names: str, mutant_ids: tuple[str, ...],
            limit: int | None, profile_name: str, jobs: int | None, timeout: float | None, coverage: bool,
            as_json: bool, as_markdown: bool, show_all: bool, list_only: bool, list_operators: bool) -> None:
    from racekit.mutation.generate import limited, select_operators, variant_mutants
    from racekit.registry import catalogue_root, load_system, system_names

    operators = select_operators([n.strip() for n in operator_names.split(",") if n.strip()])
    if list_operators:
        for op in operators:
            click.echo(f"{op.family:11} {op.name:24} {op.summary}")
        return
    if as_json and as_markdown:
        raise RacekitError("--json and --markdown are two outputs: choose one")
    root = catalogue_root()
    known = system_names(root)
    names = list(systems) or known
    for n in names:
        if n not in known:
            raise RacekitError(f"unknown system {n!r} (known: {', '.join(known)})")
    if variant_names and len(names) != 1:
        raise RacekitError("--variant needs exactly one SYSTEM")
    mutants = []
    for name in names:
        system = load_system(name, root)
        chosen = [system.variant(v) for v in variant_names] if variant_names else system.fixed
        for v in chosen:
            if v.expect != "correct":
                raise RacekitError(f"{name}/{v.name} is a broken variant: mutate plants bugs in fixed variants")
            mutants += limited(variant_mutants(root, name, v, operators), limit)
    if mutant_ids:
        nth: dict[str, int] = {}  # "#k": the k-th mutant of one operator in one function, in file order
        for m in mutants:
            group = f"{m.system}/{m.variant}/{m.operator}:{m.function}"
            nth[m.id + group] = nth[group] = nth.get(group, 0) + 1

        def keys(m: Mutant) -> set[str]:
            short, group = f"{m.operator}:{m.function}", f"{m.system}/{m.variant}/{m.operator}:{m.function}"
            k = nth[m.id + group]
            return {m.id, short, group, f"{short}#{k}", f"{group}#{k}"}

        unknown = [sel for sel in mutant_ids if not any(sel in keys(m) for m in mutants)]
        if unknown:
            raise RacekitError(f"no mutant {unknown[0]!r} among the {len(mutants)} selected (see --list)")
        mutants = [m for m in mutants if keys(m) & set(mutant_ids)]
    if list_only:
        _list(mutants, as_json)
        return
    if not mutants:
        raise RacekitError("no mutants: no operator applies to the selected code")
    from racekit.mutation.ledger import lapsed, load

    judgments = load(root)
    stale = [] if mutant_ids or limit or operator_names else lapsed(judgments, mutants)
    for j in stale:
        click.echo(f"racekit: warning: {j.system}/{j.variant} {j.mutant} in mutants/equivalent.toml matches no "
                   "mutant any more (its code changed): judge it again", err=True)
    results, bases = _run(root, mutants, profile_name, jobs or os.cpu_count() or 1, coverage, timeout, judgments)
    from racekit.mutation.report import markdown, print_terminal

    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=1))
    elif as_markdown:
        notes = [f"{b.system}/{b.variant}: {b.message}" for b in bases if not b.ok]
        notes += [f"{j.system}/{j.variant} `{j.mutant}`: judged equivalent, but its code changed - judge again" for j in stale]
        click.echo(markdown([r.to_json() for r in results], notes), nl=False)
    else:
        print_terminal(results, bases, show_all)
    run = [r for r in results if r.status in ("killed", "survived", "timeout", "error")]  # not equivalent ones
    sys.exit(0 if all(r.killed for r in run) else 1)


def _list(mutants: list[Mutant], as_json: bool) -> None:
    if as_json:
        rows = [{"system": m.system, "variant": m.variant, "mutant": m.id, "operator": m.operator, "family": m.family,
                 "where": m.where, "note": m.note, "diff": m.diff()} for m in mutants]
        click.echo(json.dumps(rows, indent=1))
        return
    for m in mutants:
        click.echo(f"{m.system}/{m.variant}  {m.id:40} {m.where}  ({m.note})")
    click.echo(f"{len(mutants)} mutants")


def _run(root: Path, mutants: list[Mutant], profile_name: str, jobs: int, coverage: bool,
         timeout: float | None, judgments: list[Judgment]) -> tuple[list[MutantResult], list[Baseline]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from racekit.mutation.runner import run_mutants

    console = Console(stderr=True, log_path=False)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("mutants", total=len(mutants))

        def on_baseline(b: Baseline) -> None:
            mark = "ok" if b.ok else "NOT CLEAN"
            lines = f", {len(b.run.lines)} lines run" if b.run.lines else ""
            progress.console.log(f"baseline {b.system}/{b.variant}: {mark} ({b.run.seconds:.1f}s{lines})")

        def on_result(r: MutantResult) -> None:
            if r.status != "uncovered":
                prop = f" - {r.prop}" if r.prop else (f" - {r.message}" if r.message else "")
                progress.console.log(f"{r.status:9} {r.mutant.system}/{r.mutant.variant} {r.mutant.id} ({r.seconds:.1f}s){prop}"[:200])
            progress.advance(task)

        return run_mutants(root, mutants, profile_name, jobs, coverage, timeout, on_baseline, on_result, judgments)
