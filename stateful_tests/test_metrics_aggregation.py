"""State machine for fleet metrics: requests recorded on two nodes by 3 handler threads.

Operations: ``record(node, ms)`` (a served request and its latency),
``total()`` (the dashboard's count, linearizable against ``FleetCountSpec``)
and ``load()`` (count and total latency of the merged sketch, read mid-run).
At quiescence three invariants judge the fleet:

* ``snapshot_consistent`` - every ``load`` describes one set of requests:
  all that returned before it began, plus some of those in flight (a sketch
  copied while a request is added to it has the new count, not the new sum),
  and covers at least the count of any ``total`` that returned before it
  began (a node's counter and sketch move together);

* ``count_is_sum`` - the fleet total, and the count of the merged sketch,
  equal the number of requests recorded;
* ``quantile_error`` - p50, p90 and p99 of the merged sketch are within
  ``ALPHA`` (relative) of the exact quantiles of every latency recorded.

Latencies are drawn log-uniformly (1 ms .. ~10 s): skewed data, where an
average of quantiles is furthest from the truth.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from ddsketch import DDSketch
from hypothesis import strategies as st

import racekit
from racekit import (
    PROFILES,
    ConcurrentStateMachine,
    History,
    ProfileSettings,
    System,
    Variant,
    quiescent_invariant,
    sync,
    variant_tests,
)
from specs.metrics_aggregation import (
    FleetCountSpec,
    exact_quantile,
    load_problem,
    relative_error,
    within,
)
from systems import metrics_aggregation as ma

LATENCY = st.integers(0, 40).map(lambda k: round(1.26**k))  # 1 ms .. 10 s, log-uniform


def recorded(history: History) -> list[int]:
    return [int(op.args[1]) for op in history if op.name == "record" and op.status == "ok"]


class Machine(ConcurrentStateMachine):
    system = ma.SYSTEM
    spec = FleetCountSpec()
    threads = 3
    max_ops = 5
    operations = {"record": (st.sampled_from(ma.NODES), LATENCY), "total": (), "load": ()}
    seed_scenario = [[("record", ("a", 5))], [("record", ("a", 7))]]
    variant_seeds = {
        # one fast request on a, one slow one on b: the mean of the two p99s is a latency nobody saw
        "averaged_p99": [[("record", ("a", 1))], [("record", ("b", 1000))]],
        # a dashboard total, then a load, while a request is added to the sketch they read
        "locked": [[("record", ("a", 5))], [("total", ()), ("load", ())]],
        # T0 and T2 share shard 0 (thread id modulo 2); T1 reads while they write
        "sharded": [[("record", ("a", 5))], [("total", ()), ("load", ())], [("record", ("a", 7))]],
    }

    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Any:
        """A fixed sibling, traced into the sketch library, replays a broken
        variant's two-request counterexample over every schedule with at most
        two preemptions (every lost update here needs one); unbounded, that
        space runs into the thousands of schedules."""
        return replace(super().plan(variant, profile), cross_bound=2)

    @quiescent_invariant("count_is_sum")
    def count_is_sum(self, fleet: Any, history: History) -> None:
        n = len(recorded(history))
        total, merged = fleet.total(), int(fleet.merged().count)
        assert total == n and merged == n, (
            f"{n} requests recorded, but the fleet total is {total} and the merged sketch counts {merged}"
        )

    @quiescent_invariant("snapshot_consistent")
    def snapshot_consistent(self, fleet: Any, history: History) -> None:
        records = [op for op in history if op.name == "record"]
        totals = [op for op in history if op.name == "total" and op.status == "ok"]
        for load in history:
            if load.name != "load" or load.status != "ok":
                continue
            for total in totals:
                assert not total.precedes(load) or load.result[0] >= total.result, (
                    f"a total() read {total.result} requests, then a later load() covers only {load.result[0]}: "
                    "a node's count and sketch were not updated together"
                )
            done = [int(r.args[1]) for r in records if r.precedes(load)]
            overlapping = [
                int(r.args[1])
                for r in records
                if not r.precedes(load) and load.ret is not None and r.invoke < load.ret
            ]
            problem = load_problem(tuple(load.result), done, overlapping)
            assert problem is None, problem

    @quiescent_invariant("quantile_error")
    def quantile_error(self, fleet: Any, history: History) -> None:
        values = recorded(history)
        if not values:
            return
        for q in ma.QUANTILES:
            exact, estimate = exact_quantile(values, q), fleet.quantile(q)
            assert within(estimate, exact, ma.ALPHA), (
                f"p{round(q * 100)} of {sorted(values)} is {exact} ms, the fleet says {estimate:.4g} ms "
                f"(relative error {relative_error(estimate, exact):.3f} > alpha {ma.ALPHA})"
            )


test_metrics_aggregation = variant_tests(Machine)


# ---------------------------------------------------------------------------
# The sketch library's own code, traced (all three of its modules, not just
# ddsketch.py as in the fixed variants' checks): DDSketch.add is a
# read-modify-write too (``self._count += weight``, the store's bins), so a
# sketch shared without a lock loses samples; the locked variant only enters
# a sketch under its lock - every schedule of two requests, exhaustively.
# (Not the sharded variant: on this engine DPOR keys an attribute by its name,
# not its object, so two shards' sketches look shared and that space runs past
# 20,000 schedules; its ci check runs the budget's 2,060 with ddsketch.py
# traced.)
def _library_traced(fleet_type: type[ma.Fleet], strategy: str, budget: int) -> racekit.ExploreResult:
    import ddsketch.ddsketch
    import ddsketch.mapping
    import ddsketch.store

    def threads(fleet: ma.Fleet) -> list[Any]:
        return [lambda: fleet.record("a", 5), lambda: fleet.record("a", 7)]

    def check(fleet: ma.Fleet) -> None:
        sketch = fleet.merged()
        assert sketch.count == 2, f"the merged sketch counts {int(sketch.count)} of 2 samples"
        assert fleet.total() == 2, f"the node counts {fleet.total()} of 2 requests"

    return racekit.explore(
        fleet_type, threads, check, strategy=strategy, budget=budget,
        trace=[ma, ddsketch.ddsketch, ddsketch.store, ddsketch.mapping],
    )


def test_an_unlocked_sketch_loses_samples_inside_the_library() -> None:
    found = _library_traced(ma.Fleet, "bounded", 500)
    assert found.failed and "merged sketch counts 1 of 2" in found.message, found.message
    assert any("ddsketch" in str(row.get("where", "")) for row in found.trace), found.trace


def test_the_locked_variant_never_enters_a_sketch_unlocked() -> None:
    result = _library_traced(ma.LockedFleet, "dpor", 2_000)
    assert not result.failed, result.message
    assert result.coverage is not None and result.coverage.exhaustive, result.coverage


# ---------------------------------------------------------------------------
# Planted bugs: realistic mistakes in copies of the fixed variants, each of
# which the machine above must catch (a fixed variant is only as clean as the
# bugs it would catch).
class _AliasedMerge(ma.LockedFleet):
    """merged() folds every node into node a's own sketch instead of a fresh one."""

    def merged(self) -> Any:
        sketch = self.nodes["a"].latency
        for name in ma.NODES[1:]:
            sketch.merge(self.nodes[name].snapshot())
        return sketch


