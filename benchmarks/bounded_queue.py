"""Bounded queue throughput vs number of consumers (real threads, no scheduler).

One producer puts N items, C consumers take until shutdown.  Two workloads:

* ``empty``  - consumers do nothing with an item: the cost of the queue itself
  (lock, two conditions, wake-ups) under contention;
* ``io``     - each item costs a 0.5 ms ``time.sleep`` (an I/O wait, which
  releases the GIL): how far consumers scale before the producer or the
  queue's lock becomes the limit.

Baseline in the same process: the standard library's ``queue.Queue`` (same
design: one mutex, ``not_empty``/``not_full`` conditions), with ``None``
sentinels for shutdown.  Prints items/s and the ratio to the baseline, and
writes ``docs/systems/bounded_queue.png``.

    python benchmarks/bounded_queue.py [--quick]
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from systems.bounded_queue import BoundedQueue, ShutDown  # noqa: E402

CONSUMERS = (1, 2, 4, 8, 16, 32, 64)
CAPACITY = 64
WORK = {"empty": (0.0, 60_000), "io": (0.0005, 4_000)}


def run_ours(consumers: int, items: int, work: float) -> float:
    q = BoundedQueue(capacity=CAPACITY, grace=5.0)
    taken = [0] * consumers

    def consume(i: int) -> None:
        n = 0
        while True:
            try:
                q.take()
            except ShutDown:
                break
            if work:
                time.sleep(work)
            n += 1
        taken[i] = n

    pool = [threading.Thread(target=consume, args=(i,)) for i in range(consumers)]
    for t in pool:
        t.start()
    start = time.perf_counter()
    for i in range(items):
        q.put(i)
    left = q.shutdown()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    assert sum(taken) + len(left) == items, (sum(taken), len(left), items)
    return items / elapsed


def run_stdlib(consumers: int, items: int, work: float) -> float:
    q: queue.Queue[int | None] = queue.Queue(CAPACITY)

    def consume() -> None:
        while True:
            item = q.get()
            if item is None:
                break
            if work:
                time.sleep(work)

    pool = [threading.Thread(target=consume) for _ in range(consumers)]
    for t in pool:
        t.start()
    start = time.perf_counter()
    for i in range(items):
        q.put(i)
    for _ in pool:
        q.put(None)
    for t in pool:
        t.join()
    return items / (time.perf_counter() - start)


def main() -> None:
    quick = "--quick" in sys.argv
    results: dict[str, dict[str, list[float]]] = {}
    for workload, (work, items) in WORK.items():
        if quick:
            items //= 10
        results[workload] = {"racekit BoundedQueue": [], "queue.Queue": []}
        print(f"\nworkload {workload!r}: {items} items, capacity {CAPACITY}, consumer work {work * 1e3:.1f} ms/item")
        print(f"{'consumers':>9} {'BoundedQueue items/s':>22} {'queue.Queue items/s':>22} {'ratio':>7}")
        for c in CONSUMERS:
            ours = max(run_ours(c, items, work) for _ in range(3))
            base = max(run_stdlib(c, items, work) for _ in range(3))
            results[workload]["racekit BoundedQueue"].append(ours)
            results[workload]["queue.Queue"].append(base)
            print(f"{c:>9} {ours:>22,.0f} {base:>22,.0f} {ours / base:>7.2f}")
    plot(results)


def plot(results: dict[str, dict[str, list[float]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(10, 4))
    for ax, (workload, series) in zip(axes, results.items(), strict=True):
        for name, values in series.items():
            ax.plot(CONSUMERS, values, marker="o", label=name)
        ax.set_xscale("log", base=2)
        if workload == "io":
            ax.set_yscale("log")
        ax.set_xticks(CONSUMERS, [str(c) for c in CONSUMERS])
        ax.set_xlabel("consumers (1 producer)")
        ax.set_ylabel("items/s")
        ax.set_title(f"workload: {workload}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("bounded_queue: throughput vs consumers (CPython 3.11, 2 cores)")
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "bounded_queue.png"
    fig.savefig(out, dpi=110)
    print(f"\nplot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
