"""One controlled execution: logical threads, one running at a time.

Logical threads are greenlets on the calling OS thread.  A thread runs until
it reaches a *switch point* (a racekit primitive operation, ``yield_point()``,
or - with opcode tracing - a shared-memory opcode), announces what it is about
to do there, and hands the baton back to the scheduler loop in
:meth:`Execution.run`.  The loop asks the :class:`~racekit.choice.Chooser`
which enabled thread goes next.  Nothing else decides: same choices, same run.

Why greenlets: a baton pass between OS threads costs ~25-30 us on this
machine, a greenlet switch ~0.15 us (see benchmarks/scheduler.py).  The price is that
code under test must not block on a real OS lock while controlled; racekit
primitives (or ``threading`` patched by :mod:`racekit.sched.patching`) never do.

Step model: thread start runs eagerly up to the thread's first switch point,
so a *step* is "perform the announced access, then run local code up to the
next switch point".  A thread with k switch points has exactly k steps.

Also here, because they are decisions about which thread may run: fair
scheduling of spin loops (a thread whose state provably repeats is passed
over; see :meth:`Execution.options`), the step bound and the wall-clock
alarm (:mod:`racekit.sched.watchdog`), and ``KeyboardInterrupt``, which ends
the run and propagates instead of being a thread's result.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import FrameType, MappingProxyType
from typing import Any, NamedTuple

import greenlet

from racekit.choice.chooser import Chooser, Prune
from racekit.errors import HarnessError, RacekitInternalError
from racekit.sched.access import Access
from racekit.sched.watchdog import WallClockExpired, armed

_local = threading.local()


def current_execution() -> Execution | None:
    """The execution controlling the caller, or None in production mode."""
    ex: Execution | None = getattr(_local, "execution", None)
    if ex is not None and ex.controlled:
        return ex
    return None


SleepBlocked = Prune  # a chooser ends the run early: every enabled thread is asleep (DPOR)


class ThreadKilled(greenlet.GreenletExit):  # type: ignore[misc]
    """Thrown into unfinished logical threads when a run ends."""


class HarnessAbort(BaseException):  # noqa: N818 - a BaseException so user code does not catch it
    """Raised in a logical thread when racekit cannot go on with the run (a
    real lock contended by two logical threads): :meth:`Execution.run`
    turns it into a :class:`~racekit.errors.HarnessError` with its message."""


@dataclass(slots=True, eq=False)
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
    # A helper the program does not wait for when it ends (a thread pool's
    # worker): once every other thread has finished, the run ends as soon as
    # no helper can run - work still queued is done first, as at exit.
    service: bool = False
    handle: Any = None  # what threading.current_thread() returns in it
    # Spin detection (see Execution.options): the accesses this thread made
    # since the last progress step (epoch ``spin_epoch``), how many repeated,
    # snapshots of its frames sampled at some of the repeats, and whether it
    # was caught in a cycle.
    spin_epoch: int = -1
    spin_seen: set[Access | None] = field(default_factory=set)
    spin_last: Any = None  # the access of the last spin check (None: "run", also fine)
    spin_repeats: int = 0
    spin_next: int = 1  # the repeat count at which the next snapshot is taken
    spin_snaps: dict[Hashable, int] = field(default_factory=dict)
    spinning: bool = False
    spin_clock: bool = False
    # clock reads made in step number ``poll_step`` (see racekit.sync.monotonic)
    poll_step: int = -1
    polls: int = 0

    def enabled(self, clock: int) -> bool:
        if self.done:
            return False
        if self.ready is None or self.ready():
            return True
        return self.deadline is not None and clock >= self.deadline


_NO_PENDING: Mapping[int, Access | None] = MappingProxyType({})


class Step(NamedTuple):
    """One scheduling decision as executed: who ran, doing what, and where.

    A named tuple built with ``tuple.__new__`` (no ``__init__`` call): one
    is made per step, and its construction is part of every controlled switch.
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index, as it always has
    tid: int
    access: Access | None
    where: str
    enabled: tuple[int, ...]
    preemption: bool
    pending: Mapping[int, Access | None] = _NO_PENDING

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
    # Steps that touched shared state (an attribute, container, global,
    # primitive or opaque call) or an explicit ``yield_point()`` (the user's
    # own switch point between untraced code): 0 with two or more threads
    # means nothing was interleaved, and a clean verdict says nothing
    # (vacuity).
    shared_points: int = 0
    # How often a thread caught spinning (see Execution.options) was passed
    # over for one that could make progress: the run was made fair.
    fair_yields: int = 0

    @property
    def failed(self) -> bool:
        return self.kind is not None

    @property
    def preemptions(self) -> int:
        return sum(1 for s in self.steps if s.preemption)

    @property
    def ran_threads(self) -> int:
        """Logical threads that ran (each runs from its start to its first
        switch point when spawned, so every one did)."""
        return len(self.threads)


