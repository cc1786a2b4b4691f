"""State machine for TTL vs version-checked caches, on the scheduler's virtual clock.

Three logical threads call ``read(key)``, ``update(key, value)`` and
``pause(seconds)`` (think time: the virtual clock moves when every thread
waits).  A database answer takes 0.2 s to come back; the TTL is 1 s.
Every read is timed (``specs.ttl_vs_version.Timed``) and judged on its
staleness: "never stale" and "stale by at most TTL", each variant against
the promises its declaration lists (``params["judged"]``).  The
``*_redis`` variants run the same code on a real redis-server.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit import quiescent_invariant, variant_tests
from specs.ttl_vs_version import (
    Timed,
    current,
    forgotten_fill,
    mistagged,
    older_than,
    stale_read,
    unexpired,
    wasted_read,
)
from stateful_tests._cache_machine import CacheMachine
from systems import ttl_vs_version
from systems.ttl_vs_version import HIT, KEPT, NEVER_STALE, TAGGED, TTL, WITHIN_TTL, VersionCheck


def update(key: str, value: int) -> tuple[str, tuple[Any, ...]]:
    return ("update", (key, value))


def read(key: str) -> tuple[str, tuple[Any, ...]]:
    return ("read", (key,))


def pause(seconds: float) -> tuple[str, tuple[Any, ...]]:
    return ("pause", (seconds,))


class Machine(CacheMachine):
    system = ttl_vs_version.SYSTEM
    threads = 3
    max_ops = 6
    operations = {
        "update": (st.sampled_from(["a", "b"]), st.sampled_from([1, 2])),
        "read": (st.sampled_from(["a", "b"]),),
        "pause": (st.sampled_from([0.5, 0.9]),),
    }
    # A reader fills at t=0 (its answer arrives at 0.2 s) while an update
    # commits; it comes back at 1.1 s, after the TTL but inside TTL + latency.
    # Fixed variants also race a second reader's fills against both.
    # The second update lands after the first fill, before the reader returns.
    seed_scenario = [[read("a"), pause(0.9), read("a")], [update("a", 1), pause(0.5), update("a", 2)], [read("a")]]
    variant_seeds = {
        "ttl_vs_never_stale": [[read("a"), read("a")], [update("a", 1)]],
        "ttl_from_fill": [[read("a"), pause(0.9), read("a")], [update("a", 1)]],
    }

    @classmethod
    def subject(cls, obj: Any) -> Any:
        return Timed(obj)

    @quiescent_invariant(NEVER_STALE)
    def never_stale(self, obj: Any, history: Any) -> None:
        problem = stale_read(obj.reads, obj.db.commits)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(WITHIN_TTL)
    def within_ttl(self, obj: Any, history: Any) -> None:
        problem = older_than(TTL, obj.reads, obj.db.commits)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant(HIT)
    def hits_are_served(self, obj: Any, history: Any) -> None:
        problem = wasted_read(obj.db.ledger, current if isinstance(obj.app, VersionCheck) else unexpired)
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


test_ttl_vs_version = variant_tests(Machine)
