"""State machine for the bounded queue: puts, takes and shutdowns on 3 logical threads.

A take left waiting at the end is fine while the queue is empty and open
(the spec says BLOCKED, not error); a take left waiting while an item is
buffered, or after shutdown, is a hang.  Likewise a put may wait only while
the queue is full and open.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, quiescent_invariant, variant_tests
from specs.bounded_queue import BlockingQueueSpec, lost_or_duplicated, over_capacity
from systems import bounded_queue


class Machine(ConcurrentStateMachine):
    system = bounded_queue.SYSTEM
    spec = BlockingQueueSpec()
    threads = 3
    max_ops = 5
    operations = {"put": (st.integers(1, 3),), "take": (), "shutdown": ()}
    # The smallest scenario that shows each bug, explored exhaustively first.
    # Consumers come first: the first schedule DFS tries runs T0 first, so
    # "consumers wait, then the producer runs" needs no preemption at all.
    seed_scenario = [[("take", ())], [("put", (1,)), ("shutdown", ())], [("put", (2,)), ("take", ())]]
    variant_seeds = {
        "check_then_put": [[("put", (1,)), ("put", (2,))], [("put", (3,))]],
        "notify_on_empty": [[("take", ())], [("take", ())], [("put", (1,)), ("put", (2,))]],
        "if_not_while": [[("take", ())], [("put", (1,))], [("take", ())]],
        "shutdown_drops": [[("put", (1,)), ("shutdown", ())]],
        "shutdown_strands": [[("take", ())], [("take", ())], [("shutdown", ())]],
    }

    @classmethod
    def may_block(cls, obj: Any, name: str, args: tuple[Any, ...]) -> bool:
        if obj.closed:
            return False  # shutdown must end every waiting put and take
        if name == "take":
            return not obj.items
        if name == "put":
            return len(obj.items) >= obj.capacity
        return False

    @quiescent_invariant("never over capacity")
    def capacity(self, obj: Any, history: Any) -> None:
        problem = over_capacity(history, obj.capacity)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant("every item consumed exactly once or returned by shutdown")
    def accounted(self, obj: Any, history: Any) -> None:
        problem = lost_or_duplicated(history, list(obj.items))
        if problem:
            raise AssertionError(problem)


test_bounded_queue = variant_tests(Machine)
