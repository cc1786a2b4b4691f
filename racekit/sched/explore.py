"""The one-call API: ``racekit.explore`` and ``racekit.replay``.

``explore(setup, threads, check)`` runs ``threads(setup())`` as logical
threads under a chosen strategy until ``check`` fails, a thread raises, a
deadlock or livelock appears, or the budget is spent.  The result carries the
minimized choice list and the exact call that replays it.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.errors import RacekitError
from racekit.sched.chooser import Chooser, RecordingChooser, ReplayChooser
from racekit.sched.patching import patched
from racekit.sched.runtime import Execution, RunResult, thread_names
from racekit.sched.scope import scope_of

Check = Callable[[Any], Any]


@dataclass
class Program:
    """What one execution runs: build state, make threads, check the end state."""

    setup: Callable[[], Any]
    threads: Callable[[Any], Sequence[Callable[[], Any]]]
    check: Callable[[Any, RunResult], None] | None = None
    trace_files: frozenset[str] = frozenset()
    # module objects or their namespaces (a function's __globals__)
    patch_modules: tuple[types.ModuleType | dict[str, Any], ...] = ()
    max_steps: int = 20_000
    thread_names: Sequence[str] | None = None
    # judge(state, result) -> (kind, message): replaces the default verdict
    # (the run's own kind, then ``check``) when a harness needs more, e.g. to
    # accept operations that are allowed to block forever.
    judge: Callable[[Any, RunResult], tuple[str | None, str]] | None = None


@dataclass
class Run:
    """One execution of a program and its verdict."""

    result: RunResult
    choices: list[int]
    kind: str | None
    message: str
    state: Any = None

    @property
    def failed(self) -> bool:
        return self.kind is not None

    def trace(self) -> list[dict[str, Any]]:
        names = thread_names(self.result.threads)
        return [s.to_json(names) for s in self.result.steps]


def run_program(
    program: Program,
    chooser: Chooser,
    *,
    record_where: bool = True,
    attach: Callable[[Execution], None] | None = None,
) -> Run:
    """Run the program once under ``chooser`` (the only source of choices)."""
    recorder = RecordingChooser(chooser)
    with patched(program.patch_modules):
        state = program.setup()
        fns = list(program.threads(state))
        ex = Execution(
            recorder,
            max_steps=program.max_steps,
            trace_files=program.trace_files,
            record_where=record_where,
        )
        if attach is not None:
            attach(ex)
        names = program.thread_names
        for i, fn in enumerate(fns):
            ex.spawn(fn, names[i] if names and i < len(names) else None)
        result = ex.run()
        kind, message = result.kind, result.message
        if program.judge is not None:
            if not result.sleep_blocked:
                kind, message = program.judge(state, result)
        elif kind is None and not result.sleep_blocked and program.check is not None:
            try:
                program.check(state, result)
            except AssertionError as exc:
                kind, message = "assertion", str(exc) or "check failed"
    return Run(result, recorder.choices, kind, message, state)


# ---------------------------------------------------------------- results
@dataclass
class ExploreResult:
    """What an exploration found.  ``failed`` False means none found in budget."""

    failed: bool
    kind: str | None
    message: str
    schedules: int
    strategy: str
    choices: list[int] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    preemptions: int = 0
    exhausted: bool = False
    first_failure: int | None = None
    seconds: float = 0.0
    replay: str = ""
    cycle: list[dict[str, str]] = field(default_factory=list)
    sleep_blocked: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "violation": self.failed,
            "kind": self.kind,
            "message": self.message,
            "schedules": self.schedules,
            "strategy": self.strategy,
            "choices": self.choices,
            "trace": self.trace,
            "preemptions": self.preemptions,
            "exhausted": self.exhausted,
            "first_failure": self.first_failure,
            "seconds": round(self.seconds, 4),
            "replay": self.replay,
            "cycle": self.cycle,
            "warnings": self.warnings,
        }

    def __str__(self) -> str:
        if not self.failed:
            done = "exhaustively" if self.exhausted and not self.warnings else "within budget"
            text = f"no violation in {self.schedules} schedules ({self.strategy}, {done})"
            return "\n".join([text, *(f"warning: {w}" for w in self.warnings)])
        lines = [
            f"{self.kind}: {self.message}",
            f"found by {self.strategy} at schedule {self.first_failure} of {self.schedules}; "
            f"{self.preemptions} preemption(s), {len(self.choices)} choice(s)",
        ]
        for row in self.trace:
            mark = " <- preempted" if row["preemption"] else ""
            lines.append(f"  {row['step']:>3} {row['name']:<6} {row['what']:<32} {row['where']}{mark}")
        lines.append(f"replay: {self.replay}")
        return "\n".join(lines)


# Two or more threads ran and none ever reached a shared-access switch point.
VACUOUS = (
    "two or more threads ran but no shared-access switch point was ever reached: nothing was "
    "interleaved, so this clean verdict says nothing (is the code under test traced? see "
    "docs/threading-model.md)"
)


# ----------------------------------------------------------- exploration
def make_strategy(name: str, seed: int, preemption_bound: int | None, depth: int = 3) -> Any:
    from racekit.sched.strategies.dfs import DFSStrategy
    from racekit.sched.strategies.pct import PCTStrategy
    from racekit.sched.strategies.random import RandomStrategy

    if name == "dfs":
        return DFSStrategy(preemption_bound, por=True)
    if name == "dfs-nopor":
        return DFSStrategy(preemption_bound, por=False)
    if name == "random":
        return RandomStrategy(seed)
    if name == "pct":
        return PCTStrategy(depth, seed)
    raise RacekitError(f"unknown strategy {name!r} (choose from: dfs, dfs-nopor, pct, random, hypothesis)")


def search(
    program: Program,
    strategy: str = "dfs",
    *,
    budget: int | None = None,
    seed: int = 0,
    preemption_bound: int | None = None,
    minimize: bool = True,
    replay_hint: Callable[[list[int]], str] | None = None,
) -> ExploreResult:
    """Explore schedules of ``program`` until a failure or the budget."""
    start = time.perf_counter()
    shared_points = 0
    ran_threads = 0
    if strategy == "hypothesis":
        found, schedules = _hypothesis_search(program, budget or 1000, seed)
        exhausted = False
        sleep_blocked = 0
    else:
        strat = make_strategy(strategy, seed, preemption_bound)
        found = None
        schedules = 0
        limit = budget if budget is not None else (10**9 if strategy.startswith("dfs") else 1000)
        while schedules < limit:
            chooser = strat.next_chooser()
            if chooser is None:
                break
            schedules += 1
            run = run_program(program, chooser, record_where=False, attach=strat.attach)
            strat.observe(run.result)
            shared_points += run.result.shared_points
            ran_threads = max(ran_threads, run.result.ran_threads)
            if run.failed:
                found = run
                break
        exhausted = bool(getattr(strat, "exhausted", False))
        sleep_blocked = int(getattr(strat, "sleep_blocked_runs", 0))
    if found is None:
        warnings = []
        if ran_threads >= 2 and shared_points == 0 and strategy != "hypothesis":
            warnings.append(VACUOUS)
        return ExploreResult(
            False, None, "", schedules, strategy, exhausted=exhausted,
            seconds=time.perf_counter() - start, sleep_blocked=sleep_blocked, warnings=warnings,
        )
    choices = found.choices
    if minimize:
        choices = fewest_preemptions(program, found)
        choices = minimize_choices(program, choices, found.kind)
    final = replay_program(program, choices)
    hint = replay_hint(choices) if replay_hint else f"racekit.replay(setup, threads, check, choices={choices})"
    return ExploreResult(
        True,
        final.kind,
        final.message,
        schedules,
        strategy,
        choices=choices,
        trace=final.trace(),
        preemptions=final.result.preemptions,
        first_failure=schedules,
        seconds=time.perf_counter() - start,
        replay=hint,
        cycle=final.result.cycle,
        sleep_blocked=sleep_blocked,
    )


def replay_program(program: Program, choices: Sequence[int]) -> Run:
    """Re-run one schedule exactly (choices past the end of the list are 0)."""
    return run_program(program, ReplayChooser(choices), record_where=True)


def _hypothesis_search(program: Program, budget: int, seed: int) -> tuple[Run | None, int]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from racekit.sched.hypothesis_chooser import HypothesisChooser

    count = 0
    last: list[Run] = []

    @hseed(seed)
    @settings(
        max_examples=budget,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
    )
    @given(st.data())
    def probe(data: Any) -> None:
        nonlocal count
        count += 1
        run = run_program(program, HypothesisChooser(data), record_where=False)
        if run.failed:
            last.append(run)
            raise _Found(run.kind or "")

    try:
        probe()
    except _Found:
        # Hypothesis re-runs the shrunk example last: that run is the minimal one.
        return last[-1], count
    return None, count


class _Found(Exception):
    pass


def fewest_preemptions(program: Program, found: Run, budget_per_bound: int = 3000) -> list[int]:
    """A failing schedule with as few preemptions as bounded search can find.

    Plain DFS with preemption bound b enumerates every schedule with at most b
    preemptions (CHESS), so trying b = 0, 1, ... below the failure's count
    yields a counterexample with the minimum number of preemptions whenever
    the bounded space fits the budget.
    """
    from racekit.sched.strategies.dfs import DFSStrategy

    have = found.result.preemptions
    for bound in range(have):
        strat = DFSStrategy(bound, por=False)
        for _ in range(budget_per_bound):
            chooser = strat.next_chooser()
            if chooser is None:
                break
            run = run_program(program, chooser, record_where=False, attach=strat.attach)
            strat.observe(run.result)
            if run.kind == found.kind:
                return run.choices
        else:
            return found.choices  # bounded space too large: keep what we have
    return found.choices


def minimize_choices(program: Program, choices: list[int], kind: str | None, max_runs: int = 400) -> list[int]:
    """Greedy shrinking of a failing choice list: shorter, then fewer non-zero choices.

    Choices past the end replay as 0 (boring), so truncation removes
    preemptions at the tail; zeroing a choice removes one preemption.
    Every candidate must fail with the same kind.
    """
    runs = 0

    def fails(cand: list[int]) -> bool:
        nonlocal runs
        runs += 1
        try:
            run = run_program(program, ReplayChooser(cand), record_where=False)
        except RacekitError:
            return False
        return run.kind == kind

    best = list(choices)
    # 1. shortest failing prefix
    lo = 0
    while lo < len(best) and runs < max_runs:
        if fails(best[:lo]):
            best = best[:lo]
            break
        lo += 1
    # 2. zero out / lower / delete single choices until nothing helps
    improved = True
    while improved and runs < max_runs:
        improved = False
        for i in range(len(best)):
            if best[i] == 0:
                continue
            for cand in (best[:i] + [0] + best[i + 1:], best[:i] + best[i + 1:], best[:i] + [best[i] - 1] + best[i + 1:]):
                if runs >= max_runs:
                    break
                if fails(cand):
                    best = cand
                    improved = True
                    break
            if improved:
                break
    while best and best[-1] == 0:
        best.pop()
    return best


# ------------------------------------------------------------ public API
def _program(
    setup: Callable[[], Any],
    threads: Callable[[Any], Sequence[Callable[[], Any]]],
    check: Check | None,
    trace: bool | Iterable[types.ModuleType],
    max_steps: int,
) -> Program:
    # What to trace and patch comes from the code itself (co_filename,
    # __globals__), not from sys.modules: see racekit/sched/scope.py.
    scope = scope_of(setup, threads, check)
    if trace is True:
        files = scope.files
    elif trace is False:
        files = frozenset()
    else:
        files = frozenset(m.__file__ for m in trace if m.__file__)

    def run_check(state: Any, result: RunResult) -> None:
        if check is not None:
            check(state)

    return Program(setup, threads, run_check, files, scope.namespaces, max_steps)


def explore(
    setup: Callable[[], Any],
    threads: Callable[[Any], Sequence[Callable[[], Any]]],
    check: Check | None = None,
    *,
    strategy: str = "dfs",
    budget: int | None = None,
    seed: int = 0,
    preemption_bound: int | None = None,
    trace: bool | Iterable[types.ModuleType] = True,
    max_steps: int = 20_000,
) -> ExploreResult:
    """Explore interleavings of plain ``threading`` code.

    ``setup()`` builds fresh state; ``threads(state)`` returns the thread
    bodies (zero-argument callables); ``check(state)`` raises AssertionError
    on a bug.  Opcode preemption covers the modules that define these
    callables (and user modules they reference) unless ``trace=False``.
    Strategies: ``dfs`` (exhaustive, DPOR + sleep sets), ``dfs-nopor``,
    ``pct``, ``random``, ``hypothesis``.
    """
    program = _program(setup, threads, check, trace, max_steps)
    return search(program, strategy, budget=budget, seed=seed, preemption_bound=preemption_bound)


def replay(
    setup: Callable[[], Any],
    threads: Callable[[Any], Sequence[Callable[[], Any]]],
    check: Check | None = None,
    choices: Sequence[int] = (),
    *,
    trace: bool | Iterable[types.ModuleType] = True,
    max_steps: int = 20_000,
) -> ExploreResult:
    """Re-run one recorded schedule and report what happens."""
    program = _program(setup, threads, check, trace, max_steps)
    run = replay_program(program, choices)
    return ExploreResult(
        run.failed, run.kind, run.message, 1, "replay", choices=list(choices),
        trace=run.trace(), preemptions=run.result.preemptions, first_failure=1 if run.failed else None,
        replay=f"racekit.replay(setup, threads, check, choices={list(choices)})", cycle=run.result.cycle,
    )


__all__ = ["ExploreResult", "Program", "explore", "replay", "run_program", "search"]
_ = sys
