"""write_through at a production-like rate: how often each race bites, and what the fixes cost.

The catalogue's own classes (``systems/write_through.py``) on the real
SQLite database and the in-process Redis model, outside the scheduler, on
virtual time (``benchmarks/_cache_workload.py``): 10 keys, 200 reads/s,
writes per key at two rates, 5 % of writes rejected by the database's
``CHECK``, every database answer back after an exponential latency (mean
5 ms), 300 virtual seconds, one seed.  Baseline: no cache, same workload,
same run.

Per design: database queries per read (and the ratio to no cache), reads
that returned a value not committed by then, stale reads and the worst
staleness, and keys whose cache entry disagrees with the database when
everything has finished (stale for good).

    python benchmarks/write_through.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _cache_workload import LatentDatabase, Loop, drive, workload  # noqa: E402

from systems._cache_parts import ModelCache, Rejected  # noqa: E402
from systems.write_through import CacheFirst, DbThenInvalidate, DbThenSet, Versioned, warm  # noqa: E402

KEYS = tuple(f"k{i}" for i in range(10))
READ_RATE = 200.0
WRITE_RATES = (0.2, 2.0)  # writes per second per key
REJECTED = 0.05
LATENCY = 0.005
SECONDS = 300.0
SEED = 16


class NoCache(CacheFirst):
    """The baseline: every read is a database read, every write a commit."""

    def update(self, key: str, value: int) -> str:
        try:
            self.db.commit(key, value)
        except Rejected:
            return "rejected"
        return "ok"

    def read(self, key: str) -> int:
        return self.db.read(key)[0]


DESIGNS: list[tuple[str, Callable[[ModelCache, LatentDatabase], Any]]] = [
    ("no cache", NoCache),
    ("cache_first", CacheFirst),
    ("db_then_set", DbThenSet),
    ("invalidate", DbThenInvalidate),
    ("versioned", Versioned),
]


def run(build: Callable[[ModelCache, LatentDatabase], Any], write_rate: float) -> dict[str, float]:
    loop = Loop(SEED)
    db = LatentDatabase(keys=KEYS, clock=loop, loop=loop, mean_latency=LATENCY)
    app = build(ModelCache(), db)
    if build is not NoCache:
        warm(app)
    events = workload(SEED, KEYS, READ_RATE, write_rate, SECONDS, REJECTED)
    return drive(loop, app, db, events, KEYS, cached=build is not NoCache)


def main() -> None:
    print(f"{len(KEYS)} keys, {READ_RATE:g} reads/s, {REJECTED:.0%} of writes rejected, "
          f"database answers after {LATENCY * 1e3:g} ms on average, {SECONDS:g} virtual s\n")
    for rate in WRITE_RATES:
        print(f"writes: {rate:g}/s per key")
        print(f"{'design':<14}{'queries/read':>13}{'vs no cache':>12}{'uncommitted':>12}{'stale reads':>12}"
              f"{'max stale':>11}{'left stale':>11}{'at end':>8}")
        results = [(name, run(build, rate)) for name, build in DESIGNS]
        base = results[0][1]["queries"]
        for name, r in results:
            print(f"{name:<14}{r['queries'] / r['reads']:>13.3f}{r['queries'] / base:>12.3f}{int(r['never']):>12}"
                  f"{r['stale'] / r['reads']:>11.2%}{r['worst']:>10.2f}s{int(r['left_stale']):>11}{int(r['at_end']):>8}")
        print()


if __name__ == "__main__":
    main()
