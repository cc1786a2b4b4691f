"""1000 real threads hit one expired key behind a slow loader.

The origin (``specs.cache_stampede.SlowOrigin``) takes 50 ms per load and,
like a database with a connection pool, serves at most 8 loads at a time.
Every variant starts with key "a" cached but expired; 1000 threads released
by one barrier each call ``get("a")`` once.  Printed per variant: loader
calls, p50/p99/max reader latency, and ratios against ``naive`` measured in
the same run.  Writes ``docs/systems/cache_stampede.png``.

    python benchmarks/cache_stampede.py [--threads N]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from specs.cache_stampede import SlowOrigin  # noqa: E402
from systems.cache_stampede import (  # noqa: E402
    EarlyRefreshCache,
    NaiveCache,
    SingleFlightCache,
    StaleWhileRevalidateCache,
    UnlockedCheckCache,
)

DELAY = 0.05
CONNECTIONS = 8
TTL = 60.0
VARIANTS = {
    "naive": NaiveCache,
    "unlocked_check": UnlockedCheckCache,
    "single_flight": SingleFlightCache,
    "stale_while_revalidate": StaleWhileRevalidateCache,
    "early_refresh": EarlyRefreshCache,
}


def stampede(cls: type, threads: int) -> tuple[int, list[float]]:
    origin = SlowOrigin(DELAY, connections=CONNECTIONS)
    cache = cls(origin, TTL, warm=("a",))
    barrier = threading.Barrier(threads)
    latencies = [0.0] * threads

    def reader(i: int) -> None:
        barrier.wait()
        start = time.perf_counter()
        value = cache.get("a")
        latencies[i] = time.perf_counter() - start
        assert value[0] == "a"

    pool = [threading.Thread(target=reader, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    time.sleep(DELAY * 2)  # let a background refresh finish before counting
    return origin.calls("a"), latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


def main() -> None:
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1000
    print(f"{threads} threads, one expired key, loader {DELAY * 1e3:.0f} ms, {CONNECTIONS} backend connections")
    print(f"{'variant':<24}{'loads':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'loads x':>9}{'p50 x':>8}{'p99 x':>8}")
    rows: dict[str, tuple[int, float, float, float]] = {}
    for name, cls in VARIANTS.items():
        runs = [stampede(cls, threads) for _ in range(3)]
        calls, lat = sorted(runs, key=lambda r: pct(r[1], 50))[1]  # the median run
        rows[name] = (calls, pct(lat, 50), pct(lat, 99), max(lat))
    base = rows["naive"]
    for name, (calls, p50, p99, top) in rows.items():
        print(
            f"{name:<24}{calls:>7}{p50 * 1e3:>9.1f}{p99 * 1e3:>9.1f}{top * 1e3:>9.1f}"
            f"{calls / base[0]:>9.3f}{p50 / base[1]:>8.3f}{p99 / base[2]:>8.3f}"
        )
    plot(rows, threads)


def plot(rows: dict[str, tuple[int, float, float, float]], threads: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.bar(names, [rows[n][0] for n in names], color="tab:red")
    ax1.set_yscale("log")
    ax1.set_ylabel("loader calls (log)")
    ax1.set_title(f"loader calls for one expiry, {threads} readers")
    x = range(len(names))
    ax2.bar([i - 0.2 for i in x], [rows[n][1] * 1e3 for n in names], width=0.4, label="p50")
    ax2.bar([i + 0.2 for i in x], [rows[n][2] * 1e3 for n in names], width=0.4, label="p99")
    ax2.set_yscale("log")
    ax2.set_xticks(list(x), names)
    ax2.set_ylabel("reader latency, ms (log)")
    ax2.set_title("reader latency")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=25)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"cache_stampede: loader {DELAY * 1e3:.0f} ms, {CONNECTIONS} backend connections (CPython 3.11, 2 cores)")
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "cache_stampede.png"
    fig.savefig(out, dpi=110)
    print(f"plot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