class _CoarseNode(ma.LockedNode):
    """Sketches configured with 5 % accuracy while the dashboard promises 1 %."""

    def __init__(self) -> None:
        super().__init__()
        self.latency = DDSketch(relative_accuracy=0.05)

    def snapshot(self) -> Any:
        copy = DDSketch(relative_accuracy=0.05)
        with self.lock:
            copy.merge(self.latency)
        return copy


class _CoarseFleet(ma.LockedFleet):
    node_type = _CoarseNode

    def merged(self) -> Any:
        sketch = DDSketch(relative_accuracy=0.05)
        for name in ma.NODES:
            sketch.merge(self.nodes[name].snapshot())
        return sketch


class _MaxOfQuantiles(ma.LockedFleet):
    """The 'pessimistic' dashboard: the worst node's quantile."""

    def quantile(self, q: float) -> float | None:
        values = [self.nodes[n].snapshot().get_quantile_value(q) for n in ma.NODES if self.nodes[n].count()]
        return max(values) if values else None


class _ForgetsShardZero(ma.ShardedNode):
    def count(self) -> int:
        total = 0
        for shard in self.shards[1:]:
            with shard.lock:
                total += shard.requests
        return total


class _ForgetsShardZeroFleet(ma.ShardedFleet):
    node_type = _ForgetsShardZero


