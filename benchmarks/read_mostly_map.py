"""Read-mostly map: reads/s and writes/s per variant, write ratio and thread count.

Real threads, no scheduler.  The map holds ``SIZE`` keys; each thread runs a
pre-generated mix of ``get`` and ``put`` (``write ratio`` of them puts) for
``SECONDS``.  Variants: copy-on-write (lock-free reads, O(n) copy per write),
the readers-writer lock of ``systems/read_mostly_map.py``, one plain lock.
Ratios are against ``locked`` in the same cell.  Writes
``docs/systems/read_mostly_map.png``.

    python benchmarks/read_mostly_map.py [--quick]
"""

from __future__ import annotations

import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from systems.read_mostly_map import CowMap, LockedMap, RWLockMap  # noqa: E402

SIZE = 1000
RATIOS = (0.001, 0.01, 0.1, 0.5)
THREADS = (1, 2, 4, 8)
SECONDS = 0.4
VARIANTS = {"cow": CowMap, "rwlock": RWLockMap, "locked": LockedMap}


def run(cls: type, ratio: float, threads: int, seconds: float, size: int) -> tuple[float, float]:
    m = cls({i: i for i in range(size)})
    stop = threading.Event()
    counts = [(0, 0)] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        rng = random.Random(i)
        ops = [(rng.random() < ratio, rng.randrange(size)) for _ in range(4096)]
        reads = writes = 0
        barrier.wait()
        while not stop.is_set():
            for is_write, key in ops:
                if is_write:
                    m.put(key, key)
                    writes += 1
                else:
                    m.get(key)
                    reads += 1
                if (reads + writes) % 256 == 0 and stop.is_set():
                    break
        counts[i] = (reads, writes)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    return sum(r for r, _ in counts) / elapsed, sum(w for _, w in counts) / elapsed


def main() -> None:
    quick = "--quick" in sys.argv
    seconds = SECONDS / 4 if quick else SECONDS
    results: dict[tuple[str, float, int], tuple[float, float]] = {}
    print(f"map of {SIZE} keys, {seconds}s per cell; reads/s and writes/s (x = total vs locked)")
    for threads in THREADS:
        print(f"\n{threads} thread(s)")
        print(f"{'write %':>8} " + " ".join(f"{name:>30}" for name in VARIANTS))
        for ratio in RATIOS:
            cells = []
            for name, cls in VARIANTS.items():
                results[name, ratio, threads] = run(cls, ratio, threads, seconds, SIZE)
            base = sum(results["locked", ratio, threads])
            for name in VARIANTS:
                r, w = results[name, ratio, threads]
                cells.append(f"{r / 1e3:8.0f}k r {w / 1e3:7.1f}k w x{(r + w) / base:5.2f}")
            print(f"{ratio * 100:>7.1f}% " + " ".join(f"{c:>30}" for c in cells))
    for size in (100, 10_000):
        print(f"\nmap of {size} keys, 4 threads: total ops/s (x vs locked)")
        for ratio in RATIOS:
            row = {name: sum(run(cls, ratio, 4, seconds, size)) for name, cls in VARIANTS.items()}
            print(f"{ratio * 100:>7.1f}% " + " ".join(f"{n}={v / 1e3:8.0f}k x{v / row['locked']:5.2f}" for n, v in row.items()))
    plot(results)


def plot(results: dict[tuple[str, float, int], tuple[float, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(THREADS), figsize=(14, 3.8), sharey=True)
    for ax, threads in zip(axes, THREADS, strict=True):
        for name in VARIANTS:
            ax.plot([r * 100 for r in RATIOS], [sum(results[name, r, threads]) for r in RATIOS], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("writes, % of ops")
        ax.set_title(f"{threads} thread(s)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ops/s (reads + writes)")
    axes[0].legend()
    fig.suptitle(f"read_mostly_map: {SIZE} keys, CPython 3.11 (GIL), 2 cores")
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "read_mostly_map.png"
    fig.savefig(out, dpi=110)
    print(f"plot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
