"""State machine for the background-rebuilt cache: reads, updates and pauses on 3 threads.

Operations go to an ``App`` around the cache (``get`` inside a "read" region,
``update`` = DB write + ``invalidate``, ``pause`` = think time); the DB's
loads run inside a "load" region.  "Readers never wait on a load" is checked
on the schedule itself by ``racekit.waits.WaitWatch``: at every step, no
thread inside a read may be blocked on something held (directly or through
lock owners) by a thread inside a load, nor run a load itself.  Refreshers
are threads the cache starts; the live machine runs them like operations.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, every_schedule, quiescent_invariant, run_scenario, variant_tests
from specs.background_rebuild_cache import (
    App,
    EventuallyConsistentCacheSpec,
    duplicate_loads,
    versions_backwards,
)
from systems import background_rebuild_cache

KEY = st.sampled_from(["a", "b"])


def get(key: str) -> tuple[str, tuple[Any, ...]]:
    return ("get", (key,))


def update(key: str) -> tuple[str, tuple[Any, ...]]:
    return ("update", (key,))


def pause(seconds: float) -> tuple[str, tuple[Any, ...]]:
    return ("pause", (seconds,))


class Machine(ConcurrentStateMachine):
    system = background_rebuild_cache.SYSTEM
    spec = EventuallyConsistentCacheSpec(("a", "b"))
    threads = 3
    max_ops = 6
    operations = {"get": (KEY,), "update": (KEY,), "pause": (st.sampled_from([0.1, 0.2]),)}
    # Two quick updates (loads take 0.3 s, then 0.1 s), a reader during and after.
    seed_scenario = [[update("a"), update("a")], [get("a"), pause(0.2), get("a"), pause(0.2), get("a")]]
    variant_seeds = {
        "blocking_refresh": [[update("a")], [get("a")], [get("a")]],
        "herd": [[update("a")], [get("a")], [get("a")]],
        # The second update comes 0.05 s after the first, once the first
        # refresh has read version 1 and is sleeping in its 0.3 s load.
        "older_over_newer": [[update("a"), pause(0.05), update("a")], [pause(0.2), get("a"), pause(0.2), get("a")]],
    }

    @classmethod
    def subject(cls, obj: Any) -> Any:
        return App(obj)

    @quiescent_invariant("readers never wait on a load")
    def readers_never_wait(self, obj: Any, history: Any) -> None:
        if obj.db.watch.found:
            raise AssertionError("; ".join(obj.db.watch.found[:3]))

    @quiescent_invariant("at most one load per key per staleness")
    def one_load(self, obj: Any, history: Any) -> None:
        problem = duplicate_loads(obj.db.loads)
        if problem:
            raise AssertionError(problem)

    @quiescent_invariant("versions never go backwards")
    def monotonic(self, obj: Any, history: Any) -> None:
        problem = versions_backwards(history)
        if problem:
            raise AssertionError(problem)


test_background_rebuild_cache = variant_tests(Machine)


def test_watch_sees_blocked_readers_not_only_the_loading_one() -> None:
    """The blocking variant's second reader is reported as blocked on the lock
    held across the load - the check is on the schedule, not on results."""
    run = run_scenario(Machine, "blocking_refresh", [[update("a"), get("a")], [get("a")]])
    found = run.state.obj.db.watch.found
    assert any("runs load('a') itself" in f for f in found), found
    assert any("is blocked on Lock#" in f and "inside load('a')" in f for f in found), found


def test_rcu_readers_never_wait_exhaustively() -> None:
    """Every schedule (DPOR) of two updates racing a reader: RCU readers never wait,
    one load per version, versions only move forward."""
    for scenario in (
        [[update("a"), update("a")], [get("a"), pause(0.2), get("a")]],
        [[update("a"), update("b")], [get("a"), get("b")]],
    ):
        result = every_schedule(Machine, "rcu", scenario, runs=5_000)
        assert not result.failed, (result.kind, result.message)
        assert result.coverage is not None and result.coverage.exhaustive, result.stats
