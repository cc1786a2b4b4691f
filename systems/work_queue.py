"""Work queue with backpressure (seed project 4).

Producers ``submit(job)``; a pool of ``workers`` threads (``racekit.sync.Thread``,
started by the queue on the first submit) runs ``handler(job)``.  The buffer
holds at most ``capacity`` jobs.  A submit that finds it full waits up to
``submit_timeout`` seconds for room, then raises :class:`Rejected`: the caller
*sees* the refusal and can retry, shed load or slow down (backpressure).
``shutdown()`` stops accepting, lets the workers drain what was accepted, and
returns when every worker has exited.

Variants:

* ``bounded`` (fixed) - the above: one lock, ``not_empty``/``not_full``
  conditions, ``while`` loops, draining shutdown with ``join``.
* ``unbounded`` - the buffer has no limit: submits never wait, memory grows
  without bound under overload (the ``capacity`` argument is ignored).
* ``drop_when_full`` - a full buffer drops the job and still reports success.
* ``shutdown_loses_jobs`` - workers stop at shutdown without draining: jobs
  that were accepted and still queued are never run.
* ``shutdown_wakes_one`` - shutdown wakes one idle worker with ``notify()``
  and then joins them all: the other idle workers sleep on, shutdown never
  returns.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from racekit import sync, System, Variant
from specs.work_queue import JobLog


class Rejected(Exception):
    """The queue refused a job: it is shut down, or stayed full for the whole timeout."""


class WorkQueue:
    def __init__(
        self,
        handler: Callable[[Any], None],
        capacity: int = 1,
        workers: int = 2,
        submit_timeout: float = 0.5,
    ) -> None:
        self.handler = handler
        self.capacity = capacity
        self.n_workers = workers
        self.submit_timeout = submit_timeout
        self.jobs: collections.deque[Any] = collections.deque()
        self.closed = False
        self.peak = 0  # high-water mark of the buffer
        self.workers: list[sync.Thread] = []
        self.lock = sync.Lock()
        self.not_empty = sync.Condition(self.lock)
        self.not_full = sync.Condition(self.lock)

    # ------------------------------------------------------------ producers
    def submit(self, job: Any) -> bool:
        with self.lock:
            if self.closed:
                raise Rejected("shut down")
            self._start_workers()
            deadline = sync.monotonic() + self.submit_timeout
            while len(self.jobs) >= self.capacity and not self.closed:
                remaining = deadline - sync.monotonic()
                if remaining <= 0:
                    raise Rejected("queue full")  # backpressure, told to the caller
                self.not_full.wait(remaining)
            if self.closed:
                raise Rejected("shut down")
            self._enqueue(job)
            return True

    def _enqueue(self, job: Any) -> None:
        self.jobs.append(job)
        self.peak = max(self.peak, len(self.jobs))
        self.not_empty.notify()

    def _start_workers(self) -> None:
        while len(self.workers) < self.n_workers:
            worker = sync.Thread(target=self._work, name=f"worker-{len(self.workers)}")
            self.workers.append(worker)
            worker.start()

    # ------------------------------------------------------------ workers
    def _next(self) -> tuple[bool, Any]:
        with self.lock:
            while not self.jobs and not self.closed:
                self.not_empty.wait()
            if not self.jobs:
                return False, None  # closed and drained
            job = self.jobs.popleft()
            self.not_full.notify()
            return True, job

    def _work(self) -> None:
        while True:
            more, job = self._next()
            if not more:
                return
            self.handler(job)

    # ------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        with self.lock:
            self.closed = True
            self.not_empty.notify_all()  # idle workers: drain, then exit
            self.not_full.notify_all()  # waiting submitters: rejected
            workers = list(self.workers)
        for worker in workers:
            worker.join()


class UnboundedWorkQueue(WorkQueue):
    """Bug: buffer everything - submit never waits and never refuses."""

    def submit(self, job: Any) -> bool:
        with self.lock:
            if self.closed:
                raise Rejected("shut down")
            self._start_workers()
            self._enqueue(job)
            return True


class DropWhenFullWorkQueue(WorkQueue):
    """Bug: a full buffer drops the job and reports success."""

    def submit(self, job: Any) -> bool:
        with self.lock:
            if self.closed:
                raise Rejected("shut down")
            self._start_workers()
            if len(self.jobs) >= self.capacity:
                return True  # "overloaded: shed the job" - but the caller is told it was accepted
            self._enqueue(job)
            return True


class ShutdownLosesJobsWorkQueue(WorkQueue):
    """Bug: workers exit at shutdown even with jobs still queued."""

    def _next(self) -> tuple[bool, Any]:
        with self.lock:
            while not self.jobs and not self.closed:
                self.not_empty.wait()
            if self.closed:
                return False, None  # stop now - what is still queued is dropped
            job = self.jobs.popleft()
            self.not_full.notify()
            return True, job


class ShutdownWakesOneWorkQueue(WorkQueue):
    """Bug: shutdown wakes one idle worker, then waits for all of them."""

    def shutdown(self) -> None:
        with self.lock:
            self.closed = True
            self.not_empty.notify()  # should be notify_all(): other idle workers sleep on
            self.not_full.notify_all()
            workers = list(self.workers)
        for worker in workers:
            worker.join()


def _factory(cls: type[WorkQueue]) -> Any:
    def build() -> WorkQueue:
        return cls(JobLog(work=0.1), capacity=1, workers=2, submit_timeout=0.5)

    build.__name__ = f"build_{cls.__name__}"
    return build


SYSTEM = System(
    name="work_queue",
    summary="Work queue with backpressure: bounded buffer, submit timeout -> explicit rejection, draining shutdown",
    kind="thr",
    properties=(
        "every job processed exactly once or rejected to its caller",
        "bound never exceeded",
        "deadlock",
        "linearizability",
    ),
    variants=[
        Variant("bounded", _factory(WorkQueue), expect="correct"),
        Variant(
            "unbounded",
            _factory(UnboundedWorkQueue),
            expect="violation",
            property="bound never exceeded",
            bug="submit appends whatever the buffer holds: under overload the queue grows past its capacity instead of pushing back",
        ),
        Variant(
            "drop_when_full",
            _factory(DropWhenFullWorkQueue),
            expect="violation",
            property="every job processed exactly once or rejected to its caller",
            bug="a submit that finds the buffer full drops the job and returns True: the caller believes it was accepted",
        ),
        Variant(
            "shutdown_loses_jobs",
            _factory(ShutdownLosesJobsWorkQueue),
            expect="violation",
            property="every job processed exactly once or rejected to its caller",
            bug="workers exit as soon as shutdown closes the queue: accepted jobs still in the buffer are never run",
        ),
        Variant(
            "shutdown_wakes_one",
            _factory(ShutdownWakesOneWorkQueue),
            expect="violation",
            property="deadlock",
            bug="shutdown wakes idle workers with notify() instead of notify_all() and then joins them all: one worker sleeps on and shutdown never returns",
        ),
    ],
)
