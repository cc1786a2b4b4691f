"""One run of an asyncio program on a controlled loop, and its verdict.

A :class:`Program` says what a run runs: ``setup()`` builds the state (it
may be a coroutine function; it runs on the loop in FIFO order, with no
choices), ``tasks(state)`` gives the coroutine functions started as the
run's top-level tasks, ``check(state, run)`` judges the end.  The run:

1. starts the tasks and runs the loop under the chooser until every
   top-level task is done, nothing can run (deadlock) or ``max_steps``
   callbacks ran (livelock);
2. *settles*: runs what is ready at that virtual instant (FIFO, no choices,
   time does not move), so a cancellation already requested is delivered;
   tasks still unfinished after that are *left running* (what the run
   reports in ``left``: "no call left running" is checked on it);
3. judges: deadlock / livelock / a top-level task or a callback that raised
   / ``check``;
4. tears down: cancels what is left, runs it out (FIFO, time moves),
   closes async generators and the loop - no task outlives its run.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.aio import waits
from racekit.aio.loop import ControlledLoop, LoopStep, NotModelled
from racekit.choice.chooser import Chooser, Prune
from racekit.errors import UsageError

TaskFn = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Verdict:
    """A failed run: ``property`` (what the catalogue calls it), ``kind``, one line of why."""

    property: str
    kind: str
    message: str


@dataclass
class Program:
    setup: Callable[[], Any]
    tasks: Callable[[Any], Sequence[TaskFn] | Mapping[str, TaskFn]]
    check: Callable[[Any, AioRun], Verdict | None] | None = None
    max_steps: int = 20_000


@dataclass
class Left:
    """A task unfinished when the run ended: its name, what it waits on, where."""

    name: str
    waits_on: str
    where: str
    cancelling: bool


@dataclass
class AioRun:
    """How one run went.  ``verdict`` None: clean.  ``time``: virtual seconds at the end."""

    verdict: Verdict | None
    steps: list[LoopStep]
    names: dict[int, str]
    time: float
    state: Any = None
    left: list[Left] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    pruned: bool = False
    waits: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.verdict is not None

    @property
    def deviations(self) -> int:
        return sum(1 for s in self.steps if s.deviation)

    def trace(self) -> list[dict[str, Any]]:
        return [
            {
                "step": s.index,
                "thread": s.actor,
                "name": self.names.get(s.actor, str(s.actor)),
                "what": s.what or s.callback or "run",
                "where": s.where,
                "preemption": s.deviation,
                "t": _fmt_time(s.time),
            }
            for s in self.steps
        ]


def _fmt_time(t: float) -> str:
    return f"{t:.6g}s"


def _describe(loop: ControlledLoop) -> Callable[[LoopStep, asyncio.Handle], None]:
    """Fill a step's words after it ran (detailed runs only)."""

    def describe(step: LoopStep, handle: asyncio.Handle) -> None:
        cb = handle._callback  # type: ignore[attr-defined]
        task = getattr(cb, "__self__", None)
        if isinstance(task, asyncio.Task):
            if task.done():
                if task.cancelled():
                    step.what = "finishes (cancelled)"
                elif task.exception() is not None:
                    exc = task.exception()
                    assert exc is not None
                    step.what = f"raises {waits.first_line(exc)}"[:120]
                    step.where = waits.raised_at(exc)
                else:
                    step.what = "finishes"
            else:
                step.what = f"runs to an await on {waits.waits_on(task)}"[:160]
                step.where = waits.where(task)
            return
        name = getattr(cb, "__qualname__", None) or type(cb).__name__
        step.what = _CALLBACKS.get(name, f"callback {name}")

    return describe


_CALLBACKS = {
    "_set_result_unless_cancelled": "timer: a sleep ends",
    "Timeout._on_timeout": "timer: asyncio.timeout() expires",
    "_release_waiter": "timer: wait_for / wait times out",
    "_GatheringFuture": "gather collects a result",
    "gather.<locals>._done_callback": "gather collects a result",
    "TaskGroup._on_task_done": "TaskGroup sees a child finish",
}


def run_program(program: Program, chooser: Chooser, *, detail: bool = False) -> AioRun:
    """Run ``program`` once under ``chooser`` (the only source of choices)."""
    loop = ControlledLoop(chooser, max_steps=program.max_steps, detail=detail)
    loop.describe_step = _describe(loop)
    try:
        return _run(loop, program)
    finally:
        _teardown(loop)


