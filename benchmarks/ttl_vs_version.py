"""TTL vs version check vs invalidation: database load against staleness (virtual time).

The same cache classes the catalogue checks (``systems/ttl_vs_version.py``,
``systems/read_through.py``) run outside the scheduler on a virtual clock,
against the real SQLite database and the in-process Redis model.  A seeded
workload over ``KEYS`` keys: reads arrive as a Poisson process at
``READ_RATE`` per second (keys uniform), writes at ``WRITE_RATE`` per
second per key, for ``SECONDS`` virtual seconds; every operation is
instantaneous (no overlap), so staleness here comes from the design, not
from races.

Per design it prints database queries per read (every query, and row reads
only - a version check is a query that fetches no row), the ratio of
queries to the no-cache baseline run in the same process, the fraction of
stale reads, and mean / p99 / max staleness (how long before the read its
value had been overwritten).  Designs: no cache (baseline), TTL for
several TTLs, version check on every read, and invalidate-on-write with
leases (``read_through.lease``) - the design that wins on both axes here,
and whose races the other catalogue systems are about.

Writes ``docs/systems/ttl_vs_version.png``.

    python benchmarks/ttl_vs_version.py
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from systems._cache_parts import Database, ModelCache  # noqa: E402
from systems.read_through import LeaseCache  # noqa: E402
from systems.ttl_vs_version import TtlCache, VersionCheck  # noqa: E402

KEYS = tuple(f"k{i}" for i in range(10))
READ_RATE = 200.0  # reads per second, all keys together
WRITE_RATE = 0.2  # writes per second per key
SECONDS = 300.0
TTLS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
SEED = 20


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class NoCache:
    """The baseline: every read is a row read."""

    def __init__(self, cache: Any, db: Database) -> None:
        self.cache, self.db = cache, db

    def read(self, key: str) -> int:
        return self.db.read(key)[0]

    def update(self, key: str, value: int) -> str:
        self.db.commit(key, value)
        return "ok"


def workload(seed: int = SEED) -> list[tuple[float, str, str]]:
    """(time, "read" | "write", key), sorted by time: Poisson arrivals from one seed."""
    rng = random.Random(seed)
    events: list[tuple[float, str, str]] = []
    t = 0.0
    while True:
        t += rng.expovariate(READ_RATE)
        if t >= SECONDS:
            break
        events.append((t, "read", rng.choice(KEYS)))
    for key in KEYS:
        t = 0.0
        while True:
            t += rng.expovariate(WRITE_RATE)
            if t >= SECONDS:
                break
            events.append((t, "write", key))
    events.sort()
    return events


@dataclass
class Outcome:
    name: str
    reads: int
    queries: int
    row_reads: int
    stale: int
    mean: float
    p99: float
    worst: float


def run(name: str, build: Callable[[Clock], Any], events: list[tuple[float, str, str]]) -> Outcome:
    clock = Clock()
    app = build(clock)
    db: Database = app.db
    # values are unique per write, so a read's value names its version
    version_of_value = {0: 1}
    commit_at: dict[str, list[float]] = {k: [0.0, 0.0] for k in KEYS}  # index = version
    next_value = 1
    ages: list[float] = []
    for t, op, key in events:
        clock.now = t
        if op == "write":
            app.update(key, next_value)
            commit_at[key].append(t)
            version_of_value[next_value] = len(commit_at[key]) - 1
            next_value += 1
        else:
            value = app.read(key)
            version = version_of_value[value]
            later = commit_at[key][version + 1] if version + 1 < len(commit_at[key]) else None
            ages.append(0.0 if later is None else t - later)
    ages.sort()
    stale = sum(1 for a in ages if a > 0)
    return Outcome(
        name, len(ages), db.queries, db.row_reads, stale,
        sum(ages) / len(ages), ages[int(0.99 * (len(ages) - 1))], ages[-1],
    )


def designs() -> list[tuple[str, Callable[[Clock], Any]]]:
    def db(clock: Clock) -> Database:
        return Database(keys=KEYS, clock=clock)

    out: list[tuple[str, Callable[[Clock], Any]]] = [("no cache", lambda c: NoCache(ModelCache(), db(c)))]
    for ttl in TTLS:
        out.append((f"TTL {ttl:g}s", lambda c, ttl=ttl: TtlCache(ModelCache(), db(c), ttl=ttl, clock=c)))
    out.append(("version check", lambda c: VersionCheck(ModelCache(), db(c), clock=c)))
    out.append(("invalidate + lease", lambda c: LeaseCache(ModelCache(), db(c))))
    return out


def main() -> None:
    events = workload()
    reads = sum(1 for e in events if e[1] == "read")
    print(f"{reads} reads, {len(events) - reads} writes over {SECONDS:g} virtual s, {len(KEYS)} keys "
          f"(a key changes every {1 / WRITE_RATE:g} s on average)\n")
    print(f"{'design':<20}{'queries/read':>13}{'rows/read':>11}{'vs no cache':>13}{'stale reads':>13}"
          f"{'mean stale':>12}{'p99 stale':>11}{'max stale':>11}")
    results = [run(name, build, events) for name, build in designs()]
    base = results[0].queries
    for r in results:
        print(f"{r.name:<20}{r.queries / r.reads:>13.3f}{r.row_reads / r.reads:>11.3f}{r.queries / base:>13.3f}"
              f"{r.stale / r.reads:>12.1%}{r.mean * 1e3:>10.1f}ms{r.p99 * 1e3:>9.0f}ms{r.worst * 1e3:>9.0f}ms")
    plot(results)


def plot(results: list[Outcome]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = results[0].queries
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ttl = [r for r in results if r.name.startswith("TTL")]
    ax.plot([r.worst for r in ttl], [r.queries / base for r in ttl], marker="o", label="TTL: max staleness")
    ax.plot([r.mean for r in ttl], [r.queries / base for r in ttl], marker="s", linestyle="--", label="TTL: mean staleness")
    for r in ttl:
        ax.annotate(r.name[4:], (r.worst, r.queries / base), textcoords="offset points", xytext=(4, 4), fontsize=8)
    others = {"no cache": ("x", "black", (6, -12)), "version check": ("D", "tab:red", (6, 4)),
              "invalidate + lease": ("*", "tab:green", (6, 4))}
    for r in results:
        if r.name in others:
            marker, color, offset = others[r.name]
            point = (max(r.worst, 1e-3), r.queries / base)
            ax.scatter([point[0]], [point[1]], marker=marker, color=color, s=90, zorder=3)
            label = f"{r.name} ({r.row_reads / r.reads:.2f} rows/read)" if r.name == "version check" else r.name
            ax.annotate(label, point, textcoords="offset points", xytext=offset, fontsize=8, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("staleness of reads, seconds (never-stale designs drawn at 1 ms)")
    ax.set_ylabel("database queries / no-cache queries")
    ax.set_title("ttl_vs_version: database load vs staleness\n"
                 f"{READ_RATE:g} reads/s over {len(KEYS)} keys, a key changes every {1 / WRITE_RATE:g} s")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "ttl_vs_version.png"
    fig.savefig(out, dpi=110)
    print(f"\nplot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
