"""Counter throughput per variant with 1-8 real threads (no scheduler active).

Prints increments per second per variant and thread count, and the ratio to
the naive counter with the same number of threads (the baseline, measured in
the same process).  The naive counter is fast *and wrong*: see
docs/systems/counter.md.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from systems.counter import SYSTEM  # noqa: E402

OPS = 200_000


def rate(factory, threads: int) -> tuple[float, int]:
    counter = factory()
    per = OPS // threads
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per):
            counter.increment()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    lost = per * threads - counter.get()
    return per * threads / elapsed, lost


def main() -> None:
    variants = {v.name: v.factory for v in SYSTEM.variants}
    print(f"{'threads':>7} " + " ".join(f"{n:>22}" for n in variants))
    for threads in (1, 2, 4, 8):
        cells = []
        base = None
        for name, factory in variants.items():
            best = max(rate(factory, threads) for _ in range(3))
            ops, lost = best
            if base is None:
                base = ops
            cells.append(f"{ops / 1e6:6.2f}M/s x{ops / base:4.2f} lost={lost}")
        print(f"{threads:>7} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
