"""``concurrent.futures.ThreadPoolExecutor`` for logical threads.

A real pool's workers are OS threads racekit does not schedule: a lost
update between two submitted jobs is never interleaved, and a clean
"exhaustive" verdict says nothing.  Under a controlled run this pool's
workers are logical threads (``racekit.sync.Thread``) and the pool and its
futures are racekit primitives: every operation is one switch point, atomic
like the CPython operation it models (a submit, a worker taking a job, a
future completing, a ``result()``/``wait``/``as_completed`` that blocks
until the futures it needs are done), and timeouts run on virtual time.
So every interleaving of the jobs, the submitting threads and their waits
is explored, with no switch points inside the pool's own bookkeeping.
Outside a controlled run every call goes to a real ``ThreadPoolExecutor``.

Modelled: ``submit``, ``map`` (with ``timeout``), ``shutdown(wait,
cancel_futures)``, the context manager, lazily started workers (a new one
per submit while none is idle, up to ``max_workers``), ``initializer``;
``Future.result/exception`` (with timeouts), ``done``, ``running``,
``cancel``, ``cancelled``, ``add_done_callback``; module functions
``wait`` (``FIRST_COMPLETED``, ``FIRST_EXCEPTION``, ``ALL_COMPLETED``) and
``as_completed``.  Work still queued when every other thread has finished
is run before the workers stop, as at interpreter exit.  ``max_workers``
defaults to 4 under control (the real default depends on the CPU count;
a fixed one keeps schedules the same on every machine).  Every future
operation of a run shares one access key: coarser than needed for DPOR,
never unsound.
"""

from __future__ import annotations

import concurrent.futures as _cf
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from racekit.sched.access import Access
from racekit.sched.runtime import Execution, current_execution
from racekit.sched.watchdog import WallClockExpired
from racekit.sync import _NS, Thread, _deadline, _Prim

FIRST_COMPLETED = _cf.FIRST_COMPLETED
FIRST_EXCEPTION = _cf.FIRST_EXCEPTION
ALL_COMPLETED = _cf.ALL_COMPLETED
CancelledError = _cf.CancelledError
TimeoutError = _cf.TimeoutError  # noqa: A001 - the name concurrent.futures uses

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "CancelledError",
    "Future",
    "ThreadPoolExecutor",
    "TimeoutError",
    "as_completed",
    "wait",
]

_PENDING, _RUNNING, _CANCELLED, _FINISHED = "PENDING", "RUNNING", "CANCELLED", "FINISHED"
_DONE = (_CANCELLED, _FINISHED)
_PASS_THROUGH = (KeyboardInterrupt, WallClockExpired, SystemExit)


class _FuturesKey(_Prim):
    """The one primitive every future of a run is an operation on."""


_KEY = _FuturesKey()
_completions = itertools.count()


def _ex() -> Execution:
    ex = current_execution()
    if ex is None:
        raise RuntimeError("a racekit Future is used outside a controlled run (make the pool's futures inside it)")
    return ex


def _acc(ex: Execution, what: str, write: bool = True, sync: str = "") -> Access:
    _KEY._state(ex)
    return _KEY._acc(what, write, sync)


