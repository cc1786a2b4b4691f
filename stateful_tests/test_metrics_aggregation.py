"""State machine for fleet metrics: requests recorded on two nodes by 3 handler threads.

Operations: ``record(node, ms)`` (a served request and its latency) and
``total()`` (the dashboard's count, linearizable against ``FleetCountSpec``).
At quiescence two invariants judge the fleet:

* ``count_is_sum`` - the fleet total, and the count of the merged sketch,
  equal the number of requests recorded;
* ``quantile_error`` - p50, p90 and p99 of the merged sketch are within
  ``ALPHA`` (relative) of the exact quantiles of every latency recorded.

Latencies are drawn log-uniformly (1 ms .. ~10 s): skewed data, where an
average of quantiles is furthest from the truth.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import racekit
from racekit import ConcurrentStateMachine, History, PROFILES, quiescent_invariant, System, Variant, variant_tests
from specs.metrics_aggregation import exact_quantile, FleetCountSpec, relative_error, within
from systems import metrics_aggregation as ma

LATENCY = st.integers(0, 40).map(lambda k: round(1.26**k))  # 1 ms .. 10 s, log-uniform


def recorded(history: History) -> list[int]:
    return [int(op.args[1]) for op in history if op.name == "record" and op.status == "ok"]


class Machine(ConcurrentStateMachine):
    system = ma.SYSTEM
    spec = FleetCountSpec()
    threads = 3
    max_ops = 5
    operations = {"record": (st.sampled_from(ma.NODES), LATENCY), "total": ()}
    seed_scenario = [[("record", ("a", 5))], [("record", ("a", 7))]]
    variant_seeds = {
        # one fast request on a, one slow one on b: the mean of the two p99s is a latency nobody saw
        "averaged_p99": [[("record", ("a", 1))], [("record", ("b", 1000))]],
    }

    @quiescent_invariant("count_is_sum")
    def count_is_sum(self, fleet: Any, history: History) -> None:
        n = len(recorded(history))
        total, merged = fleet.total(), int(fleet.merged().count)
        assert total == n and merged == n, (
            f"{n} requests recorded, but the fleet total is {total} and the merged sketch counts {merged}"
        )

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
# The sketch library's own code, traced: DDSketch.add is a read-modify-write
# too (``self._count += weight``, the store's bins), so a sketch shared without
# a lock loses samples; the locked variant only enters a sketch under its lock.
# (The sharded variant is left out: on this engine DPOR keys an attribute by
# its name, not its object, so two shards' sketches look shared and the space
# of a two-request scenario runs past 20,000 schedules; each shard's sketch is
# entered only under that shard's lock, as in ``locked``.)
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
