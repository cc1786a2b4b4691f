"""State machine for the work queue: submits and shutdowns on 2 threads, 2 workers.

The workers are threads the queue starts itself (the live machine runs them
like operations).  A submit may wait for room, never forever (it has a
timeout), and a shutdown must return: either left waiting at the end is a hang.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, quiescent_invariant, run_scenario, variant_tests
from specs.work_queue import Producer, WorkQueueSpec, unaccounted
from systems import work_queue


def submit(job: int) -> tuple[str, tuple[Any, ...]]:
    return ("submit", (job,))


SHUTDOWN = ("shutdown", ())
PAUSE = ("pause", (0.3,))


class Machine(ConcurrentStateMachine):
    system = work_queue.SYSTEM
    spec = WorkQueueSpec()
    threads = 2
    max_ops = 5
    operations = {"submit": (st.integers(1, 4),), "shutdown": (), "pause": (st.sampled_from([0.05, 0.3]),)}
    # Fixed variant: overload (the third submit waits for room), then idle
    # workers at shutdown (the pause lets every job finish first).
    seed_scenario = [[submit(1), submit(2), PAUSE, SHUTDOWN], [submit(3)]]
    variant_seeds = {
        "unbounded": [[submit(1), submit(2)]],
        "drop_when_full": [[submit(1), submit(2)]],
        "shutdown_loses_jobs": [[submit(1), SHUTDOWN]],
        "shutdown_wakes_one": [[submit(1), PAUSE, SHUTDOWN]],
    }

    @classmethod
    def subject(cls, obj: Any) -> Any:
        """Operations go to a :class:`Producer` around the queue (adds think time)."""
        return Producer(obj)

    @quiescent_invariant("every job processed exactly once or rejected to its caller")
    def accounted(self, obj: Any, history: Any) -> None:
        problem = unaccounted(history, obj.queue.handler.processed)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant("bound never exceeded")
    def bounded(self, obj: Any, history: Any) -> None:
        q = obj.queue
        if q.peak > q.capacity:
            raise AssertionError(f"{q.peak} jobs were buffered in a queue of capacity {q.capacity}")


test_work_queue = variant_tests(Machine)


def test_overload_is_rejected_to_the_caller() -> None:
    """One worker busy, buffer full: the next submit waits its timeout, then is
    rejected - the caller sees it - and everything accepted is still processed."""
    from specs.work_queue import JobLog

    def slow() -> work_queue.WorkQueue:
        return work_queue.WorkQueue(JobLog(work=1.0), capacity=1, workers=1, submit_timeout=0.5)

    variant = replace(work_queue.SYSTEM.variant("bounded"), factory=slow)
    run = run_scenario(Machine, variant, [[submit(1), submit(2), submit(3), SHUTDOWN]])
    assert not run.failed, run.message
    results = [op.result for op in run.state.recorder.history() if op.name == "submit"]
    assert results == [True, True, ("error", "Rejected")], results
    assert run.state.obj.queue.handler.processed == [1, 2]


def test_workers_are_configurable() -> None:
    from specs.work_queue import JobLog

    for n in (1, 3, 8):
        q = work_queue.WorkQueue(JobLog(work=0.0), capacity=4, workers=n)
        for job in range(10):
            q.submit(job)
        assert len(q.workers) == n
        q.shutdown()
        assert sorted(q.handler.processed) == list(range(10))
