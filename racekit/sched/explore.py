"""The one-call API: ``racekit.explore`` and ``racekit.replay``.

``explore(setup, threads, check)`` runs ``threads(setup())`` as logical
threads under a strategy until ``check`` fails, a thread raises, a deadlock
or livelock appears, or the budget is spent.  It is the thread engine with a
single fixed program: the same kernel loop, strategies and minimizer as
``racekit check`` (a program is an engine whose only scenario is itself).
The result carries the minimized choice list and the call that replays it,
and says honestly how much was covered.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from racekit.choice import Chooser, Coverage, Draw, Replay, Result
from racekit.choice.strategy import Progress
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.errors import UsageError
from racekit.sched.program import Program, Run, run_program
from racekit.sched.runtime import RunResult
from racekit.sched.scope import scope_of

Check = Callable[[Any], Any]


# ---------------------------------------------------------------- results
@dataclass
class ExploreResult:
    """What an exploration found.  ``failed`` False means none found in budget;
    ``coverage`` says how much was run ("exhaustively" only when all of it);
    ``warnings`` what a clean verdict must be read with (nothing interleaved)."""

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
    coverage: Coverage | None = None
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
            "coverage": self.coverage.describe() if self.coverage else None,
            "first_failure": self.first_failure,
            "seconds": round(self.seconds, 4),
            "replay": self.replay,
            "cycle": self.cycle,
            "warnings": self.warnings,
        }

    def __str__(self) -> str:
        if not self.failed:
            covered = self.coverage.describe() if self.coverage else f"{self.schedules} schedules"
            return "\n".join([f"no violation ({self.strategy}, {covered})", *(f"warning: {w}" for w in self.warnings)])
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


# ---------------------------------------------------- a program as engine
class ProgramSession:
    def __init__(self, program: Program) -> None:
        self.program = program

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        run = run_program(self.program, chooser, record_where=detail)
        return as_result(run, detail)


def as_result(run: Run, detail: bool = True) -> Result:
    r = run.result
    return Result(
        run.failed,
        run.kind,
        run.kind,
        run.message,
        engine="threads",
        trace=run.trace() if detail else [],
        stats={"preemptions": r.preemptions, "steps": len(r.steps), "cycle": r.cycle},
        steps=len(r.steps),
        pruned=r.sleep_blocked,
        events=r.steps,
        unfinished=r.unfinished,
        state=run.state,
        actors=r.ran_threads,
        shared_points=r.shared_points,
    )


class ProgramEngine:
    """One fixed program seen as an engine: its only scenario is itself."""

    system: ClassVar[System] = System(
        "program", "a plain threading program", "thr", [Variant("as_written", object, expect="correct")]
    )
    engine: ClassVar[str] = "threads"
    inner: ClassVar[str] = "dpor"
    unit: ClassVar[str] = "preemptions"

    def __init__(self, program: Program, budget: int, examples: int) -> None:
        self.program = program
        self.budget = budget
        self.examples = examples

    def plan(self, variant: Any, profile: Any) -> Plan:
        return Plan(phases=[Phase("bounded", self.budget)], fewest_runs=3000, choice_replays=400)

    def seed_scenarios(self, variant: Any) -> list[Any]:
        return [None]

    def draw(self, variant: Any, draw: Draw) -> Any:
        return None

    def shrink(self, variant: Any, scenario: Any) -> Iterable[Any]:
        return ()

    @contextmanager
    def session(self, variant: Any) -> Iterator[ProgramSession]:
        yield ProgramSession(self.program)

    def unavailable(self, variant: Any) -> str | None:
        return None

    def size(self, scenario: Any) -> int:
        return 0


AS_WRITTEN = ProgramEngine.system.variants[0]


def search(
    program: Program,
    strategy: str = "bounded",
    *,
    budget: int | None = None,
    seed: int = 0,
    preemption_bound: int | None = None,
    pct_depth: int = 3,
    max_bound: int = 2,
    minimize: bool = True,
    replay_hint: Callable[[list[int]], str] | None = None,
    progress: Progress | None = None,
) -> ExploreResult:
    """Explore schedules of ``program`` with one strategy until a failure or the budget."""
    from racekit import portfolio
    from racekit.choice.strategy import UnknownStrategy

    start = time.perf_counter()
    exhaustive = strategy in ("bounded", "dpor", "dfs")
    limit = budget if budget is not None else (10**9 if exhaustive else 1000)
    engine = ProgramEngine(program, limit, limit)
    plan = engine.plan(None, None)
    knobs = portfolio.knobs_for(engine, plan, seed=seed, bound=preemption_bound, pct_depth=pct_depth, max_bound=max_bound)
    if pct_depth < 1:
        raise UsageError(f"pct_depth must be at least 1, not {pct_depth}")
    session = ProgramSession(program)
    try:
        rep = portfolio.run_phase(engine, AS_WRITTEN, session, strategy, limit, knobs, seeds=[None], progress=progress)
    except UnknownStrategy as exc:
        raise UsageError(str(exc)) from None
    found = rep.found
    if found is None:
        return ExploreResult(
            False, None, "", rep.runs, strategy, exhausted=rep.coverage.exhaustive,
            seconds=time.perf_counter() - start, coverage=rep.coverage, warnings=rep.coverage.warnings,
        )
    choices = found.choices
    if minimize:
        _, choices, _ = portfolio.minimize(engine, AS_WRITTEN, session, plan, found)
    final = run_program(program, Replay(choices), record_where=True)
    if not final.failed:  # never drop a failure: keep the schedule that failed
        choices = found.choices
        final = run_program(program, Replay(choices), record_where=True)
    hint = replay_hint(choices) if replay_hint else f"racekit.replay(setup, threads, check, choices={choices})"
    return ExploreResult(
        True,
        final.kind,
        final.message,
        rep.runs,
        strategy,
        choices=list(choices),
        trace=final.trace(),
        preemptions=final.result.preemptions,
        first_failure=rep.first_hit,
        seconds=time.perf_counter() - start,
        replay=hint,
        cycle=final.result.cycle,
        coverage=rep.coverage,
    )


def replay_program(program: Program, choices: Sequence[int]) -> Run:
    """Re-run one schedule exactly (choices past the end of the list are 0)."""
    return run_program(program, Replay(choices), record_where=True)


# ------------------------------------------------------------ public API
def _program(
    setup: Callable[[], Any],
    threads: Callable[[Any], Sequence[Callable[[], Any]]],
    check: Check | None,
    trace: bool | Iterable[types.ModuleType],
    max_steps: int,
) -> Program:
    for name, fn in (("setup", setup), ("threads", threads)):
        if not callable(fn):
            raise UsageError(f"{name} must be a callable, not {fn!r}")
    if check is not None and not callable(check):
        raise UsageError(f"check must be a callable or None, not {check!r}")
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
    strategy: str = "bounded",
    budget: int | None = None,
    seed: int = 0,
    preemption_bound: int | None = None,
    pct_depth: int = 3,
    max_bound: int = 2,
    trace: bool | Iterable[types.ModuleType] = True,
    max_steps: int = 20_000,
    progress: Progress | None = None,
) -> ExploreResult:
    """Explore interleavings of plain ``threading`` code.

    ``setup()`` builds fresh state; ``threads(state)`` returns the thread
    bodies (zero-argument callables); ``check(state)`` raises AssertionError
    on a bug (any other exception is reported as a failure too, with its
    schedule).  Opcode preemption covers the code these callables come from
    and the user code their namespaces name (found from ``co_filename`` and
    ``__globals__``, so exec'd and notebook code too: ``sched/scope.py``)
    unless ``trace=False``.  A clean result in which two or more threads ran
    but nothing was interleaved says so in ``warnings``, never "exhaustively".

    Strategies (``racekit.choice.names()``): ``bounded`` (default: DPOR with
    at most 0, 1 ... ``max_bound`` preemptions, then unbounded - shallow
    bugs first), ``dpor`` (DPOR + sleep sets; ``preemption_bound`` bounds
    it), ``dfs`` (every schedule), ``pct`` (knob ``pct_depth``), ``random``,
    ``hypothesis``.  ``progress(strategy, runs, result)`` is called after
    every run.
    """
    program = _program(setup, threads, check, trace, max_steps)
    return search(
        program, strategy, budget=budget, seed=seed, preemption_bound=preemption_bound,
        pct_depth=pct_depth, max_bound=max_bound, progress=progress,
    )


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


__all__ = ["ExploreResult", "Program", "Run", "explore", "replay", "replay_program", "run_program", "search"]
