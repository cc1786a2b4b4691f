"""Metrics aggregation across a fleet (seed exercise 31).

Each node counts the requests its handler threads serve and keeps a latency
histogram; a dashboard asks the fleet for the total and for p50/p90/p99.
The histogram is a DDSketch (the ``ddsketch`` package, Datadog's
implementation of Masson, Rim & Lee, VLDB 2019): a quantile it answers is
within relative error ``ALPHA`` of the exact one, and two sketches with the
same accuracy *merge* into the sketch of the union - which is what makes a
fleet-wide quantile possible at all.

Variants:

* ``unsynchronized`` - handler threads update the node's counter and
  sketch with no lock; ``self.requests += 1`` is a read and a write, and two
  threads that read the same value lose an increment.
* ``averaged_p99`` - counters are safe, but the fleet's quantile is the
  *mean of the nodes' quantiles*.  Quantiles do not average: one slow node
  with few requests drags the "fleet p99" to a value nobody saw.
* ``locked`` (fixed) - one lock per node around the counter and the
  sketch; the fleet merges copies of the node sketches.
* ``sharded`` (fixed) - every handler thread has its own shard (a counter
  and a sketch, each with its own lock, which only readers contend for); a
  node's count is the sum of its shards, the fleet merges every shard's
  sketch.  Writers never wait for each other (Java's ``LongAdder`` idea).

The sketch library is not thread-safe either (``DDSketch.add`` does
``self._count += weight``): both fixed variants only ever enter a sketch
under the lock that owns it (stateful_tests/test_metrics_aggregation.py
checks that with the library's own code traced).
"""

from __future__ import annotations

import ddsketch.ddsketch
from ddsketch import DDSketch

from racekit import System, Variant, sync

ALPHA = 0.01
"""Relative accuracy of every sketch: the answer to quantile q is within
ALPHA x the exact q-quantile (DDSketch's guarantee, for positive values)."""

QUANTILES = (0.5, 0.9, 0.99)
NODES = ("a", "b")


# The fixed variants are traced into the sketch library too: DDSketch.add is a
# read-modify-write (``self._count += weight``, the store's bins), so a sketch
# entered by two threads at once, or copied while another thread adds to it,
# loses or tears values - visible only when the library's own steps can be
# interleaved.  (Broken variants trace this file only: their saved traces
# must not name files inside a virtualenv.)
LIBRARY_TRACED = (__file__, ddsketch.ddsketch.__file__)


def new_sketch() -> DDSketch:
    return DDSketch(relative_accuracy=ALPHA)


# ---------------------------------------------------------------- one node
class UnsyncNode:
    """One node's request metrics, updated by its handler threads with no lock."""

    def __init__(self) -> None:
        self.requests = 0
        self.latency = new_sketch()

    def record(self, ms: int) -> None:
        self.requests += 1  # read, add, write: not atomic
        self.latency.add(ms)

    def count(self) -> int:
        return self.requests

    def snapshot(self) -> DDSketch:
        copy = new_sketch()
        copy.merge(self.latency)
        return copy


class LockedNode(UnsyncNode):
    """One lock around the counter and the sketch."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = sync.Lock()

    def record(self, ms: int) -> None:
        with self.lock:
            self.requests += 1
            self.latency.add(ms)

    def count(self) -> int:
        with self.lock:
            return self.requests

    def snapshot(self) -> DDSketch:
        copy = new_sketch()
        with self.lock:
            copy.merge(self.latency)
        return copy


class _Shard:
    """One handler thread's counter and sketch; its lock is contended only by readers."""

    def __init__(self) -> None:
        self.lock = sync.Lock()
        self.requests = 0
        self.latency = new_sketch()


class ShardedNode:
    """A fixed set of shards, picked by thread id modulo ``SHARDS``: writers
    on different shards never wait for each other.  Two threads may share a
    shard (more threads than shards, as in a real server), so each shard
    still has a lock; mostly only a reader contends for it."""

    SHARDS = 2

    def __init__(self) -> None:
        self.shards = tuple(_Shard() for _ in range(self.SHARDS))

    def record(self, ms: int) -> None:
        shard = self.shards[sync.thread_id() % self.SHARDS]
        with shard.lock:
            shard.requests += 1
            shard.latency.add(ms)

    def count(self) -> int:
        total = 0
        for shard in self.shards:
            with shard.lock:
                total += shard.requests
        return total

    def snapshot(self) -> DDSketch:
        copy = new_sketch()
        for shard in self.shards:
            with shard.lock:
                copy.merge(shard.latency)
        return copy


# --------------------------------------------------------------- the fleet
class Fleet:
    """The dashboard's view: totals and quantiles over every node."""

    node_type: type[UnsyncNode] | type[ShardedNode] = UnsyncNode

    def __init__(self) -> None:
        self.nodes = {name: self.node_type() for name in NODES}

    def record(self, node: str, ms: int) -> None:
        """A request served by ``node`` took ``ms`` milliseconds."""
        self.nodes[node].record(ms)

    def total(self) -> int:
        return sum(self.nodes[name].count() for name in NODES)

    def merged(self) -> DDSketch:
        """The fleet's latency sketch: the merge of every node's."""
        sketch = new_sketch()
        for name in NODES:
            sketch.merge(self.nodes[name].snapshot())
        return sketch

    def quantile(self, q: float) -> float | None:
        return self.merged().get_quantile_value(q)  # type: ignore[no-any-return]

    def load(self) -> tuple[int, int]:
        """The dashboard's load panel, read while requests are served: how many
        requests the latency sketch covers and their total latency (the mean
        is one over the other).  Both come from one merged sketch, so they must
        describe the same set of requests."""
        sketch = self.merged()
        return int(sketch.count), int(sketch.sum)


class LockedFleet(Fleet):
    node_type = LockedNode


class ShardedFleet(Fleet):
    node_type = ShardedNode


class AveragingFleet(LockedFleet):
    """Each node reports its own p99; the dashboard averages them."""

    def quantile(self, q: float) -> float | None:
        values = [
            self.nodes[name].snapshot().get_quantile_value(q) for name in NODES if self.nodes[name].count()
        ]
        return sum(values) / len(values) if values else None


SYSTEM = System(
    name="metrics_aggregation",
    summary="Request counts and latency quantiles across a fleet: counters and mergeable DDSketch histograms",
    kind="thr",
    properties=("count_is_sum", "quantile_error", "snapshot_consistent", "linearizability"),
    variants=[
        Variant(
            "unsynchronized",
            Fleet,
            expect="violation",
            property="count_is_sum",
            bug="self.requests += 1 with no lock: two handler threads read the same count and one request is lost",
        ),
        Variant(
            "averaged_p99",
            AveragingFleet,
            expect="violation",
            property="quantile_error",
            bug="the fleet quantile is the mean of the nodes' quantiles: a slow node with few requests moves it "
            "to a latency no request had",
        ),
        Variant("locked", LockedFleet, expect="correct", trace_files=LIBRARY_TRACED),
        Variant("sharded", ShardedFleet, expect="correct", trace_files=LIBRARY_TRACED),
    ],
)
