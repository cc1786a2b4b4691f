"""State machine for the write-through cache: writers and readers of keys "a" and "b".

Three logical threads call ``update(key, value)`` (values 1, 2, or -1,
which the database rejects) and ``read(key)`` on one application server.
Every cache request and every SQL statement is a switch point of its own
(``sync.external``), so the scheduler interleaves threads between requests
- where a real server's threads interleave - and DPOR knows which requests
commute.  Checked: linearizability against the register (fixed variants),
no read returns a never-committed value, and at quiescence the cache equals
the database.  The ``*_redis`` variants run the same code on a real
redis-server.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit import quiescent_invariant, variant_tests
from specs.write_through import (
    CONVERGED,
    HIT,
    NEVER_COMMITTED,
    TAGGED,
    cache_disagrees,
    holds_value,
    mistagged,
    never_committed_read,
    wasted_read,
)
from stateful_tests._cache_machine import LINEARIZABILITY, CacheMachine
from systems import write_through


def update(key: str, value: int) -> tuple[str, tuple[Any, ...]]:
    return ("update", (key, value))


def read(key: str) -> tuple[str, tuple[Any, ...]]:
    return ("read", (key,))


KEY = st.sampled_from(["a", "b"])


class Machine(CacheMachine):
    system = write_through.SYSTEM
    threads = 3
    max_ops = 5
    operations = {"update": (KEY, st.sampled_from([1, 2, -1])), "read": (KEY,)}
    judged = (LINEARIZABILITY, NEVER_COMMITTED, CONVERGED, HIT, TAGGED)
    # Fixed variants, every schedule: two writers race (1 vs 2), then a
    # rejected write races a reader.
    seed_scenario = [[update("a", 1), update("a", -1)], [update("a", 2), read("a")]]
    variant_seeds = {
        "cache_first": [[update("a", -1)], [read("a")]],
        "db_then_set": [[update("a", 1)], [update("a", 2)]],
        "db_then_set_redis": [[update("a", 1)], [update("a", 2)]],
    }

    @quiescent_invariant(NEVER_COMMITTED)
    def only_committed_values(self, obj: Any, history: Any) -> None:
        problem = never_committed_read(history, obj.db.commits)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(CONVERGED)
    def converged(self, obj: Any, history: Any) -> None:
        problem = cache_disagrees(obj.cache.entries(), obj.db.rows())
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(HIT)
    def hits_are_served(self, obj: Any, history: Any) -> None:
        problem = wasted_read(obj.db.ledger, holds_value)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(TAGGED)
    def tagged(self, obj: Any, history: Any) -> None:
        problem = mistagged(obj.cache.entries(), obj.db.commits)
        if problem:
            raise AssertionError(problem)


test_write_through = variant_tests(Machine)