class _UnlockedShards(ma.ShardedNode):
    """No lock on the write path 'because writers have their own shard' - but
    T0 and T2 share shard 0."""

    def record(self, ms: int) -> None:
        shard = self.shards[sync.thread_id() % self.SHARDS]
        shard.requests += 1
        shard.latency.add(ms)


class _UnlockedShardsFleet(ma.ShardedFleet):
    node_type = _UnlockedShards


class _UnlockedSnapshot(ma.LockedNode):
    """The dashboard copies a node's sketch without its lock ('a read cannot hurt')."""

    def snapshot(self) -> Any:
        copy = ma.new_sketch()
        copy.merge(self.latency)
        return copy


class _UnlockedSnapshotFleet(ma.LockedFleet):
    node_type = _UnlockedSnapshot


class _SplitRecord(ma.LockedNode):
    """The counter and the sketch each updated under the lock, but in two critical sections."""

    def record(self, ms: int) -> None:
        with self.lock:
            self.requests += 1
        with self.lock:
            self.latency.add(ms)


class _SplitRecordFleet(ma.LockedFleet):
    node_type = _SplitRecord


PLANTED = {
    "locked_unlocked_snapshot": (_UnlockedSnapshotFleet, "snapshot_consistent"),
    "locked_split_record": (_SplitRecordFleet, "snapshot_consistent"),
    "locked_aliased_merge": (_AliasedMerge, "count_is_sum"),
    "locked_coarse_sketch": (_CoarseFleet, "quantile_error"),
    "locked_max_of_quantiles": (_MaxOfQuantiles, "quantile_error"),
    "sharded_forgets_a_shard": (_ForgetsShardZeroFleet, "count_is_sum"),
    "sharded_unlocked_shards": (_UnlockedShardsFleet, "count_is_sum"),
}


# The planted classes live here: trace this file too.  Only the unlocked
# snapshot needs the library's own steps (a copy torn between ``add``'s
# updates); the rest are found, and minimized, faster without them.
TRACED = (ma.__file__, __file__)
LIBRARY_NEEDED = {"locked_unlocked_snapshot"}


class PlantedMachine(Machine):
    system = System(
        name="metrics_aggregation",
        summary="planted bugs",
        kind="thr",
        variants=[
            Variant(
                n, f, expect="violation", property=p,
                trace_files=(*ma.LIBRARY_TRACED, __file__) if n in LIBRARY_NEEDED else TRACED,
            )
            for n, (f, p) in PLANTED.items()
        ]
        + [Variant("locked", ma.LockedFleet, expect="correct")],
    )
    variant_seeds = {
        **{n: Machine.variant_seeds.get(n.split("_")[0], Machine.seed_scenario) for n in PLANTED},
        # the quantile bugs need latencies on both nodes
        "locked_max_of_quantiles": Machine.variant_seeds["averaged_p99"],
        "locked_coarse_sketch": Machine.variant_seeds["averaged_p99"],
    }


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_planted_bug_is_caught(planted: str) -> None:
    found = racekit.search(PlantedMachine, planted, PROFILES["ci"])
    # any property may fire first (an aliased merge also skews the quantiles; a
    # forgotten shard shows in a total() read mid-run)
    assert found.failed and found.property in ma.SYSTEM.properties, (found.property, found.message)