class Future(_cf.Future):  # type: ignore[type-arg]
    """The result of a job run by :class:`ThreadPoolExecutor` under control.

    A future belongs to the run that made it; its state is plain attributes,
    changed only right after a switch point, so each operation is atomic.
    """

    def __init__(self) -> None:  # no super().__init__: it makes a real Condition
        self._state = _PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], Any]] = []
        self._order = 0  # completion order, for as_completed

    def __repr__(self) -> str:
        return f"<racekit Future state={self._state.lower()}>"

    def _read(self, what: str) -> None:
        ex = _ex()
        ex.switch_point(_acc(ex, what, write=False))

    def cancel(self) -> bool:
        ex = _ex()
        ex.switch_point(_acc(ex, "cancel future"))
        if self._state in (_RUNNING, _FINISHED):
            return False
        if self._state != _CANCELLED:
            self._complete(_CANCELLED)
        return True

    def cancelled(self) -> bool:
        self._read("future cancelled?")
        return self._state == _CANCELLED

    def running(self) -> bool:
        self._read("future running?")
        return self._state == _RUNNING

    def done(self) -> bool:
        self._read("future done?")
        return self._state in _DONE

    def add_done_callback(self, fn: Callable[[Future], Any]) -> None:
        ex = _ex()
        ex.switch_point(_acc(ex, "add_done_callback"))
        if self._state in _DONE:
            fn(self)
        else:
            self._callbacks.append(fn)

    def _wait(self, timeout: float | None, what: str) -> None:
        ex = _ex()
        if not ex.switch_point(
            _acc(ex, what, write=False, sync="wait"),
            ready=lambda: self._state in _DONE,
            deadline=_deadline(ex, timeout),
            waiting_for=self,
        ):
            raise TimeoutError()

    def result(self, timeout: float | None = None) -> Any:
        self._wait(timeout, "future result")
        if self._state == _CANCELLED:
            raise CancelledError()
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout, "future exception")
        if self._state == _CANCELLED:
            raise CancelledError()
        return self._exception

    def set_running_or_notify_cancel(self) -> bool:
        ex = _ex()
        ex.switch_point(_acc(ex, "start future"))
        if self._state == _CANCELLED:
            return False
        if self._state != _PENDING:
            raise RuntimeError(f"Future in unexpected state: {self._state}")
        self._state = _RUNNING
        return True

    def set_result(self, result: Any) -> None:
        self._finish("set_result", result, None)

    def set_exception(self, exception: BaseException | None) -> None:
        self._finish("set_exception", None, exception)

    def _finish(self, what: str, result: Any, exception: BaseException | None) -> None:
        ex = _ex()
        ex.switch_point(_acc(ex, what, sync="release"))
        if self._state in _DONE:
            raise _cf.InvalidStateError(f"{self._state}: {self!r}")
        self._result, self._exception = result, exception
        self._complete(_FINISHED)

    def _complete(self, state: str) -> None:
        self._state = state
        self._order = next(_completions)
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            # as concurrent.futures: a failing callback is logged there, never raised
            with contextlib.suppress(Exception):
                fn(self)


@dataclass
class _Job:
    future: Future
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class _PoolState:
    jobs: deque[_Job] = field(default_factory=deque)
    workers: list[Thread] = field(default_factory=list)
    idle: int = 0
    shutdown: bool = False


_pool_ids = itertools.count()


