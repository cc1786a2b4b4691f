"""Synchronization primitives that racekit can schedule.

Every operation is a *switch point*: under a controlled execution the calling
logical thread pauses there, announces what it is about to do, and the
scheduler decides who runs next.  With no execution active they behave as the
``threading``/``queue``/``time`` objects they mirror, so the same system code
runs for real in benchmarks and production.

Primitives hold only a handle (``_pid``); their per-run state (owner, waiters,
contents) lives in the execution (``Execution.objects``), never in the object,
so a primitive created at import time is safe to use across many runs: each
run starts from the state the primitive was constructed with.  When a run
ends, the final state is published back to the object (:func:`publish`), so a
``check`` that runs afterwards, outside the execution, reads the run's result:
``Atomic`` values, ``Queue`` contents, ``Event`` flags, ``Semaphore`` counts.
Lock ownership is not published (a lock still held at the end stays free).
"""

from __future__ import annotations

import collections
import itertools
import queue as _queue
import threading as _threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from racekit.sched.access import EXTERNAL, Access
from racekit.sched.runtime import Execution, _local, current_execution

T = TypeVar("T")
_ids = itertools.count(1)
_NS = 1_000_000_000

__all__ = [
    "Atomic",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Lock",
    "Queue",
    "RLock",
    "Semaphore",
    "Thread",
    "external",
    "monotonic",
    "sleep",
    "thread_id",
    "yield_point",
]


def _deadline(ex: Execution, timeout: float | None) -> int | None:
    if timeout is None or timeout < 0:
        return None
    return ex.clock + int(timeout * _NS)


def _acquire_kind(timeout: float | None) -> str:
    """``sync`` tag of a lock acquire.  "acquire": blocks until the owner's
    release, so it is never co-enabled with it; "wait": anything else a
    release may enable (timed or non-blocking acquires, semaphores, queue
    gets, event and condition waits), which may also be co-enabled with it.
    DPOR treats the two differently (see strategies/dfs.py)."""
    return "acquire" if timeout is None or timeout < 0 else "wait"


class _Prim:
    """Base: a stable id and a name for traces and deadlock reports."""

    kind = "prim"

    def __init__(self) -> None:
        self._pid = next(_ids)
        self._run_id = 0
        self.racekit_name = f"{type(self).__name__}#{self._pid}"

    def _state(self, ex: Execution) -> Any:
        """This primitive's state in ``ex``, created on first use in the run.

        First use also numbers the primitive within the run, in order of first
        use, so access keys and names ("Lock#2") are the same in every run of a
        schedule: explorers compare accesses across runs, and replayed traces
        must be identical.  Call it before :meth:`_acc`.
        """
        if self._pid in ex.prims:
            return ex.objects[self._pid]
        st = ex.objects[self._pid] = self._new_state()
        ex.prims[self._pid] = self
        self._run_id = len(ex.prims)
        self.racekit_name = f"{type(self).__name__}#{self._run_id}"
        ex.names[self._pid] = self.racekit_name
        return st

    def _new_state(self) -> Any:
        return None

    def _publish(self, state: Any) -> None:
        """Copy a finished run's state to the real object (production mode)."""

    def _acc(self, what: str, write: bool = True, sync: str = "") -> Access:
        return Access(("prim", self._run_id), write, f"{what} {self.racekit_name}", sync)

    def __repr__(self) -> str:
        return f"<racekit {self.racekit_name}>"


# --------------------------------------------------------------------- locks
@dataclass
class _LockState:
    owner: int | None = None
    count: int = 0


