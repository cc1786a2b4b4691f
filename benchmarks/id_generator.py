"""ids/s of each id generator, as ratios to the timestamp-only baseline (same process).

Production mode: the generator classes from ``systems/id_generator.py`` fed
the real wall clock, with the simulator's in-memory Disk for the fsynced
reservation (so the fsync cost here is the bookkeeping, not a real disk
flush; one fsync per RESERVE_MS = 1000 ms of ids).

    python benchmarks/id_generator.py [--n 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from racekit.sim.disk import Disk  # noqa: E402
from systems.id_generator import (  # noqa: E402
    HybridLogicalClock,
    Snowflake,
    SnowflakeUnguarded,
    TimestampOnly,
)


def rate(cls: type, n: int) -> tuple[float, int]:
    gen = cls(1, Disk())
    clock = time.time_ns
    start = time.perf_counter()
    ids = [gen.next(clock() // 1_000_000) for _ in range(n)]
    elapsed = time.perf_counter() - start
    return n / elapsed, len(ids) - len(set(ids))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()
    base, _ = rate(TimestampOnly, args.n)
    print(f"{'variant':<22}{'ids/s':>12}{'vs timestamp':>14}{'duplicates':>12}")
    for cls in (TimestampOnly, SnowflakeUnguarded, Snowflake, HybridLogicalClock):
        r, dups = rate(cls, args.n)
        print(f"{cls.__name__:<22}{r:>12,.0f}{r / base:>13.2f}x{dups:>12}")


if __name__ == "__main__":
    main()