class ThreadPoolExecutor(_cf.Executor, _Prim):
    """A thread pool whose workers are logical threads under control."""

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        _Prim.__init__(self)
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._initializer = initializer
        self._initargs = initargs
        self._real: _cf.ThreadPoolExecutor | None = None

    def _new_state(self) -> _PoolState:
        return _PoolState()

    def _real_pool(self) -> _cf.ThreadPoolExecutor:
        if self._real is None:
            prefix = self._prefix or f"ThreadPoolExecutor-{next(_pool_ids)}"
            self._real = _cf.ThreadPoolExecutor(self._max_workers, prefix, self._initializer, self._initargs)
        return self._real

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        ex = current_execution()
        if ex is None:
            return self._real_pool().submit(fn, *args, **kwargs)
        st: _PoolState = self._state(ex)
        ex.switch_point(self._acc("submit", sync="release"))
        if st.shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future = Future()
        st.jobs.append(_Job(future, fn, args, kwargs))
        if st.idle:
            st.idle -= 1  # an idle worker will take it
        elif len(st.workers) < (self._max_workers or 4):
            self._start_worker(ex, st)
        return future

    def _start_worker(self, ex: Execution, st: _PoolState) -> None:
        # named by the pool's number in this run, so traces are the same in every run
        prefix = self._prefix or f"ThreadPoolExecutor-{self._run_id}"
        worker = Thread(target=self._work, args=(ex, st), name=f"{prefix}_{len(st.workers)}")
        st.workers.append(worker)
        worker.start()
        assert worker._tid is not None
        ex.threads[worker._tid].service = True

    def _work(self, ex: Execution, st: _PoolState) -> None:
        if self._initializer is not None:
            self._initializer(*self._initargs)
        while True:
            # An idle worker waits here; when every other thread is done the
            # run ends around it (it is a ``service`` thread).
            ex.switch_point(
                self._acc("take job", sync="wait"), ready=lambda: bool(st.jobs) or st.shutdown, waiting_for=self
            )
            if not st.jobs:
                return  # shut down and nothing left
            job = st.jobs.popleft()
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                result = job.fn(*job.args, **job.kwargs)
            except _PASS_THROUGH:
                raise
            except BaseException as exc:  # noqa: BLE001 - the job's exception is its future's
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
            st.idle += 1

    def map(
        self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1
    ) -> Iterator[Any]:
        ex = current_execution()
        if ex is None:
            return self._real_pool().map(fn, *iterables, timeout=timeout, chunksize=chunksize)
        end = None if timeout is None else ex.clock + int(timeout * _NS)
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=False)]

        def results() -> Iterator[Any]:
            try:
                for f in futures:
                    yield f.result(None if end is None else max(0, end - ex.clock) / _NS)
            finally:
                for f in futures:
                    f.cancel()

        return results()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        ex = current_execution()
        if ex is None:
            if self._real is not None:
                self._real.shutdown(wait, cancel_futures=cancel_futures)
            return
        st: _PoolState = self._state(ex)
        ex.switch_point(self._acc("shutdown", sync="release"))
        st.shutdown = True
        if cancel_futures:
            while st.jobs:
                st.jobs.popleft().future._complete(_CANCELLED)
        if wait:
            for w in list(st.workers):
                w.join()


def _split(fs: Iterable[Any]) -> tuple[list[Any], bool]:
    futures = list(dict.fromkeys(fs))
    ours = [f for f in futures if isinstance(f, Future)]
    if ours and len(ours) != len(futures):
        raise TypeError("racekit futures and real futures cannot be waited on together")
    return futures, bool(ours)


def wait(fs: Iterable[Any], timeout: float | None = None, return_when: str = ALL_COMPLETED) -> Any:
    """``concurrent.futures.wait`` for racekit futures (real ones go to the real function)."""
    futures, ours = _split(fs)
    ex = current_execution()
    if not ours or ex is None:
        return _cf.wait(futures, timeout, return_when)

    def satisfied() -> bool:
        done = [f for f in futures if f._state in _DONE]
        if return_when == FIRST_COMPLETED:
            return bool(done)
        if return_when == FIRST_EXCEPTION and any(f._state == _FINISHED and f._exception is not None for f in done):
            return True
        return len(done) == len(futures)

    ex.switch_point(
        _acc(ex, "wait futures", write=False, sync="wait"),
        ready=satisfied,
        deadline=_deadline(ex, timeout),
        waiting_for=futures[0] if futures else None,
    )
    done = {f for f in futures if f._state in _DONE}
    return _cf._base.DoneAndNotDoneFutures(done, set(futures) - done)


def as_completed(fs: Iterable[Any], timeout: float | None = None) -> Iterator[Any]:
    """``concurrent.futures.as_completed`` for racekit futures: in completion order."""
    futures, ours = _split(fs)
    ex = current_execution()
    if not ours or ex is None:
        yield from _cf.as_completed(futures, timeout)
        return
    end = _deadline(ex, timeout)
    pending = list(futures)
    while pending:
        if not ex.switch_point(
            _acc(ex, "as_completed", write=False, sync="wait"),
            ready=lambda: any(f._state in _DONE for f in pending),
            deadline=end,
            waiting_for=pending[0],
        ):
            raise TimeoutError(f"{len(pending)} (of {len(futures)}) futures unfinished")
        finished = sorted((f for f in pending if f._state in _DONE), key=lambda f: f._order)
        for f in finished:
            pending.remove(f)
        yield from finished
