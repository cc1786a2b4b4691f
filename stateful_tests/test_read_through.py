"""State machine for the read-through cache: readers fill, writers invalidate.

Three logical threads call ``read(key)`` and ``update(key, value)`` on one
application server; every cache request and SQL statement is a switch
point (``sync.external``).  Checked: linearizability against the register
(fixed variants) and no permanently stale entry at quiescence.  The
``*_redis`` variants run the same code on a real redis-server.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit import quiescent_invariant, variant_tests
from specs.read_through import (
    HIT,
    KEPT,
    STALE,
    TAGGED,
    cache_disagrees,
    forgotten_fill,
    holds_value,
    mistagged,
    wasted_read,
)
from stateful_tests._cache_machine import LINEARIZABILITY, CacheMachine
from systems import read_through


def update(key: str, value: int) -> tuple[str, tuple[Any, ...]]:
    return ("update", (key, value))


def read(key: str) -> tuple[str, tuple[Any, ...]]:
    return ("read", (key,))


KEY = st.sampled_from(["a", "b"])


class Machine(CacheMachine):
    system = read_through.SYSTEM
    threads = 3
    max_ops = 5
    operations = {"update": (KEY, st.sampled_from([1, 2, -1])), "read": (KEY,)}
    judged = (LINEARIZABILITY, STALE, HIT, TAGGED, KEPT)
    # Fixed variants, every schedule: two readers (one holds the lease, one
    # finds it) race two updates.
    seed_scenario = [[read("a"), read("a")], [update("a", 1), update("a", 2)]]
    variant_seeds = {
        "stale_fill": [[read("a")], [update("a", 1)]],
        "stale_fill_redis": [[read("a")], [update("a", 1)]],
    }

    @quiescent_invariant(STALE)
    def nothing_stale(self, obj: Any, history: Any) -> None:
        problem = cache_disagrees(obj.cache.entries(), obj.db.rows())
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(HIT)
    def hits_are_served(self, obj: Any, history: Any) -> None:
        problem = wasted_read(obj.db.ledger, holds_value)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(KEPT)
    def fills_kept(self, obj: Any, history: Any) -> None:
        problem = forgotten_fill(obj.db.ledger)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(TAGGED)
    def tagged(self, obj: Any, history: Any) -> None:
        problem = mistagged(obj.cache.entries(), obj.db.commits)
        if problem:
            raise AssertionError(problem)


test_read_through = variant_tests(Machine)
