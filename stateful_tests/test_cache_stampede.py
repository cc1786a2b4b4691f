"""State machine for the cache stampede: readers of keys "a" (warm, expired) and "b" (cold).

Loads take 0.1 s and entries live 0.25 s of virtual time (so a few loads of "b" make "a" expire again); a reader that waits
for a leader's load lets the clock run.  Checked: every reader gets a value
of its key and versions never go backwards (spec), nobody waits forever
(hang check), and at most one loader call per key per expiry (invariant on
the origin's call log).  The stale-while-revalidate variant refreshes in a
thread it starts itself; ``SystemThreads`` lets the live machine run it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit.catalogue import Variant
from racekit.machine import ConcurrentStateMachine, quiescent_invariant
from racekit.machine_ext import CanAllBlock, PerVariantScenarios, SystemThreads, TeardownSafe
from racekit.testing import variant_tests
from racekit.threads import ThreadHarness
from specs.cache_stampede import CacheSpec, Reader, too_many_loads
from systems import cache_stampede

GET_A = ("get", ("a",))
GET_B = ("get", ("b",))
PAUSE = ("pause", (0.2,))


class Machine(SystemThreads, CanAllBlock, TeardownSafe, PerVariantScenarios, ConcurrentStateMachine):
    system = cache_stampede.SYSTEM
    spec = CacheSpec(warm=("a",))
    threads = 3
    max_ops = 6
    operations = {"get": (st.sampled_from(["a", "b"]),), "pause": (st.sampled_from([0.1, 0.2, 0.3]),)}
    # Fixed variants: a stampede at t=0, then both readers come back at t=0.3,
    # inside the early-refresh window of the value loaded at t=0.1 (expires 0.35).
    explore_scenario = [[GET_A, PAUSE, GET_A], [GET_A, PAUSE, GET_A]]
    explore_scenarios = {
        "naive": [[GET_A], [GET_A]],
        # T1's get("a") must start after T0's load ended (the clock moves only
        # when every reader waits) and before T0 publishes: T1 first waits out
        # a load of its own.
        "unlocked_check": [[GET_A], [GET_B, GET_A]],
    }

    @classmethod
    def harness(cls, variant: Variant | None = None) -> ThreadHarness:
        """Operations go to a :class:`Reader` around the cache (``get`` and
        think-time ``pause``); tracing still covers the cache's own code."""
        h = super().harness(variant)
        build = h.factory
        h.factory = lambda: Reader(build())
        return h

    @quiescent_invariant("one loader call per key per expiry")
    def single_flight(self, obj: Any, history: Any) -> None:
        cache = obj.cache
        problem = too_many_loads(cache.origin.loads, cache.ttl, cache.early_window)
        if problem:
            raise AssertionError(problem)


TestCacheStampedeMachine = Machine.TestCase
test_cache_stampede = variant_tests(Machine)


def test_four_readers_one_load_per_fixed_variant() -> None:
    """Four readers on the expired key, every schedule (DPOR): one load each time."""
    from racekit.sched.explore import search

    for name in ("single_flight", "stale_while_revalidate", "early_refresh"):
        harness = Machine.harness(cache_stampede.SYSTEM.variant(name))
        result = search(harness.program([[GET_A], [GET_A], [GET_A], [GET_A]]), "dfs", budget=20_000)
        assert result.exhausted and not result.failed, (name, result.kind, result.message, result.schedules)
