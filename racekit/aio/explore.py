"""The one-call API for asyncio code: ``racekit.explore_async`` and ``racekit.replay_async``.

``explore_async(setup, tasks, check)`` mirrors :func:`racekit.explore`:
``tasks(setup())`` are coroutine functions started as tasks on a controlled
loop (:mod:`racekit.aio.loop`); the same kernel loop, strategies and
minimizer as every engine search the orders in which ready tasks run,
until ``check(state)`` fails, a task raises, a deadlock or livelock
appears, or the budget is spent.  The result carries the minimized choice
list, the call that replays it, and an honest coverage sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from racekit.aio.run import AioRun, Program, TaskFn, Verdict, run_program
from racekit.choice import Chooser, Draw, Replay, Result
from racekit.choice.strategy import Progress
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.errors import UsageError
from racekit.sched.explore import ExploreResult

Tasks = Callable[[Any], Sequence[TaskFn] | Mapping[str, TaskFn]]


def as_result(run: AioRun, *, detail: bool, engine: str = "aio") -> Result:
    v = run.verdict
    return Result(
        v is not None,
        v.kind if v else None,
        v.property if v else None,
        v.message if v else "",
        engine=engine,
        trace=run.trace() if detail else [],
        stats={"preemptions": run.deviations, "steps": len(run.steps), "virtual_time": run.time},
        steps=len(run.steps),
        pruned=run.pruned,
        state=run,
    )


class ProgramSession:
    def __init__(self, program: Program) -> None:
        self.program = program

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        return as_result(run_program(self.program, chooser, detail=detail), detail=detail)


class ProgramEngine:
    """One fixed asyncio program seen as an engine: its only scenario is itself."""

    system: ClassVar[System] = System(
        "async_program", "a plain asyncio program", "aio", [Variant("as_written", object, expect="correct")]
    )
    engine: ClassVar[str] = "aio"
    inner: ClassVar[str] = "dfs"
    unit: ClassVar[str] = "reorderings"

    def __init__(self, program: Program, budget: int) -> None:
        self.program = program
        self.budget = budget

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


def _program(setup: Callable[[], Any], tasks: Tasks, check: Callable[[Any], Any] | None, max_steps: int) -> Program:
    for name, fn in (("setup", setup), ("tasks", tasks)):
        if not callable(fn):
            raise UsageError(f"{name} must be a callable, not {fn!r}")
    if check is not None and not callable(check):
        raise UsageError(f"check must be a callable or None, not {check!r}")
    if max_steps < 1:
        raise UsageError(f"max_steps must be at least 1, not {max_steps}")

    def judge(state: Any, run: AioRun) -> Verdict | None:
        if check is not None:
            check(state)
        return None

    return Program(setup, tasks, judge, max_steps)


def explore_async(
    setup: Callable[[], Any],
    tasks: Tasks,
    check: Callable[[Any], Any] | None = None,
    *,
    strategy: str = "bounded",
    budget: int | None = None,
    seed: int = 0,
    preemption_bound: int | None = None,
    pct_depth: int = 3,
    max_bound: int = 2,
    minimize: bool = True,
    max_steps: int = 20_000,
    progress: Progress | None = None,
) -> ExploreResult:
    """Explore the orders in which the ready tasks of plain asyncio code run.

    ``setup()`` builds fresh state (a coroutine function is fine: it runs on
    the controlled loop first); ``tasks(state)`` returns coroutine functions
    (zero-argument ``async def``s; a dict names them); ``check(state)``
    raises AssertionError on a bug.  Strategies and knobs are those of
    :func:`racekit.explore`; a *preemption* here is a *reordering*: running
    a ready task other than the one asyncio's FIFO would run next
    (``preemption_bound`` bounds them).  Virtual time: sleeps and timeouts
    cost nothing.  ``dpor`` and ``pct`` need the thread engine's per-step
    view and are refused (docs/aio.md says why): the default ``bounded``
    drives prefix DFS.
    """
    from racekit import portfolio
    from racekit.choice.strategy import UnknownStrategy, names

    if pct_depth < 1:
        raise UsageError(f"pct_depth must be at least 1, not {pct_depth}")
    program = _program(setup, tasks, check, max_steps)
    start = time.perf_counter()
    exhaustive = strategy in ("bounded", "dpor", "dfs")
    limit = budget if budget is not None else (10**9 if exhaustive else 1000)
    engine = ProgramEngine(program, limit)
    plan = engine.plan(None, None)
    knobs = portfolio.knobs_for(engine, plan, seed=seed, bound=preemption_bound, pct_depth=pct_depth, max_bound=max_bound)
    session = ProgramSession(program)
    try:
        rep = portfolio.run_phase(engine, AS_WRITTEN, session, strategy, limit, knobs, seeds=[None], progress=progress)
    except UnknownStrategy as exc:
        if strategy in names():
            raise UsageError(
                f"strategy {strategy!r} needs the thread engine's per-step view, which racekit.aio does not give "
                "(docs/aio.md); use bounded, dfs, random or hypothesis"
            ) from None
        raise UsageError(str(exc)) from None
    found = rep.found
    if found is None:
        return ExploreResult(
            False, None, "", rep.runs, strategy, exhausted=rep.coverage.exhaustive,
            seconds=time.perf_counter() - start, coverage=rep.coverage,
        )
    choices = found.choices
    if minimize:
        _, choices, _ = portfolio.minimize(engine, AS_WRITTEN, session, plan, found)
    final = run_program(program, Replay(choices), detail=True)
    if not final.failed:  # never drop a failure: keep the schedule that failed
        choices = found.choices
        final = run_program(program, Replay(choices), detail=True)
    assert final.verdict is not None
    return ExploreResult(
        True,
        final.verdict.kind,
        final.verdict.message,
        rep.runs,
        strategy,
        choices=list(choices),
        trace=final.trace(),
        preemptions=final.deviations,
        first_failure=rep.first_hit,
        seconds=time.perf_counter() - start,
        replay=f"racekit.replay_async(setup, tasks, check, choices={list(choices)})",
        cycle=final.waits,
        coverage=rep.coverage,
    )


def replay_async(
    setup: Callable[[], Any],
    tasks: Tasks,
    check: Callable[[Any], Any] | None = None,
    choices: Sequence[int] = (),
    *,
    max_steps: int = 20_000,
) -> ExploreResult:
    """Re-run one recorded order and report what happens (choices past the end are 0: FIFO)."""
    program = _program(setup, tasks, check, max_steps)
    run = run_program(program, Replay(choices), detail=True)
    v = run.verdict
    return ExploreResult(
        v is not None, v.kind if v else None, v.message if v else "", 1, "replay", choices=list(choices),
        trace=run.trace(), preemptions=run.deviations, first_failure=1 if v else None,
        replay=f"racekit.replay_async(setup, tasks, check, choices={list(choices)})", cycle=run.waits,
    )