def _run(loop: ControlledLoop, program: Program) -> AioRun:
    loop.scripted = True
    state = program.setup()
    if inspect.isawaitable(state):
        state = loop.run_until_complete(loop.create_task(_awaited(state), name="setup"))
        loop.stuck = False
    fns = program.tasks(state)
    named = list(fns.items()) if isinstance(fns, Mapping) else [(None, fn) for fn in fns]
    top: list[asyncio.Task[Any]] = []
    coros: list[Awaitable[Any]] = []
    for i, (name, fn) in enumerate(named):
        if not callable(fn):
            raise UsageError(f"tasks(state) returned {fn!r} at position {i}: each task must be a coroutine function")
        coro = fn()
        if not inspect.isawaitable(coro):
            raise UsageError(f"task {name or i} returned {coro!r}, not an awaitable: pass `async def` functions")
        coros.append(coro)
        top.append(loop.create_task(_awaited(coro), name=str(name) if name is not None else f"T{i}"))
    loop.scripted = False
    loop.until = lambda: all(t.done() for t in top)
    pruned = False
    try:
        loop.run_forever()
    except Prune:
        pruned = True
    except BaseException:  # the strategy gave up on this run (Hypothesis overran its data...)
        _close_unstarted(coros)
        raise
    names = {a.id: a.name for a in loop.actors}
    if pruned:
        _close_unstarted(coros)
        return AioRun(None, loop.steps, names, loop.time(), state, pruned=True)
    _raise_not_modelled(loop, top)
    verdict: Verdict | None = None
    rows: list[dict[str, str]] = []
    if loop.livelock:
        running = [t.get_name() for t in top if not t.done()]
        verdict = Verdict(
            "livelock", "livelock",
            f"no end after {loop.max_steps} callbacks (virtual time {loop.time():.6g}s): a loop that never "
            f"blocks, or one that retries forever (unfinished: {', '.join(running)})",
        )
    elif loop.stuck:
        rows = _stuck_rows(loop)
        parts = [f"{r['task']} waits on {r['waits_on']}" + (f" at {r['where']}" if r["where"] else "") for r in rows]
        verdict = Verdict("deadlock", "deadlock", "nothing can run and no timer is set (" + "; ".join(parts) + ")")
    # settle: deliver what is already due at this instant (requested cancellations)
    loop.scripted = True
    loop.advance_time = False
    loop.until = lambda: False
    if verdict is None:
        loop.run_forever()
    left = [
        Left(t.get_name(), waits.waits_on(t), waits.where(t), t.cancelling() > 0)
        for t in _all_tasks(loop)
        if not t.done()
    ]
    results: dict[str, Any] = {}
    if verdict is None:
        verdict = _task_failures(top, results) or _callback_failure(loop)
    run = AioRun(verdict, loop.steps, names, loop.time(), state, left, results, waits=rows)
    if run.verdict is None and program.check is not None:
        try:
            run.verdict = program.check(state, run)
        except AssertionError as exc:
            run.verdict = Verdict("assertion", "assertion", str(exc) or "check failed")
        except Exception as exc:  # noqa: BLE001 - a check that raises is a failure with its schedule
            run.verdict = Verdict("check", "check", f"check raised {waits.first_line(exc)}")
    return run


async def _awaited(aw: Awaitable[Any]) -> Any:
    return await aw


def _close_unstarted(coros: list[Awaitable[Any]]) -> None:
    """A task cut off before its first step never awaited its coroutine: close it now, or
    Python warns "coroutine ... was never awaited" at some later, unrelated garbage collection."""
    for coro in coros:
        if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()


def _all_tasks(loop: ControlledLoop) -> list[asyncio.Task[Any]]:
    return [a.task for a in loop.actors if a.task is not None]


def _stuck_rows(loop: ControlledLoop) -> list[dict[str, str]]:
    return [
        {"task": t.get_name(), "waits_on": waits.waits_on(t), "where": waits.where(t)}
        for t in _all_tasks(loop)
        if not t.done()
    ]


def _task_failures(top: list[asyncio.Task[Any]], results: dict[str, Any]) -> Verdict | None:
    failure: Verdict | None = None
    for t in top:
        if not t.done():
            continue
        if t.cancelled():
            results[t.get_name()] = "cancelled"
            continue
        exc = t.exception()
        if exc is None:
            results[t.get_name()] = t.result()
        elif failure is None:
            at = waits.raised_at(exc)
            failure = Verdict(
                "exception", "exception", f"{t.get_name()} raised {waits.first_line(exc)}" + (f" at {at}" if at else "")
            )
    return failure


def _callback_failure(loop: ControlledLoop) -> Verdict | None:
    for ctx in loop.errors:
        exc = ctx.get("exception")
        text = waits.first_line(exc) if isinstance(exc, BaseException) else str(ctx.get("message", ""))
        return Verdict("exception", "exception", f"a callback raised {text}")
    return None


def _raise_not_modelled(loop: ControlledLoop, top: list[asyncio.Task[Any]]) -> None:
    for t in _all_tasks(loop):
        if t.done() and not t.cancelled() and isinstance(t.exception(), NotModelled):
            raise t.exception()  # type: ignore[misc]
    for ctx in loop.errors:
        if isinstance(ctx.get("exception"), NotModelled):
            raise ctx["exception"]


def _teardown(loop: ControlledLoop, max_steps: int = 10_000) -> None:
    """Cancel what is left and run it out, so no task outlives its run."""
    loop.scripted = True
    loop.advance_time = True
    loop.until = lambda: False
    try:
        pending = [t for t in _all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending and not loop.is_closed():
            loop.max_steps = max_steps
            done = loop.create_task(_gather_quietly(pending))
            loop.until = done.done
            loop.scripted = False  # count steps so a task that ignores cancellation cannot hang us
            loop.steps = []
            loop._chooser = loop._boring
            loop.run_forever()
        if not loop.is_closed():
            loop.scripted = True
            loop.run_until_complete(loop.shutdown_asyncgens())
    except Exception:  # noqa: BLE001 - finally blocks of cancelled code are not the run's verdict
        pass
    finally:
        if not loop.is_closed():
            loop.close()


async def _gather_quietly(tasks: list[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