class Lock(_Prim):
    """A mutual-exclusion lock (``threading.Lock``)."""

    def __init__(self) -> None:
        super().__init__()
        self._real = _threading.Lock()

    def _new_state(self) -> _LockState:
        return _LockState()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.acquire(blocking, timeout)
        st: _LockState = self._state(ex)
        me = ex.current.tid  # type: ignore[union-attr]
        if self._reentrant_for(st, me):
            ex.switch_point(self._acc("acquire", sync="acquire"))
            st.count += 1
            return True
        if not blocking:
            ex.switch_point(self._acc("try-acquire", sync="wait"))
            if st.owner is not None:
                return False
        elif not ex.switch_point(
            self._acc("acquire", sync=_acquire_kind(timeout)),
            ready=lambda: st.owner is None,
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        ):
            return False
        st.owner, st.count = me, 1
        return True

    def _reentrant_for(self, st: _LockState, me: int) -> bool:
        return False

    def release(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real.release()
            return
        st: _LockState = self._state(ex)
        ex.switch_point(self._acc("release", sync="release"))
        self._release_state(st, ex.current.tid)  # type: ignore[union-attr]

    def _release_state(self, st: _LockState, me: int) -> None:
        if st.owner is None:
            raise RuntimeError("release unlocked lock")
        st.owner, st.count = None, 0

    def locked(self) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.locked()
        st: _LockState = self._state(ex)
        ex.switch_point(self._acc("locked?", write=False))
        return st.owner is not None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class RLock(Lock):
    """A re-entrant lock (``threading.RLock``)."""

    def __init__(self) -> None:
        _Prim.__init__(self)
        self._real = _threading.RLock()  # type: ignore[assignment]

    def _reentrant_for(self, st: _LockState, me: int) -> bool:
        return st.owner == me

    def _release_state(self, st: _LockState, me: int) -> None:
        if st.owner != me:
            raise RuntimeError("cannot release un-acquired lock")
        st.count -= 1
        if st.count == 0:
            st.owner = None


# ----------------------------------------------------------------- condition
@dataclass
class _Waiter:
    notified: bool = False


@dataclass
class _CondState:
    waiters: list[_Waiter] = field(default_factory=list)


class Condition(_Prim):
    """A condition variable (``threading.Condition``); wait releases the lock."""

    def __init__(self, lock: Lock | None = None) -> None:
        super().__init__()
        self._lock = lock if lock is not None else RLock()
        self._real = _threading.Condition(self._lock._real)

    def _new_state(self) -> _CondState:
        return _CondState()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def _owned(self, ex: Execution) -> _LockState:
        lst: _LockState = self._lock._state(ex)
        if lst.owner != ex.current.tid:  # type: ignore[union-attr]
            raise RuntimeError("cannot wait on un-acquired lock")
        return lst

    def wait(self, timeout: float | None = None) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.wait(timeout)
        st: _CondState = self._state(ex)
        lst = self._owned(ex)
        me = ex.current.tid  # type: ignore[union-attr]
        # 1. release the lock and start waiting (one step: atomically, as in threading)
        ex.switch_point(self._lock._acc(f"wait on {self.racekit_name}, releasing", sync="release"))
        waiter = _Waiter()
        st.waiters.append(waiter)
        saved = lst.count
        lst.owner, lst.count = None, 0
        # 2. wake up when notified (or when the timeout passes)
        notified = ex.switch_point(
            self._acc("wake", sync="wait"),
            ready=lambda: waiter.notified,
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        )
        if not notified and waiter in st.waiters:
            st.waiters.remove(waiter)
        # 3. re-acquire the lock before returning
        ex.switch_point(
            self._lock._acc("re-acquire", sync="acquire"), ready=lambda: lst.owner is None, waiting_for=self._lock
        )
        lst.owner, lst.count = me, saved
        return notified

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        ex = current_execution()
        if ex is None:
            return self._real.wait_for(predicate, timeout)
        end = _deadline(ex, timeout)
        result = predicate()
        while not result:
            remaining = None if end is None else max(0, end - ex.clock) / _NS
            if remaining is not None and remaining <= 0:
                break
            self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        ex = current_execution()
        if ex is None:
            self._real.notify(n)
            return
        st: _CondState = self._state(ex)
        self._owned(ex)
        ex.switch_point(self._acc(f"notify({n})", sync="release"))
        for waiter in st.waiters[:n]:
            waiter.notified = True
        del st.waiters[:n]

    def notify_all(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real.notify_all()
            return
        st: _CondState = self._state(ex)
        self._owned(ex)
        ex.switch_point(self._acc("notify_all", sync="release"))
        for waiter in st.waiters:
            waiter.notified = True
        st.waiters.clear()


# ----------------------------------------------------------------- semaphore
@dataclass
class _SemState:
    value: int


class Semaphore(_Prim):
    """A counting semaphore (``threading.Semaphore``)."""

    def __init__(self, value: int = 1) -> None:
        super().__init__()
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._initial = value
        self._real = _threading.Semaphore(value)

    def _new_state(self) -> _SemState:
        return _SemState(self._initial)

    def _publish(self, state: _SemState) -> None:
        real: Any = self._real
        with real._cond:
            real._value = state.value

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.acquire(blocking, timeout)
        st: _SemState = self._state(ex)
        if not blocking:
            ex.switch_point(self._acc("try-acquire", sync="wait"))
            if st.value == 0:
                return False
        elif not ex.switch_point(
            self._acc("acquire", sync="wait"),
            ready=lambda: st.value > 0,
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        ):
            return False
        st.value -= 1
        return True

    def release(self, n: int = 1) -> None:
        ex = current_execution()
        if ex is None:
            self._real.release(n)
            return
        st: _SemState = self._state(ex)
        ex.switch_point(self._acc("release", sync="release"))
        self._check_release(st, n)
        st.value += n

    def _check_release(self, st: _SemState, n: int) -> None:
        pass

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class BoundedSemaphore(Semaphore):
    """A semaphore that refuses to be released above its initial value."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._real = _threading.BoundedSemaphore(value)

    def _check_release(self, st: _SemState, n: int) -> None:
        if st.value + n > self._initial:
            raise ValueError("Semaphore released too many times")


# --------------------------------------------------------------------- event
@dataclass
class _EventState:
    flag: bool = False


class Event(_Prim):
    """A one-bit broadcast flag (``threading.Event``)."""

    def __init__(self) -> None:
        super().__init__()
        self._real = _threading.Event()

    def _new_state(self) -> _EventState:
        return _EventState()

    def _publish(self, state: _EventState) -> None:
        if state.flag:
            self._real.set()
        else:
            self._real.clear()

    def is_set(self) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.is_set()
        st: _EventState = self._state(ex)
        ex.switch_point(self._acc("is_set", write=False))
        return st.flag

    def set(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real.set()
            return
        st: _EventState = self._state(ex)
        ex.switch_point(self._acc("set", sync="release"))
        st.flag = True

    def clear(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real.clear()
            return
        st: _EventState = self._state(ex)
        ex.switch_point(self._acc("clear"))
        st.flag = False

    def wait(self, timeout: float | None = None) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.wait(timeout)
        st: _EventState = self._state(ex)
        return ex.switch_point(
            self._acc("wait", write=False, sync="wait"),
            ready=lambda: st.flag,
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        )


# --------------------------------------------------------------------- queue
@dataclass
class _QueueState:
    items: collections.deque[Any] = field(default_factory=collections.deque)
    unfinished: int = 0


class Queue(_Prim, Generic[T]):
    """A FIFO queue (``queue.Queue``), optionally bounded; raises ``queue.Full``/``Empty``."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__()
        self.maxsize = maxsize
        self._real: _queue.Queue[T] = _queue.Queue(maxsize)

    def _new_state(self) -> _QueueState:
        return _QueueState()

    def _publish(self, state: _QueueState) -> None:
        with self._real.mutex:
            self._real.queue.clear()
            self._real.queue.extend(state.items)
            self._real.unfinished_tasks = state.unfinished

    def _full(self, st: _QueueState) -> bool:
        return 0 < self.maxsize <= len(st.items)

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        ex = current_execution()
        if ex is None:
            self._real.put(item, block, timeout)
            return
        st: _QueueState = self._state(ex)
        if not block:
            ex.switch_point(self._acc("put_nowait", sync="release"))
            if self._full(st):
                raise _queue.Full
        elif not ex.switch_point(
            self._acc("put", sync="release"),
            ready=lambda: not self._full(st),
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        ):
            raise _queue.Full
        st.items.append(item)
        st.unfinished += 1

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        ex = current_execution()
        if ex is None:
            return self._real.get(block, timeout)
        st: _QueueState = self._state(ex)
        if not block:
            ex.switch_point(self._acc("get_nowait", sync="wait"))
            if not st.items:
                raise _queue.Empty
        elif not ex.switch_point(
            self._acc("get", sync="wait"),
            ready=lambda: bool(st.items),
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        ):
            raise _queue.Empty
        item: T = st.items.popleft()
        return item

    def put_nowait(self, item: T) -> None:
        self.put(item, block=False)

    def get_nowait(self) -> T:
        return self.get(block=False)

    def qsize(self) -> int:
        ex = current_execution()
        if ex is None:
            return self._real.qsize()
        st: _QueueState = self._state(ex)
        ex.switch_point(self._acc("qsize", write=False))
        return len(st.items)

    def empty(self) -> bool:
        return self.qsize() == 0

    def full(self) -> bool:
        return 0 < self.maxsize <= self.qsize()

    def task_done(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real.task_done()
            return
        st: _QueueState = self._state(ex)
        ex.switch_point(self._acc("task_done"))
        if st.unfinished <= 0:
            raise ValueError("task_done() called too many times")
        st.unfinished -= 1

    def join(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real.join()
            return
        st: _QueueState = self._state(ex)
        ex.switch_point(self._acc("join", write=False), ready=lambda: st.unfinished == 0, waiting_for=self)


# -------------------------------------------------------------------- atomic
class Atomic(_Prim, Generic[T]):
    """A single value with atomic load/store/compare-and-set/add (like Java's AtomicLong)."""

    def __init__(self, value: T) -> None:
        super().__init__()
        self._initial = value
        self._value = value
        self._real = _threading.Lock()

    def _new_state(self) -> list[Any]:
        return [self._initial]

    def _publish(self, state: list[Any]) -> None:
        self._value = state[0]

    def load(self) -> T:
        ex = current_execution()
        if ex is None:
            return self._value
        cell = self._state(ex)
        ex.switch_point(self._acc("load", write=False))
        value: T = cell[0]
        return value

    def store(self, value: T) -> None:
        ex = current_execution()
        if ex is None:
            with self._real:
                self._value = value
            return
        cell = self._state(ex)
        ex.switch_point(self._acc("store"))
        cell[0] = value

    def compare_and_set(self, expected: T, new: T) -> bool:
        ex = current_execution()
        if ex is None:
            with self._real:
                if self._value == expected:
                    self._value = new
                    return True
                return False
        cell = self._state(ex)
        ex.switch_point(self._acc("compare_and_set"))
        if cell[0] == expected:
            cell[0] = new
            return True
        return False

    def add_and_get(self, delta: Any) -> T:
        ex = current_execution()
        if ex is None:
            with self._real:
                self._value = self._value + delta
                return self._value
        cell = self._state(ex)
        ex.switch_point(self._acc("add_and_get"))
        cell[0] = cell[0] + delta
        value: T = cell[0]
        return value

    def get_and_add(self, delta: Any) -> T:
        return self.add_and_get(delta) - delta  # type: ignore[no-any-return]


# -------------------------------------------------------------------- thread
class Thread(_Prim):
    """A thread (``threading.Thread``): a logical thread when controlled."""

    def __init__(
        self,
        group: None = None,
        target: Callable[..., Any] | None = None,
        name: str | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        daemon: bool | None = None,
    ) -> None:
        super().__init__()
        self._target = target
        self._args = args
        self._kwargs = kwargs or {}
        self._given_name = name
        self.name = name or self.racekit_name
        self.daemon = bool(daemon)
        self._real: _threading.Thread | None = None
        self._tid: int | None = None
        self._ex: Execution | None = None

    def run(self) -> None:
        if self._target is not None:
            self._target(*self._args, **self._kwargs)

    def start(self) -> None:
        ex = current_execution()
        if ex is None:
            self._real = _threading.Thread(target=self.run, name=self.name, daemon=self.daemon)
            self._real.start()
            return
        if self._tid is not None:
            raise RuntimeError("threads can only be started once")
        self._state(ex)
        ex.switch_point(self._acc("start"))
        self._ex = ex
        # Started before it runs: spawn runs the child up to its first switch
        # point, and the child (or code it calls) may join or inspect it.
        self._tid = len(ex.threads)
        t = ex.spawn(self.run, self._given_name, self.daemon)
        assert t.tid == self._tid
        self.name = t.name

    def join(self, timeout: float | None = None) -> None:
        ex = current_execution()
        if ex is None:
            if self._real is not None:
                self._real.join(timeout)
            return
        if self._tid is None:
            raise RuntimeError("cannot join thread before it is started")
        if ex.current is not None and self._tid == ex.current.tid:
            raise RuntimeError("cannot join current thread")
        target = ex.threads[self._tid]
        self._state(ex)
        ex.switch_point(
            self._acc("join", write=False),
            ready=lambda: target.done,
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        )

    def is_alive(self) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real is not None and self._real.is_alive()
        return self._tid is not None and not ex.threads[self._tid].done


# ---------------------------------------------------------------------- time
def sleep(seconds: float) -> None:
    """Sleep; under control the virtual clock advances when every thread waits."""
    ex = current_execution()
    if ex is None:
        _time.sleep(seconds)
        return
    if seconds <= 0:
        ex.switch_point(None)
        return
    ex.switch_point(
        Access(("sleep",), False, f"sleep({seconds})"),
        ready=lambda: False,
        deadline=ex.clock + int(seconds * _NS),
    )


def monotonic() -> float:
    """Seconds on the monotonic clock (virtual under control)."""
    ex = current_execution()
    if ex is None:
        return _time.monotonic()
    return ex.clock / _NS


def thread_id() -> int:
    """The logical thread's id under control, else ``threading.get_ident()``."""
    ex = current_execution()
    if ex is None or ex.current is None:
        return _threading.get_ident()
    return ex.current.tid


def yield_point() -> None:
    """An explicit switch point: let the scheduler run someone else here."""
    ex = current_execution()
    if ex is not None:
        ex.switch_point(Access(("yield",), False, "yield"))


def external(service: str, key: str = "", *, write: bool = True, what: str = "", depth: int = 0) -> None:
    """A switch point before one call to a service outside the process.

    A Redis command or a SQL statement runs inside the server, atomically,
    in code opcode tracing cannot see; without this the scheduler would
    neither preempt around the call nor know that two calls on one key do
    not commute, and DPOR would prune orders that matter.  Call it right
    before the request; the request then runs in the same step.  ``key``
    narrows what the call touches (one cache key, one row): calls on the
    same ``(service, key)`` are dependent when either writes, calls on
    different keys commute - so name every key the call touches, or leave
    ``key`` empty to mean the whole service.  ``depth``: how many frames
    above the caller the trace should name as the call's place (an adapter
    method passes 1, so the trace shows the application line, not its own).
    A no-op outside a controlled run.
    """
    ex = current_execution()
    if ex is not None:
        label = what or f"{service} {'write' if write else 'read'} {key}"
        ex.switch_point(Access((EXTERNAL, service, key), write, label), depth=3 + depth)


def publish(ex: Execution) -> None:
    """Publish every primitive's final state in ``ex`` to the object itself."""
    for pid, prim in ex.prims.items():
        prim._publish(ex.objects[pid])


# ------------------------------------------------- deadlock report helpers
def owner_of(obj: Any) -> int | None:
    """The logical thread a waiter on ``obj`` waits for, if it is one thread."""
    ex: Execution | None = getattr(_local, "execution", None)
    if ex is None or obj is None:
        return None
    if isinstance(obj, Lock):
        st = ex.objects.get(obj._pid)
        return st.owner if st is not None else None
    if isinstance(obj, Thread):
        return obj._tid
    return None


def held_by(tid: int) -> list[str]:
    """Names of the locks logical thread ``tid`` holds in the running execution."""
    ex: Execution | None = getattr(_local, "execution", None)
    if ex is None:
        return []
    return [
        ex.names.get(pid, f"lock#{pid}")
        for pid, st in sorted(ex.objects.items())
        if isinstance(st, _LockState) and st.owner == tid
    ]