_new_step = tuple.__new__

# Access kinds that touch state other threads can see (outside services
# included: ``sync.external``), and explicit yield
# points: the untraced code between a thread's yields is interleaved there
# (the manual-instrumentation style), so a run that reached one is not vacuous.
_SHARED = frozenset({"prim", "attr", "item", "global", "*", "yield", "external"})
# Virtual time a clock-polling spin loop is let pass per round (doubling).
_CLOCK_QUANTUM = 1_000_000


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
        wall_timeout: float | None = None,
    ) -> None:
        self.chooser = chooser
        self.max_steps = max_steps
        self.trace_files = trace_files or frozenset()
        self.record_where = record_where
        self.record_pending = record_pending
        self.wall_timeout = wall_timeout
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
        self._objnums: dict[int, int] = {}
        self._objkeep: list[Any] = []
        self._sched_glet: Any = None
        self._failure: tuple[str, str] | None = None
        self._tracer: Any = None
        self.on_step: Callable[[Step], None] | None = None
        self._live: list[ThreadState] = []  # threads not done, in tid order
        self._live_tids: tuple[int, ...] = ()
        self._current_first: dict[int, tuple[int, ...]] = {}  # options with a given thread first
        self._waiting = 0  # live threads paused on a condition (ready is not None)
        self._enabled_now: tuple[int, ...] = ()
        # progress epochs: bumped by every step that changes shared state
        self.epoch = 0
        self._quantum = _CLOCK_QUANTUM
        self._livelock: str | None = None
        self._spin_marks = 0  # threads ever caught spinning: fairness is checked only then
        self.fair_yields = 0
        self._interrupt: BaseException | None = None

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
        if not callable(fn):
            raise ValueError(f"a logical thread must be a zero-argument callable, not {fn!r}")
        tid = len(self.threads)
        t = ThreadState(tid, name or f"T{tid}", fn, daemon)
        t.glet = greenlet.greenlet(self._body(t), parent=greenlet.getcurrent())
        self.threads.append(t)
        self._live.append(t)
        self._live_changed()
        if self._sched_glet is not None:
            spawner = self.current
            self._resume(t)
            self.current = spawner
        return t

    def _body(self, t: ThreadState) -> Callable[[], None]:
        def body() -> None:
            try:
                t.result = t.fn()
            except (greenlet.GreenletExit, KeyboardInterrupt, WallClockExpired, HarnessAbort):
                # not a result of the thread: end the run (KeyboardInterrupt
                # and the wall-clock alarm propagate out of Execution.run)
                raise
            except BaseException as exc:  # noqa: BLE001 - a thread's exception is a result
                t.error = exc
                t.error_where = _where_of_traceback(exc)
                if self._failure is None and not self.tearing_down:
                    self._failure = ("exception", f"{t.name} raised {type(exc).__name__}: {exc}")
            finally:
                t.done = True
                t.pending = None
                if t.ready is not None:
                    t.ready = None
                    self._waiting -= 1
                if t in self._live:
                    self._live.remove(t)
                    self._live_changed()

        return body

    # ------------------------------------------------------- the core loop
    def run(self) -> RunResult:
        """Run every thread to completion, deadlock, failure or the step bound.

        This ``while`` loop is the whole scheduler: compute the enabled
        threads, ask the chooser, resume the chosen one until its next switch
        point.  When nothing is enabled, virtual time jumps to the earliest
        timed wait; if there is none, it is a deadlock.

        KeyboardInterrupt in a logical thread or the chooser propagates (the
        run is torn down first).  A run that blocks the OS thread for
        ``wall_timeout`` seconds raises :class:`~racekit.errors.HarnessError`.
        """
        return self._finish(begin=True)

    def finish(self) -> RunResult:
        """The loop of :meth:`run`, for an execution already begun (the live
        state machine steps threads itself, then finishes here: one loop)."""
        return self._finish(begin=False)

    def _finish(self, *, begin: bool) -> RunResult:
        kind: str | None = None
        message = ""
        cycle: list[dict[str, str]] = []
        sleep_blocked = False
        try:
            with armed(self.wall_timeout):
                if begin:
                    self.begin()
                kind, message, cycle, sleep_blocked = self._loop()
        except HarnessAbort as exc:
            self.end()
            raise HarnessError(str(exc)) from None
        except WallClockExpired:
            where = self.current.where if self.current is not None else ""
            who = self.current.name if self.current is not None else "the scheduler"
            self.end()
            raise HarnessError(
                f"{who} blocked the run for {armed(self.wall_timeout).seconds:g} s of wall time"
                + (f" after its switch point at {where}" if where else "")
                + ": a real blocking call (a lock racekit could not swap, a socket, a sleep"
                " from an unpatched module) or a loop with no switch point; racekit cannot"
                " schedule around it"
            ) from None
        finally:
            unfinished = {t.tid: t.pending for t in self.threads if not t.done}
            if _local.__dict__.get("execution") is self:
                self.end()
        if self._interrupt is not None:
            raise self._interrupt
        return RunResult(
            kind, message, self.steps, self.threads, self.clock, sleep_blocked, cycle, unfinished,
            self.count_shared_points(), self.fair_yields,
        )

    def _loop(self) -> tuple[str | None, str, list[dict[str, str]], bool]:
        """The scheduler proper: :meth:`options`, the chooser, :meth:`step`.

        The common case (nobody waits, nobody spins) and the step itself are
        written out inline: every controlled switch runs this code, and
        method calls are a third of its cost (see docs/scheduler.md).
        """
        choose = self.chooser.choose
        steps = self.steps
        threads = self.threads
        max_steps = self.max_steps
        record_pending = self.record_pending
        tracer = self._tracer
        while self._failure is None:
            tids = self._live_tids
            if not self._waiting and not self._spin_marks and tids:
                enabled = self._enabled_now = tids
                cur = self.current
                if cur is None or cur.tid == tids[0] or cur.done:
                    options = tids
                else:
                    options = self._current_first.get(cur.tid) or self.options()
            else:
                options = self.options()
                enabled = self._enabled_now
                if not options:
                    if self.quiescent():
                        break
                    message, cycle = self._describe_deadlock()
                    return "deadlock", message, cycle, False
                if self._livelock is not None:
                    return "livelock", self._livelock, [], False
            n = len(steps)
            if n >= max_steps:
                return "livelock", self.livelock_message(), [], False
            try:
                tid = options[choose(options, "thread")]
            except SleepBlocked:
                return None, "", [], True
            # -- step(tid), inline
            t = threads[tid]
            access = t.pending
            prev = self.current
            steps.append(
                _new_step(
                    Step,
                    (
                        n,
                        tid,
                        access,
                        t.where,
                        enabled,
                        prev is not None and prev is not t and prev.tid in enabled,
                        self._pending_now() if record_pending else _NO_PENDING,
                    ),
                )
            )
            if access is not None and access.write:
                self.epoch += 1
                if access.progress:
                    self._quantum = _CLOCK_QUANTUM
                elif t.spin_epoch == self.epoch - 1:
                    t.spin_epoch = self.epoch
            if self.on_step is not None:
                self.on_step(steps[-1])
            # -- _resume(t), inline (the scheduler itself is never controlled)
            self.current = t
            self.controlled = True
            if tracer is None:
                t.glet.switch()
                self.controlled = False
            else:
                before = sys.gettrace()
                sys.settrace(tracer.global_trace)
                try:
                    t.glet.switch()
                finally:
                    self.controlled = False
                    sys.settrace(before)
        kind, message = self._failure if self._failure is not None else (None, "")
        return kind, message, [], False

    def count_shared_points(self) -> int:
        """Steps so far that touched shared state (counted once, at the end of a run)."""
        shared = _SHARED
        return sum(1 for st in self.steps if st.access is not None and st.access.key[0] in shared)

    def _pending_now(self) -> dict[int, Access | None]:
        return {u.tid: u.pending for u in self.threads if not u.done}

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

        When none is enabled but some thread waits with a timeout, virtual
        time jumps to the earliest deadline.  Empty: nothing can run.

        Fairness: a thread caught in a cycle - back at the same switch point
        with the same local state and no shared state changed since - can do
        nothing new until another thread changes something, so while any
        other thread can run it is passed over (CHESS's fair scheduling,
        with "same state" instead of a yield annotation).  When every
        enabled thread spins, time passes to the next timeout, a thread
        polling the clock sees it move, or else it is a livelock.
        """
        if not self._waiting and not self._spin_marks:
            # fast path: nobody waits on anything, so every live thread can run
            tids = self._live_tids
            if tids:
                self._enabled_now = tids
                cur = self.current
                if cur is None or cur.tid == tids[0] or cur.done:
                    return tids
                first = self._current_first.get(cur.tid)
                if first is None:
                    first = self._current_first[cur.tid] = (cur.tid, *[x for x in tids if x != cur.tid])
                return first
        while True:
            clock = self.clock
            enabled = [
                t for t in self._live if t.ready is None or t.ready() or (t.deadline is not None and clock >= t.deadline)
            ]
            if enabled:
                epoch = self.epoch
                spinning = [t for t in enabled if t.spinning and t.spin_epoch == epoch] if self._spin_marks else None
                if spinning:
                    if len(spinning) < len(enabled):
                        self.fair_yields += 1
                        enabled = [t for t in enabled if not (t.spinning and t.spin_epoch == epoch)]
                    elif self._let_time_pass(spinning):
                        continue
                    elif self._livelock is None:
                        self._livelock = self._livelock_text(spinning)
                tids = tuple([t.tid for t in enabled])
                self._enabled_now = tids
                cur = self.current
                if cur is None or enabled[0] is cur or cur not in enabled:
                    return tids
                return (cur.tid, *[x for x in tids if x != cur.tid])
            if self.quiescent() or not self._advance_clock():
                self._enabled_now = ()
                return ()

    def _live_changed(self) -> None:
        self._live_tids = tuple([t.tid for t in self._live])
        self._current_first = {}

    def quiescent(self) -> bool:
        """True when every thread but daemons and helpers (``service``) has
        finished; called when no thread can run, so helpers are idle then."""
        return all(t.daemon or t.service for t in self._live)

    def step(self, tid: int, enabled: tuple[int, ...] | None = None) -> Step:
        """Run thread ``tid`` (which must be enabled) to its next switch point."""
        t = self.threads[tid]
        prev = self.current
        if enabled is None:
            enabled = self._enabled_now if tid in self._enabled_now else tuple(self._enabled())
        access = t.pending
        step = _new_step(
            Step,
            (
                len(self.steps),
                tid,
                access,
                t.where,
                enabled,
                prev is not None and prev is not t and prev.tid in enabled,
                {u.tid: u.pending for u in self.threads if not u.done} if self.record_pending else _NO_PENDING,
            ),
        )
        self.steps.append(step)
        if access is not None and access.write:
            # Any write is news to the other threads.  A lock operation
            # (progress False) is no news to the thread making it: a loop
            # that takes and releases a lock can still be a spin.
            self.epoch += 1
            if access.progress:
                self._quantum = _CLOCK_QUANTUM
            elif t.spin_epoch == self.epoch - 1:
                t.spin_epoch = self.epoch
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

    def _livelock_text(self, spinning: list[ThreadState]) -> str:
        parts = [f"{t.name} at {t.where or '?'} ({t.pending.describe() if t.pending else 'run'})" for t in spinning]
        blocked = [t for t in self._live if t not in spinning and not t.daemon]
        tail = f"; {', '.join(t.name for t in blocked)} cannot run" if blocked else ""
        return "livelock: every runnable thread loops without progress: " + "; ".join(parts) + tail

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
        return [t.tid for t in self._live if t.enabled(clock)]

    def _advance_clock(self) -> bool:
        deadlines = [t.deadline for t in self._live if t.deadline is not None]
        if not deadlines:
            return False
        self.clock = max(self.clock, min(deadlines))
        return True

    def _let_time_pass(self, spinning: list[ThreadState]) -> bool:
        """Every enabled thread spins: move virtual time if that can help."""
        waiting = [t.deadline for t in self._live if t.deadline is not None and t.deadline > self.clock]
        if waiting:
            self.clock = min(waiting)
        elif any(t.spin_clock for t in spinning):
            # polling the clock: let time pass, faster each round with no progress
            self.clock += self._quantum
            self._quantum *= 2
        else:
            return False
        self.epoch += 1  # time passing is progress: spinners look again
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
        if ready is not None:
            t.ready = ready
            self._waiting += 1
        if deadline is not None:
            t.deadline = deadline
        if waiting_for is not None:
            t.waiting_for = waiting_for
        if self.record_where:
            t.where = where if where is not None else _user_where(depth)
        if ready is None and (access is None or not (access.write and access.progress)):
            # spin detection (see _watch_spin); the common case inline: the
            # same access object as last time, not a sampling point
            if access is t.spin_last and t.spin_epoch == self.epoch:
                if not t.spinning:
                    r = t.spin_repeats + 1
                    if r == t.spin_next:
                        self._watch_spin(t, access)
                    else:
                        t.spin_repeats = r
            else:
                self._watch_spin(t, access)
        # pause: hand the baton back to the scheduler (inline: every switch pays it)
        glet = t.glet
        parent = glet.parent
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
        if parent is not self._sched_glet:
            glet.parent = self._sched_glet
        if ready is None:
            if deadline is not None or waiting_for is not None:
                t.deadline = None
                t.waiting_for = None
            if self.tearing_down:
                raise ThreadKilled()
            return True
        ok = ready()
        t.ready = None
        self._waiting -= 1
        t.deadline = None
        t.waiting_for = None
        if self.tearing_down:
            raise ThreadKilled()
        return ok

    def pass_baton(self, access: Access, where: str | None = None) -> None:
        """:meth:`switch_point` for an access that waits for nothing (no
        ``ready``, deadline or waiter): a yield, an opcode-traced access.

        The same steps, fewer of them: this is the controlled switch the
        benchmark measures.
        """
        t = self.current
        if t is None or self.tearing_down:
            return
        t.pending = access
        if self.record_where:
            t.where = where if where is not None else _user_where(2)
        if not (access.write and access.progress):
            if access is t.spin_last and t.spin_epoch == self.epoch:
                if not t.spinning:
                    r = t.spin_repeats + 1
                    if r == t.spin_next:
                        self._watch_spin(t, access)
                    else:
                        t.spin_repeats = r
            else:
                self._watch_spin(t, access)
        glet = t.glet
        parent = glet.parent
        tracer = self._tracer
        if tracer is not None and tracer.in_callback:
            tracer.in_callback = False
            sys.call_tracing(tracer.pause_from_callback, (parent,))
        else:
            parent.switch()
        if self.current is not t:
            raise RacekitInternalError(f"{t.name} resumed while {self.current} was scheduled")
        if parent is not self._sched_glet:
            glet.parent = self._sched_glet
        if self.tearing_down:
            raise ThreadKilled()

    def spin_state(self, t: ThreadState) -> ThreadState:
        """``t``'s spin-detection state, reset if shared state changed since."""
        if t.spin_epoch != self.epoch:
            t.spin_epoch = self.epoch
            t.spin_seen.clear()
            t.spin_repeats = 0
            t.spin_next = 1
            t.spin_snaps.clear()
            t.spinning = False
            t.spin_clock = False
        return t

    def _watch_spin(self, t: ThreadState, access: Access | None) -> None:
        """Is ``t``, about to make ``access`` (which changes nothing), in a cycle?

        Only an access the thread already made since the last progress step
        can close a cycle; then its frames (code positions and local values)
        are compared with snapshots taken at earlier repeats.  Snapshots are
        taken at repeat counts 1, 2, 3, 4, 6, 8, 12, 16, ... so a counting
        loop costs O(log n) of them, and a cycle of any small period shows
        up as two equal snapshots.
        """
        t.spin_last = access
        if t.spin_epoch != self.epoch:
            self.spin_state(t)
        elif t.spinning:
            return
        seen = t.spin_seen
        if access not in seen:
            seen.add(access)
            return
        r = t.spin_repeats = t.spin_repeats + 1
        if r != t.spin_next:
            return
        t.spin_next = _next_sample(r)
        snap = _snapshot(sys._getframe(2))
        if snap in t.spin_snaps:
            t.spinning = True
            self._spin_marks += 1
        else:
            t.spin_snaps[snap] = r

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
        """Kill every unfinished logical thread so none outlives the run.

        Whatever a killed thread's ``finally`` blocks raise is dropped -
        except KeyboardInterrupt, which :meth:`run` raises once every thread
        is gone.
        """
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
                    except KeyboardInterrupt as exc:
                        self._interrupt = self._interrupt or exc
                    except BaseException:  # noqa: BLE001 - finally blocks of killed threads
                        pass
                t.done = True
            self._live.clear()
            self._live_changed()
        finally:
            self.controlled = False
            self.current = None

    # ------------------------------------------------------------ deadlock
    def _describe_deadlock(self) -> tuple[str, list[dict[str, str]]]:
        """Name the wait-for cycle: who holds what, who wants what, where."""
        from racekit.sync import owner_of

        stuck = [t for t in self.threads if not t.done and not t.daemon]
        # idle pool workers wait for work that will never come: only name
        # them when nothing else is stuck
        stuck = [t for t in stuck if not t.service] or stuck
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


