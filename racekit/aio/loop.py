"""An asyncio event loop whose every scheduling decision is a choice.

:class:`ControlledLoop` is a real :class:`asyncio.BaseEventLoop`: tasks,
futures, ``sleep``, ``wait_for``, ``timeout()``, ``TaskGroup``, ``gather``
and the ``Lock``/``Event``/``Semaphore``/``Queue`` of the standard library
run on it unchanged.  Only ``_run_once`` - the loop's heart - is replaced:

* **Which ready callback runs next is a choice.**  Every callback belongs to
  an *actor*: a task's own steps and wake-ups belong to that task; any other
  callback (a future's done-callback, a timer) to the actor that scheduled
  it.  The options are the actors with something ready, in the order of
  their oldest ready callback, so option 0 is asyncio's own FIFO order (the
  boring answer) and each actor's callbacks keep their FIFO order among
  themselves (what asyncio promises code that schedules two callbacks).
  Which task is woken first is exactly what I/O timing decides in
  production, so every order of the ready actors is one production could
  show.
* **Time is virtual.**  ``time()`` reads a number that only moves when
  nothing is ready: then it jumps to the earliest timer (trio's
  ``MockClock(autojump_threshold=0)``, without the real-time wait), so a
  one-hour ``sleep`` costs one step.
* **Stuck is a verdict.**  Nothing ready and no timer while the run's
  tasks are unfinished is a deadlock; more than ``max_steps`` callbacks is a
  livelock.  The loop stops and the run (:mod:`racekit.aio.run`) says who
  waits on what.

Real I/O has no place in a controlled run (a socket would make the run
depend on the outside world): the loop has no selector, and the calls that
would need one raise :class:`NotModelled` with one sentence.
"""

from __future__ import annotations

import asyncio
import heapq
import re
from asyncio import events
from collections import deque
from collections.abc import Callable, Hashable
from contextvars import Context
from dataclasses import dataclass
from typing import Any

from racekit.choice.chooser import Boring, Chooser
from racekit.errors import RacekitError

_DEFAULT_NAME = re.compile(r"^Task-\d+$")


class NotModelled(RacekitError):
    """Code under a controlled loop tried real I/O, threads or processes."""


class _Owned(events.Handle):
    __slots__ = ("owner",)
    owner: int


class _OwnedTimer(events.TimerHandle):
    """A timer that knows its actor; equal deadlines fire in the order they were set.

    (``heapq`` is not stable, and under virtual time equal deadlines are
    common: FIFO among them keeps option 0 the order asyncio would use.)
    """

    __slots__ = ("owner", "seq")
    owner: int
    seq: int
    _scheduled: bool
    _when: float

    def __lt__(self, other: object) -> bool:
        if isinstance(other, _OwnedTimer):
            return (self._when, self.seq) < (other._when, other.seq)
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, _OwnedTimer):
            return (self._when, self.seq) > (other._when, other.seq)
        return NotImplemented


@dataclass(slots=True)
class Actor:
    """A task, or the loop itself (actor 0: callbacks scheduled outside any task)."""

    id: int
    task: asyncio.Task[Any] | None
    fallback: str

    @property
    def name(self) -> str:
        return self.task.get_name() if self.task is not None else self.fallback


@dataclass(slots=True)
class LoopStep:
    """One callback as it ran: whose, at what virtual time, what it did."""

    index: int
    actor: int
    callback: str
    time: float
    deviation: bool
    what: str = ""
    where: str = ""


