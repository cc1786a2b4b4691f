"""State machine for the cache stampede: readers of keys "a" (warm, expired) and "b" (cold).

Loads take 0.1 s and entries live 0.25 s of virtual time (so a few loads of "b" make "a" expire again); a reader that waits
for a leader's load lets the clock run.  Checked: every reader gets a value
of its key and versions never go backwards (spec), nobody waits forever
(hang check), and at most one loader call per key per expiry (invariant on
the origin's call log).  The stale-while-revalidate variant refreshes in a
thread it starts itself; the live machine runs it like an operation.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, every_schedule, quiescent_invariant, variant_tests
from specs.cache_stampede import CacheSpec, Reader, too_many_loads
from systems import cache_stampede

GET_A = ("get", ("a",))
GET_B = ("get", ("b",))
PAUSE = ("pause", (0.2,))


class Machine(ConcurrentStateMachine):
    system = cache_stampede.SYSTEM
    spec = CacheSpec(warm=("a",))
    threads = 3
    max_ops = 6
    operations = {"get": (st.sampled_from(["a", "b"]),), "pause": (st.sampled_from([0.1, 0.2, 0.3]),)}
    # Fixed variants: a stampede at t=0, then both readers come back at t=0.3,
    # inside the early-refresh window of the value loaded at t=0.1 (expires 0.35).
    seed_scenario = [[GET_A, PAUSE, GET_A], [GET_A, PAUSE, GET_A]]
    variant_seeds = {
        "naive": [[GET_A], [GET_A]],
        # T1's get("a") must start after T0's load ended (the clock moves only
        # when every reader waits) and before T0 publishes: T1 first waits out
        # a load of its own.
        "unlocked_check": [[GET_A], [GET_B, GET_A]],
    }

    @classmethod
    def subject(cls, obj: Any) -> Any:
        """Operations go to a :class:`Reader` around the cache (``get`` and
        think-time ``pause``); tracing still covers the cache's own code."""
        return Reader(obj)

    @quiescent_invariant("one loader call per key per expiry")
    def single_flight(self, obj: Any, history: Any) -> None:
        cache = obj.cache
        problem = too_many_loads(cache.origin.loads, cache.ttl, cache.early_window)
        if problem:
            raise AssertionError(problem)


test_cache_stampede = variant_tests(Machine)


def test_four_readers_one_load_per_fixed_variant() -> None:
    """Four readers on the expired key, every schedule (DPOR): one load each time."""
    for name in ("single_flight", "stale_while_revalidate", "early_refresh"):
        result = every_schedule(Machine, name, [[GET_A], [GET_A], [GET_A], [GET_A]], runs=20_000)
        assert result.coverage is not None and result.coverage.exhaustive, (name, result.stats)
        assert not result.failed, (name, result.kind, result.message)
