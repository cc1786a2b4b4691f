"""One controlled execution: logical threads, one running at a time.

Logical threads are greenlets on the calling OS thread.  A thread runs until
it reaches a *switch point* (a racekit primitive operation, ``yield_point()``,
or - with opcode tracing - a shared-memory opcode), announces what it is about
to do there, and hands the baton back to the scheduler loop in
:meth:`Execution.run`.  The loop asks the :class:`~racekit.sched.chooser.Chooser`
which enabled thread goes next.  Nothing else decides: same choices, same run.

Why greenlets: a baton pass between OS threads costs ~30 us on this machine,
a greenlet switch ~0.4 us (see benchmarks/scheduler.py).  The price is that
code under test must not block on a real OS lock while controlled; racekit
primitives (or ``threading`` patched by :mod:`racekit.sched.patching`) never do.

Step model: thread start runs eagerly up to the thread's first switch point,
so a *step* is "perform the announced access, then run local code up to the
next switch point".  A thread with k switch points has exactly k steps.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import greenlet

from racekit.errors import RacekitInternalError
from racekit.sched.access import Access
from racekit.sched.chooser import Chooser

_local = threading.local()


def current_execution() -> Execution | None:
    """The execution controlling the caller, or None in production mode."""
    ex: Execution | None = getattr(_local, "execution", None)
    if ex is not None and ex.controlled:
        return ex
    return None


class SleepBlocked(Exception):
    """Raised by a chooser to end an execution early: every enabled thread is
    asleep (DPOR), so the rest of the run is equivalent to one already seen."""


class ThreadKilled(greenlet.GreenletExit):  # type: ignore[misc]
    """Thrown into unfinished logical threads when a run ends."""


@dataclass(slots=True)
class ThreadState:
    """A logical thread.  ``pending``/``ready``/``deadline`` describe its switch point."""

    tid: int
    name: str
    fn: Callable[[], Any]
    daemon: bool = False
    glet: Any = None
    done: bool = False
    pending: Access | None = None
    ready: Callable[[], bool] | None = None
    deadline: int | None = None
    waiting_for: Any = None
    where: str = ""
    error: BaseException | None = None
    error_where: str = ""
    result: Any = None

    def enabled(self, clock: int) -> bool:
        if self.done:
            return False
        if self.ready is None or self.ready():
            return True
        return self.deadline is not None and clock >= self.deadline


@dataclass(slots=True)
class Step:
    """One scheduling decision as executed: who ran, doing what, and where."""

    index: int
    tid: int
    access: Access | None
    where: str
    enabled: tuple[int, ...]
    preemption: bool
    pending: dict[int, Access | None] = field(default_factory=dict)

    def to_json(self, names: dict[int, str]) -> dict[str, Any]:
        return {
            "step": self.index,
            "thread": self.tid,
            "name": names.get(self.tid, str(self.tid)),
            "what": self.access.describe() if self.access else "run",
            "where": self.where,
            "preemption": self.preemption,
        }


@dataclass
class RunResult:
    """How one execution ended.  ``kind`` is None when it ran to completion."""

    kind: str | None
    message: str
    steps: list[Step]
    threads: list[ThreadState]
    clock: int
    sleep_blocked: bool = False
    cycle: list[dict[str, str]] = field(default_factory=list)
    # threads that had not finished when the run ended (deadlock, failure,
    # step bound), with the access each was about to make; they are killed
    # at teardown, so ``threads`` shows them done.
    unfinished: dict[int, Access | None] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.kind is not None

    @property
    def preemptions(self) -> int:
        return sum(1 for s in self.steps if s.preemption)


class Execution:
    """Per-run state and the core loop.  Create one per schedule; never reuse."""

    def __init__(
        self,
        chooser: Chooser,
        *,
        max_steps: int = 20_000,
        trace_files: frozenset[str] | None = None,
        record_where: bool = True,
        record_pending: bool = False,
    ) -> None:
        self.chooser = chooser
        self.max_steps = max_steps
        self.trace_files = trace_files or frozenset()
        self.record_where = record_where
        self.record_pending = record_pending
        self.threads: list[ThreadState] = []
        self.steps: list[Step] = []
        self.clock = 0
        self.current: ThreadState | None = None
        self.controlled = False
        self.tearing_down = False
        self.objects: dict[int, Any] = {}
        self.names: dict[int, str] = {}
        # primitive objects touched in this run, so their final state can be
        # published back to them when the run ends (see racekit.sync.publish)
        self.prims: dict[int, Any] = {}
        self._prim_ids = 0
        self._objnums: dict[int, int] = {}
        self._objkeep: list[Any] = []
        self._sched_glet: Any = None
        self._failure: tuple[str, str] | None = None
        self._tracer: Any = None
        self.on_step: Callable[[Step], None] | None = None

    # -- primitives register themselves here (handles, not exploration state)
    def new_prim_id(self) -> int:
        self._prim_ids += 1
        return self._prim_ids

    def objnum(self, obj: Any) -> int:
        """A number for ``obj``, in order of first access in this run.

        Access keys name objects by it, so they compare across runs of one
        schedule prefix (``id()`` does not).  The object is kept alive until
        the run ends so its id is not reused for another one.
        """
        n = self._objnums.get(id(obj))
        if n is None:
            self._objkeep.append(obj)
            n = self._objnums[id(obj)] = len(self._objkeep)
        return n

    # ------------------------------------------------------------------ spawn
    def spawn(self, fn: Callable[[], Any], name: str | None = None, daemon: bool = False) -> ThreadState:
        """Add a logical thread and run it eagerly to its first switch point."""
        tid = len(self.threads)
        t = ThreadState(tid, name or f"T{tid}", fn, daemon)
        t.glet = greenlet.greenlet(self._body(t), parent=greenlet.getcurrent())
        self.threads.append(t)
        if self._sched_glet is not None:
            spawner = self.current
            self._resume(t)
            self.current = spawner
        return t

    def _body(self, t: ThreadState) -> Callable[[], None]:
        def body() -> None:
            try:
                t.result = t.fn()
            except greenlet.GreenletExit:
                raise
            except BaseException as exc:  # noqa: BLE001 - a thread's exception is a result
                t.error = exc
                t.error_where = _where_of_traceback(exc)
                if self._failure is None and not self.tearing_down:
                    self._failure = ("exception", f"{t.name} raised {type(exc).__name__}: {exc}")
            finally:
                t.done = True
                t.pending = None
                t.ready = None

        return body

    # ------------------------------------------------------- the core loop
    def run(self) -> RunResult:
        """Run every thread to completion, deadlock, failure or the step bound.

        This ``while`` loop is the whole scheduler: compute the enabled
        threads, ask the chooser, resume the chosen one until its next switch
        point.  When nothing is enabled, virtual time jumps to the earliest
        timed wait; if there is none, it is a deadlock.
        """
        kind: str | None = None
        message = ""
        cycle: list[dict[str, str]] = []
        sleep_blocked = False
        self.begin()
        try:
            while self._failure is None:
                options = self.options()
                if not options:
                    if self.quiescent():
                        break
                    kind, message, cycle = "deadlock", *self._describe_deadlock()
                    break
                if len(self.steps) >= self.max_steps:
                    kind, message = "livelock", self.livelock_message()
                    break
                try:
                    index = self.chooser.choose(options, "thread")
                except SleepBlocked:
                    sleep_blocked = True
                    break
                self.step(options[index], tuple(sorted(options)))
            if self._failure is not None and kind is None:
                kind, message = self._failure
        finally:
            unfinished = {t.tid: t.pending for t in self.threads if not t.done}
            self.end()
        return RunResult(kind, message, self.steps, self.threads, self.clock, sleep_blocked, cycle, unfinished)

    # ------------------------------------------- stepping API (used by run()
    # and by the Hypothesis state machine, which makes the choices itself)
    def begin(self) -> None:
        """Take control: start threads spawned so far up to their first switch point."""
        if getattr(_local, "execution", None) is not None:
            raise RacekitInternalError("nested controlled executions are not supported")
        _local.execution = self
        self._sched_glet = greenlet.getcurrent()
        self._install_tracer()
        for t in list(self.threads):
            if not t.glet and not t.glet.dead:
                spawner = self.current
                self._resume(t)
                self.current = spawner
        self.current = None  # the first choice is not a preemption of anyone

    def options(self) -> tuple[int, ...]:
        """Enabled threads, current first (option 0 = no preemption).

        When none is enabled but some non-daemon thread waits with a timeout,
        virtual time jumps to the earliest deadline.  Empty: nothing can run.
        """
        while True:
            enabled = self._enabled()
            if enabled:
                return self._order(enabled)
            if self.quiescent() or not self._advance_clock():
                return ()

    def quiescent(self) -> bool:
        """True when every non-daemon thread has finished."""
        return all(t.done or t.daemon for t in self.threads)

    def step(self, tid: int, enabled: tuple[int, ...] | None = None) -> Step:
        """Run thread ``tid`` (which must be enabled) to its next switch point."""
        t = self.threads[tid]
        prev = self.current
        if enabled is None:
            enabled = tuple(self._enabled())
        preemption = prev is not None and prev is not t and prev.tid in enabled
        step = Step(
            len(self.steps),
            t.tid,
            t.pending,
            t.where,
            enabled,
            preemption,
            {u.tid: u.pending for u in self.threads if not u.done} if self.record_pending else {},
        )
        self.steps.append(step)
        if self.on_step is not None:
            self.on_step(step)
        self._resume(t)
        return step

    @property
    def failure(self) -> tuple[str, str] | None:
        return self._failure

    def livelock_message(self) -> str:
        return (
            f"no progress after {self.max_steps} steps: a spin-wait or retry loop never ends "
            f"(threads still running: {', '.join(t.name for t in self.threads if not t.done)})"
        )

    def deadlock(self) -> tuple[str, list[dict[str, str]]]:
        """Describe why nothing can run (the wait-for cycle if there is one)."""
        return self._describe_deadlock()

    def end(self) -> None:
        """Give control back: stop tracing, kill unfinished threads.

        The final state of the primitives is then published to the objects
        themselves, so a check that runs after the execution (with no
        execution active) sees the run's Atomic values, queue contents, etc.
        """
        try:
            self._uninstall_tracer()
            self._teardown()
        finally:
            _local.execution = None
            from racekit.sync import publish

            publish(self)

    def _enabled(self) -> list[int]:
        clock = self.clock
        return [t.tid for t in self.threads if t.enabled(clock)]

    def _order(self, enabled: list[int]) -> tuple[int, ...]:
        """Option 0 is the boring choice: keep running the current thread."""
        cur = self.current
        if cur is not None and not cur.done and cur.tid in enabled and enabled[0] != cur.tid:
            return (cur.tid, *[e for e in enabled if e != cur.tid])
        return tuple(enabled)

    def _advance_clock(self) -> bool:
        deadlines = [t.deadline for t in self.threads if not t.done and t.deadline is not None]
        if not deadlines:
            return False
        self.clock = max(self.clock, min(deadlines))
        return True

    def _resume(self, t: ThreadState) -> None:
        self.current = t
        was = self.controlled
        self.controlled = True
        # Opcode tracing is on only while a logical thread runs: the scheduler
        # loop and the chooser (Hypothesis draws, DPOR bookkeeping) would
        # otherwise pay a trace call for every Python call they make.
        tracer = self._tracer
        if tracer is None:
            try:
                t.glet.switch()
            finally:
                self.controlled = was
            return
        prev = sys.gettrace()
        sys.settrace(tracer.global_trace)
        try:
            t.glet.switch()
        finally:
            self.controlled = was
            sys.settrace(prev)

    # ---------------------------------------------------- thread-side calls
    def switch_point(
        self,
        access: Access | None,
        ready: Callable[[], bool] | None = None,
        deadline: int | None = None,
        waiting_for: Any = None,
        where: str | None = None,
        depth: int = 2,
    ) -> bool:
        """Pause the calling logical thread before it makes ``access``.

        Returns True when the thread resumed because ``ready()`` held (or no
        condition was given), False when its ``deadline`` passed first.
        """
        t = self.current
        if t is None or self.tearing_down:
            if ready is not None and not ready():
                raise ThreadKilled()
            return True
        t.pending = access
        t.ready = ready
        t.deadline = deadline
        t.waiting_for = waiting_for
        if self.record_where:
            t.where = where if where is not None else _user_where(depth)
        self._pause(t)
        ok = ready is None or ready()
        t.ready = None
        t.deadline = None
        t.waiting_for = None
        if self.tearing_down:
            raise ThreadKilled()
        return ok

    def _pause(self, t: ThreadState) -> None:
        parent = t.glet.parent
        tracer = self._tracer
        if tracer is not None and tracer.in_callback:
            # Inside an opcode trace callback CPython suppresses tracing; switch
            # through sys.call_tracing so the other greenlets stay traced.
            tracer.in_callback = False
            sys.call_tracing(tracer.pause_from_callback, (parent,))
        else:
            parent.switch()
        if self.current is not t:
            raise RacekitInternalError(f"{t.name} resumed while {self.current} was scheduled")
        if t.glet.parent is not self._sched_glet:
            t.glet.parent = self._sched_glet

    def fail(self, kind: str, message: str) -> None:
        """Record a failure found inside a thread (first one wins)."""
        if self._failure is None:
            self._failure = (kind, message)

    # ------------------------------------------------------------- tracing
    def _install_tracer(self) -> None:
        if self.trace_files:
            from racekit.sched.tracing import OpcodeTracer

            self._tracer = OpcodeTracer(self, self.trace_files)
            self._tracer.install()

    def _uninstall_tracer(self) -> None:
        if self._tracer is not None:
            self._tracer.uninstall()
            self._tracer = None

    # ----------------------------------------------------------- teardown
    def _teardown(self) -> None:
        """Kill every unfinished logical thread so none outlives the run."""
        self.tearing_down = True
        self.controlled = True
        try:
            for t in self.threads:
                if t.glet is not None and not t.glet.dead:
                    self.current = t
                    try:
                        t.glet.throw(ThreadKilled())
                    except ThreadKilled:
                        pass
                    except BaseException:  # noqa: BLE001 - finally blocks of killed threads
                        pass
                t.done = True
        finally:
            self.controlled = False
            self.current = None

    # ------------------------------------------------------------ deadlock
    def _describe_deadlock(self) -> tuple[str, list[dict[str, str]]]:
        """Name the wait-for cycle: who holds what, who wants what, where."""
        from racekit.sync import owner_of

        stuck = [t for t in self.threads if not t.done and not t.daemon]
        edges: dict[int, int] = {}
        for t in stuck:
            owner = owner_of(t.waiting_for)
            if owner is not None and owner != t.tid:
                edges[t.tid] = owner
        cycle_ids: list[int] = []
        for start in edges:
            seen: list[int] = []
            node: int | None = start
            while node is not None and node not in seen:
                seen.append(node)
                node = edges.get(node)
            if node is not None:
                cycle_ids = seen[seen.index(node):]
                break
        rows: list[dict[str, str]] = []
        for tid in cycle_ids or [t.tid for t in stuck]:
            t = self.threads[tid]
            held = ", ".join(_held_by(t.tid)) or "nothing"
            rows.append(
                {
                    "thread": t.name,
                    "holds": held,
                    "wants": _describe(t.waiting_for),
                    "where": t.where,
                }
            )
        if cycle_ids:
            parts = [f"{r['thread']} holds {r['holds']} and wants {r['wants']} at {r['where']}" for r in rows]
            return "deadlock: " + "; ".join(parts), rows
        parts = [
            f"{r['thread']} waits for {r['wants']}" + (f" at {r['where']}" if r["where"] else "")
            for r in rows
            if r["wants"] != "nothing" or r["where"]
        ] or [f"{r['thread']} cannot run" for r in rows]
        return "hang: no thread can run (" + "; ".join(parts) + ")", rows


def _held_by(tid: int) -> list[str]:
    from racekit.sync import held_by

    return held_by(tid)


def _describe(obj: Any) -> str:
    if obj is None:
        return "nothing"
    name = getattr(obj, "racekit_name", None)
    return str(name) if name else type(obj).__name__


_RACEKIT_DIR = __file__.rsplit("/", 2)[0] + "/"


def _user_where(depth: int) -> str:
    """file:line of the innermost frame outside racekit (the user's code)."""
    try:
        f = sys._getframe(depth)
    except ValueError:
        return "?"
    while f is not None and f.f_code.co_filename.startswith(_RACEKIT_DIR):
        f = f.f_back  # type: ignore[assignment]
    if f is None:
        return "?"
    return f"{_short(f.f_code.co_filename)}:{f.f_lineno}"


def _short(path: str) -> str:
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _where_of_traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = "?"
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if not fn.startswith(_RACEKIT_DIR):
            last = f"{_short(fn)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return last


def thread_names(threads: list[ThreadState]) -> dict[int, str]:
    return {t.tid: t.name for t in threads}


Label = Hashable