class ControlledLoop(asyncio.BaseEventLoop):
    """One run's event loop (never reused).  See the module docstring."""

    # BaseEventLoop's private state, which the stubs do not declare
    _ready: deque[Any]
    _scheduled: list[Any]
    _timer_cancelled_count: int
    _current_handle: Any
    _stopping: bool
    _check_closed: Callable[[], None]

    def __init__(self, chooser: Chooser, *, max_steps: int = 20_000, detail: bool = False) -> None:
        super().__init__()
        self._now = 0.0
        self._chooser = chooser
        self._boring: Chooser = Boring()
        self.max_steps = max_steps
        self.detail = detail
        self.actors: list[Actor] = [Actor(0, None, "loop")]
        self._actor_of: dict[asyncio.Task[Any], int] = {}
        self._running_actor = 0
        self._timers = 0
        self.steps: list[LoopStep] = []
        self.stuck = False  # nothing ready, no timer, and ``until`` not reached
        self.livelock = False
        self.until: Callable[[], bool] = lambda: False
        self.scripted = False  # setup and teardown: FIFO, no choices asked
        self.advance_time = True  # False while settling: run what is ready, never jump
        self.errors: list[dict[str, Any]] = []
        self.describe_step: Callable[[LoopStep, events.Handle], None] | None = None
        self.set_exception_handler(_record_error)

    # ------------------------------------------------------------ time
    def time(self) -> float:
        return self._now

    # ------------------------------------------------------- scheduling
    def _owner(self, callback: Callable[..., Any]) -> int:
        target = getattr(callback, "__self__", None)
        if isinstance(target, asyncio.Task):
            return self.actor_id(target)
        return self._running_actor

    def actor_id(self, task: asyncio.Task[Any]) -> int:
        aid = self._actor_of.get(task)
        if aid is None:
            aid = len(self.actors)
            self._actor_of[task] = aid
            self.actors.append(Actor(aid, task, f"task{aid}"))
        return aid

    def _call_soon(self, callback: Callable[..., Any], args: Any, context: Context | None) -> events.Handle:
        handle = _Owned(callback, args, self, context)
        handle.owner = self._owner(callback)
        self._ready.append(handle)
        return handle

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> events.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        timer = _OwnedTimer(when, callback, args, self, context)
        timer.owner = self._owner(callback)
        self._timers += 1
        timer.seq = self._timers
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer

    def create_task(self, coro: Any, *, name: str | None = None, context: Context | None = None) -> asyncio.Task[Any]:  # type: ignore[override]
        task = super().create_task(coro, name=name, context=context)
        aid = self.actor_id(task)
        if name is None or _DEFAULT_NAME.match(name):
            # asyncio's default names count tasks process-wide: not the same
            # from one run to the next, so traces would differ.
            task.set_name(f"task{aid}")
        return task

    # ------------------------------------------------------ the one loop
    def _run_once(self) -> None:
        """Run exactly one ready callback, chosen by the chooser."""
        if len(self.steps) >= self.max_steps and not self.scripted:
            self.livelock = True
            self._stopping = True
            return
        ready = self._ready
        if any(h._cancelled for h in ready):
            ready = self._ready = deque(h for h in ready if not h._cancelled)
        if not ready:
            scheduled = self._scheduled
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)._scheduled = False
            if not scheduled or not self.advance_time:
                self.stuck = not self.until()
                self._stopping = True
                return
            self._now = max(self._now, scheduled[0]._when)
        self._fire_due_timers()
        if not ready:
            return
        firsts: list[int] = []
        seen: set[int] = set()
        for i, h in enumerate(ready):
            owner: int = h.owner
            if owner not in seen:
                seen.add(owner)
                firsts.append(i)
        options: list[Hashable] = [ready[i].owner for i in firsts]
        chooser = self._boring if self.scripted else self._chooser
        index = chooser.choose(options, "task")
        pos = firsts[index]
        handle = ready[pos]
        del ready[pos]
        self._run_handle(handle, index != 0)

    def _fire_due_timers(self) -> None:
        scheduled = self._scheduled
        now = self._now
        while scheduled and scheduled[0]._when <= now:
            timer = heapq.heappop(scheduled)
            timer._scheduled = False
            if timer._cancelled:
                self._timer_cancelled_count -= 1
                continue
            self._ready.append(timer)

    def _run_handle(self, handle: events.Handle, deviation: bool) -> None:
        owner: int = handle.owner  # type: ignore[attr-defined]
        step = LoopStep(len(self.steps), owner, "", self._now, deviation)
        if not self.scripted:
            self.steps.append(step)
        self._running_actor = owner
        self._current_handle = handle
        try:
            handle._run()
        finally:
            self._current_handle = None
            self._running_actor = 0
        if self.detail and self.describe_step is not None and not self.scripted:
            self.describe_step(step, handle)
        if not self.scripted and self.until():
            self._stopping = True

    # ------------------------------------------- what the loop cannot do
    def _process_events(self, event_list: Any) -> None:  # pragma: no cover - no selector
        return None

    def _write_to_self(self) -> None:
        return None

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., Any], *args: Any, context: Context | None = None) -> events.Handle:
        raise NotModelled(
            "call_soon_threadsafe: racekit.aio runs one thread; another OS thread waking the loop is not modelled"
        )

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        raise NotModelled(
            f"run_in_executor({getattr(func, '__name__', func)!r}): threads (and the DNS look-ups and file "
            "I/O that use them) are not modelled inside racekit.aio; replace them with an in-process fake"
        )

    def _make_socket_transport(self, *args: Any, **kwargs: Any) -> Any:
        raise NotModelled("a real socket inside racekit.aio: use in-process fakes for the network (docs/aio.md)")

    _make_ssl_transport = _make_socket_transport
    _make_datagram_transport = _make_socket_transport
    _make_read_pipe_transport = _make_socket_transport
    _make_write_pipe_transport = _make_socket_transport

    async def _make_subprocess_transport(self, *args: Any, **kwargs: Any) -> Any:
        raise NotModelled("a subprocess inside racekit.aio: real processes belong to racekit.crash (docs/aio.md)")

    async def sock_connect(self, sock: Any, address: Any) -> None:
        raise NotModelled("sock_connect: real sockets are not modelled inside racekit.aio (docs/aio.md)")

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        raise NotModelled("getaddrinfo: real name look-ups are not modelled inside racekit.aio (docs/aio.md)")

    def add_reader(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        raise NotModelled("add_reader: file descriptors are not modelled inside racekit.aio (docs/aio.md)")

    add_writer = add_reader  # type: ignore[assignment]
    add_signal_handler = add_reader  # type: ignore[assignment]


def _record_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's exception handler: keep what a callback raised, for the verdict.

    "Task exception was never retrieved" comes from a task's finalizer, at a
    moment the garbage collector picks, so it is not kept (the run reports
    the exceptions of the tasks it started itself).
    """
    message = str(context.get("message", ""))
    if "never retrieved" in message:
        return
    if isinstance(loop, ControlledLoop):
        loop.errors.append(context)
