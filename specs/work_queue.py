"""Spec and environment for the work queue with backpressure (seed project 4).

Environment: :class:`JobLog`, the job handler.  ``handle(job)`` takes
``work`` seconds (``racekit.sync.sleep`` - virtual under the scheduler; the
benchmark passes its own handlers) and records the job as processed.

Spec, for the callers' side: ``submit(job)`` returns True (accepted) or
raises ``Rejected`` - always on a closed queue, and on an open one when it
stayed full for the whole submit timeout, which the spec does not model
(either outcome is allowed while open).  ``shutdown()`` closes.

What the spec cannot see is checked at quiescence: every job accepted is
processed exactly once, no rejected job is processed ("every job processed
exactly once or rejected to its caller"), and the queue's high-water mark
never exceeded its capacity ("bound never exceeded").  "Shutdown completes"
is the run's hang verdict: a shutdown still waiting at the end is a hang.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any, ClassVar

from racekit import History, Outcomes, Spec, sync

REJECTED = ("error", "Rejected")


class JobLog:
    """Handles a job in ``work`` seconds and remembers it."""

    def __init__(self, work: float = 0.1) -> None:
        self.work = work
        self.processed: list[Any] = []
        self._mutex = threading.Lock()  # real threads only; never contended under control

    def __call__(self, job: Any) -> None:
        sync.sleep(self.work)
        with self._mutex:
            self.processed.append(job)


def submit_results(closed: bool) -> tuple[Any, ...]:
    """What a submit may answer: a closed queue always rejects.

    post: REJECTED in __return__
    post: (True in __return__) == (not closed)
    """
    return (REJECTED,) if closed else (True, REJECTED)


class WorkQueueSpec(Spec):
    """``submit(job) -> True | Rejected``, ``shutdown()``; state: closed or not."""

    name: ClassVar[str] = "work-queue"

    def init(self) -> Hashable:
        return False

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "submit":
            return Outcomes(tuple((state, result) for result in submit_results(bool(state))))
        if name == "shutdown":
            return True, None
        if name == "pause":
            return state, None
        raise ValueError(f"work queue spec has no operation {name!r}")


def unaccounted(history: History, processed: Iterable[Any]) -> str | None:
    """Accepted jobs processed exactly once; rejected ones never."""
    accepted = Counter(op.args[0] for op in history if op.name == "submit" and op.status == "ok" and op.result is True)
    done = Counter(processed)
    if accepted == done:
        return None
    parts = []
    lost = accepted - done
    extra = done - accepted
    if lost:
        parts.append(f"accepted but never processed: {sorted(lost.elements(), key=repr)}")
    if extra:
        parts.append(f"processed but not accepted (or twice): {sorted(extra.elements(), key=repr)}")
    return "; ".join(parts)


class Producer:
    """The workload side of a test run: submits, shuts down, and pauses.

    ``pause(seconds)`` is think time: without it virtual time moves only
    while a submit waits for room, so shutdown would always come before any
    job finished and idle workers would never be exercised.
    """

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def submit(self, job: Any) -> Any:
        return self.queue.submit(job)

    def shutdown(self) -> None:
        self.queue.shutdown()

    def pause(self, seconds: float) -> None:
        sync.sleep(seconds)