def _next_sample(r: int) -> int:
    """The repeat count after ``r`` at which a spin snapshot is taken:
    1, 2, 3, 4, 6, 8, 12, 16, 24, ... (2^k and 3 * 2^(k-1))."""
    if r < 4:
        return r + 1
    high = 1 << (r.bit_length() - 1)
    return high + high // 2 if r == high else high * 2


_PLAIN = frozenset({int, float, complex, str, bytes, bool, type(None)})


def _value_key(value: Any) -> Hashable:
    """What stands for a local variable's value in a spin snapshot."""
    t = type(value)
    if t in _PLAIN:
        return value  # type: ignore[no-any-return]
    if t is tuple and len(value) <= 8 and all(type(v) in _PLAIN for v in value):
        return value  # type: ignore[no-any-return]
    hint = getattr(t, "__length_hint__", None)
    if hint is not None:  # an iterator: where it is, not just which one
        try:
            return (id(value), hint(value))
        except Exception:  # noqa: BLE001 - a broken __length_hint__ is not ours to report
            return (id(value), None)
    frame = getattr(value, "gi_frame", None) or getattr(value, "cr_frame", None)
    if frame is not None:
        return (id(value), frame.f_lasti)
    return id(value)


def _snapshot(frame: FrameType | None) -> Hashable:
    """Code positions of every frame of a logical thread, and their locals
    (racekit primitives' and helpers' included: a loop inside them counts)."""
    parts: list[Hashable] = []
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_SCHED_DIR):
            parts.append((code, frame.f_lasti))  # the scheduler's own frames: positions only
        else:
            parts.append((code, frame.f_lasti, tuple([_value_key(v) for v in frame.f_locals.values()])))
        frame = frame.f_back
    return tuple(parts)


def _held_by(tid: int) -> list[str]:
    from racekit.sync import held_by

    return held_by(tid)


def _describe(obj: Any) -> str:
    if obj is None:
        return "nothing"
    name = getattr(obj, "racekit_name", None)
    return str(name) if name else type(obj).__name__


_RACEKIT_DIR = __file__.rsplit("/", 2)[0] + "/"
_SCHED_DIR = __file__.rsplit("/", 1)[0] + "/"


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
