"""Fleet quantiles: merged DDSketch vs averaging the nodes' quantiles; counter throughput.

1. Accuracy.  Generated skewed latencies (seeded, log-normal, different per
   node; one slow node with few requests) on 8 nodes.  For p50 .. p99.9 the
   exact quantile of the union (the baseline, computed in the same run), the
   merged DDSketch's answer (alpha = 0.01) and the mean and the max of the
   nodes' own quantiles, each with its relative error.
2. Throughput.  ``record`` per second with 1, 2 and 4 real threads (no
   scheduler), ratio to ``unsynchronized`` with the same threads, and the
   requests it lost.
3. Size.  Bins a sketch keeps for a million values vs the values themselves.

    .venv/bin/python benchmarks/metrics_aggregation.py
"""

from __future__ import annotations

import math
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from specs.metrics_aggregation import exact_quantile, relative_error  # noqa: E402
from systems import metrics_aggregation as ma  # noqa: E402

QUANTILES = (0.5, 0.9, 0.99, 0.999)
# (requests, median ms, sigma of log): seven healthy nodes and one slow, lightly loaded one
FLEET = [(40_000, 20, 0.6)] * 3 + [(25_000, 25, 0.7)] * 4 + [(2_000, 400, 0.9)]


def latencies(rng: random.Random, n: int, median: float, sigma: float) -> list[float]:
    return [median * math.exp(rng.gauss(0, sigma)) for _ in range(n)]


def accuracy() -> None:
    rng = random.Random(31)
    nodes = [latencies(rng, n, med, sig) for n, med, sig in FLEET]
    union = [v for node in nodes for v in node]
    sketches = []
    for node in nodes:
        sketch = ma.new_sketch()
        for v in node:
            sketch.add(v)
        sketches.append(sketch)
    merged = ma.new_sketch()
    for sketch in sketches:
        merged.merge(sketch)
    assert merged.count == len(union)
    print(f"accuracy: {len(nodes)} nodes, {len(union):,} requests (one slow node with {FLEET[-1][0]:,})")
    print(f"{'quantile':>8} {'exact ms':>9} {'merged sketch':>20} {'mean of nodes':>20} {'max of nodes':>20}")
    for q in QUANTILES:
        exact = exact_quantile(union, q)
        est = merged.get_quantile_value(q)
        per_node = [s.get_quantile_value(q) for s in sketches]
        mean, worst = sum(per_node) / len(per_node), max(per_node)
        cells = [f"{v:8.1f} ({relative_error(v, exact):6.1%})" for v in (est, mean, worst)]
        print(f"{'p' + format(q * 100, 'g'):>8} {exact:9.1f} " + " ".join(f"{c:>20}" for c in cells))


def rate(factory: type[ma.Fleet], threads: int, ops: int) -> tuple[float, int]:
    fleet = factory()
    per = ops // threads
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for i in range(per):
            fleet.record("a", 1 + i % 997)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    return per * threads / elapsed, per * threads - fleet.total()


def throughput(ops: int = 100_000) -> None:
    names = ["unsynchronized", "locked", "sharded"]
    print("\nthroughput: record() per second, best of 3, ratio to unsynchronized (the baseline)")
    print(f"{'threads':>7} " + " ".join(f"{n:>24}" for n in names))
    for threads in (1, 2, 4):
        cells, base = [], None
        for name in names:
            ops_s, lost = max(rate(ma.SYSTEM.variant(name).factory, threads, ops) for _ in range(3))
            base = base or ops_s
            cells.append(f"{ops_s / 1e3:6.0f}k/s x{ops_s / base:4.2f} lost={lost}")
        print(f"{threads:>7} " + " ".join(f"{c:>24}" for c in cells))


def size() -> None:
    rng = random.Random(7)
    sketch = ma.new_sketch()
    for v in latencies(rng, 1_000_000, 20, 1.0):
        sketch.add(v)
    bins = sum(1 for c in sketch._store.bins if c)  # the library keeps a dense array of counts
    print(f"\nsize: 1,000,000 log-normal values kept in {bins} non-empty bins "
          f"({len(sketch._store.bins)} allocated) instead of 1,000,000 floats")


if __name__ == "__main__":
    accuracy()
    throughput()
    size()
