"""Reader latency while the cache rebuilds (real threads, no scheduler).

4 reader threads call ``get`` in a loop for ``SECONDS``; a writer updates a
key every 50 ms (DB write + ``invalidate``); every load takes 20 ms.  Per
variant: reads/s, reader latency p50/p99/max, loads and loads per written
version.  Ratios against ``rcu`` in the same run.

    python benchmarks/background_rebuild_cache.py
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from specs.background_rebuild_cache import VersionedDB  # noqa: E402
from systems.background_rebuild_cache import (  # noqa: E402
    BlockingRefreshCache,
    HerdCache,
    OlderOverNewerCache,
    RcuCache,
)

SECONDS = 2.0
READERS = 4
LOAD = 0.02
WRITE_EVERY = 0.05
VARIANTS = {"rcu": RcuCache, "blocking_refresh": BlockingRefreshCache, "herd": HerdCache, "older_over_newer": OlderOverNewerCache}


def run(cls: type) -> dict[str, float]:
    db = VersionedDB(("a", "b"), delays=(LOAD,))
    cache = cls(db, ("a", "b"))
    stop = threading.Event()
    lat: list[list[float]] = [[] for _ in range(READERS)]

    def reader(i: int) -> None:
        out = lat[i]
        key = "ab"[i % 2]
        while not stop.is_set():
            t = time.perf_counter()
            cache.get(key)
            out.append(time.perf_counter() - t)

    def writer() -> None:
        n = 0
        while not stop.is_set():
            time.sleep(WRITE_EVERY)
            key = "ab"[n % 2]
            cache.invalidate(key, db.write(key))
            n += 1

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()
    time.sleep(LOAD * 3)
    every = sorted(x for xs in lat for x in xs)
    q = statistics.quantiles(every, n=100, method="inclusive")
    versions = sum(db.versions.values())
    return {
        "reads/s": len(every) / SECONDS,
        "p50 us": q[49] * 1e6,
        "p99 us": q[98] * 1e6,
        "max ms": every[-1] * 1e3,
        "loads": len(db.loads),
        "loads/version": len(db.loads) / max(versions, 1),
    }


def main() -> None:
    print(f"{READERS} readers, a write every {WRITE_EVERY * 1e3:.0f} ms, loads of {LOAD * 1e3:.0f} ms, {SECONDS}s per variant")
    rows = {name: run(cls) for name, cls in VARIANTS.items()}
    cols = list(next(iter(rows.values())))
    print(f"{'variant':<18}" + "".join(f"{c:>15}" for c in cols) + f"{'p99 x rcu':>11}")
    for name, row in rows.items():
        print(f"{name:<18}" + "".join(f"{row[c]:>15,.1f}" for c in cols) + f"{row['p99 us'] / rows['rcu']['p99 us']:>11.1f}")


if __name__ == "__main__":
    main()
