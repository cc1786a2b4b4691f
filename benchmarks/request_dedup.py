"""Request dedup: memory per remembered id vs the cost of persisting it, per store.

    python benchmarks/request_dedup.py [--requests 4000] [--dup 0.25] [--plot docs/systems/request_dedup.png]

One process handles ``--requests`` requests (a fraction ``--dup`` of them
repeat an earlier id) with each store, all inside one window.  Every
request that is processed writes its effect to a SQLite database (WAL);
the baseline writes the effect with no dedup at all, and each store is
reported as a ratio to it, measured in the same run:

* ``memory``        - a dict in the instance (``per_instance_memory``; each
  instance holds its own copy, and a restart forgets it);
* ``sqlite``        - the shared table, mark and effect in one transaction
  (``sqlite_unique``; WAL, ``synchronous=NORMAL``: no fsync per commit);
* ``sqlite+fsync``  - the same with ``synchronous=FULL`` (an fsync per commit);
* ``redis``         - ``SET NX PX`` on a local redis-server (unix socket,
  no persistence), then the effect (``redis_set_nx``);
* ``redis+aof``     - the same with the append-only file, fsynced every second.

Memory per entry: ``tracemalloc`` for the dict; the SQLite table alone
(page count x page size of a database holding only it, index included);
Redis ``used_memory`` growth over the keys (its expiry included).  Files
live on the real disk (``/tmp`` unless ``--dir``), not tmpfs, so fsync costs
what it costs here.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from racekit.crash import redis as redis_service  # noqa: E402
from systems import request_dedup as rd  # noqa: E402


def workload(n: int, dup: float, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    ids: list[str] = []
    for i in range(n):
        ids.append(rng.choice(ids) if ids and rng.random() < dup else f"req-{i:08d}")
    return ids


def timed(inst: Any, ids: list[str]) -> tuple[float, int]:
    """Seconds for all requests, and how many were processed."""
    processed = 0
    start = time.perf_counter()
    for i, rid in enumerate(ids):
        now = 1_000 + i  # one window: nothing expires during the run
        processed += inst.handle(rid, now, now) == rd.PROCESSED
    return time.perf_counter() - start, processed


class NoDedup:
    """Baseline: every request is processed (its effect written), nothing remembered."""

    def __init__(self, db: str) -> None:
        self.db = rd.connect(db)

    def handle(self, rid: str, client_ts: int, now: int) -> str:
        self.db.execute("INSERT INTO effects(request_id, instance, at_ms) VALUES (?, ?, ?)", (rid, "bench", now))
        return rd.PROCESSED

    def close(self) -> None:
        self.db.close()


def bytes_per_entry_dict(n: int) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    memory: dict[str, int] = {f"req-{i:08d}": 1_000 + i + rd.WINDOW_MS for i in range(n)}
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(memory) == n
    return (after - before) / n


def bytes_per_entry_sqlite(workdir: Path, n: int) -> float:
    path = str(workdir / "seen-only.db")
    with closing(sqlite3.connect(path, isolation_level=None)) as con:
        con.executescript(rd.seen_schema(True))
        base = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute("BEGIN")
        con.executemany("INSERT INTO seen(request_id, expires_at) VALUES (?, ?)",
                        ((f"req-{i:08d}", 1_000 + i + rd.WINDOW_MS) for i in range(n)))
        con.execute("COMMIT")
        pages = con.execute("PRAGMA page_count").fetchone()[0] - base
        size = con.execute("PRAGMA page_size").fetchone()[0]
    return float(pages * size / n)


def bytes_per_entry_redis(server: redis_service.Server, n: int) -> float:
    with server.client() as r:
        r.flushall()
        before = int(r.info("memory")["used_memory"])
        pipe = r.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"{rd.KEY_PREFIX}req-{i:08d}", "bench", nx=True, px=rd.WINDOW_MS)
        pipe.execute()
        after = int(r.info("memory")["used_memory"])
        r.flushall()
    return (after - before) / n


def run_store(name: str, workdir: Path, ids: list[str], servers: dict[str, redis_service.Server]) -> dict[str, Any]:
    workdir.mkdir(exist_ok=True)
    db = str(workdir / f"{name}.db")
    if name.startswith("redis"):
        with servers[name].client() as r:
            r.flushall()
    inst: Any
    if name == "baseline":
        rd.setup(db, "per_instance_memory")  # effects only
        inst = NoDedup(db)
    else:
        variant = {"memory": "per_instance_memory", "sqlite": "sqlite_unique", "sqlite+fsync": "sqlite_unique",
                   "redis": "redis_set_nx", "redis+aof": "redis_set_nx"}[name]
        rd.setup(db, variant)
        socket = servers[name].socket if name.startswith("redis") else None
        inst = rd.Instance("bench", variant, db, socket)
        if name == "sqlite+fsync":
            inst.db.execute("PRAGMA synchronous=FULL")
    try:
        seconds, processed = timed(inst, ids)
    finally:
        inst.close()
    return {"store": name, "seconds": seconds, "us_per_request": seconds / len(ids) * 1e6, "processed": processed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--dup", type=float, default=0.25)
    ap.add_argument("--entries", type=int, default=50_000, help="entries for the memory measurement")
    ap.add_argument("--repeat", type=int, default=3, help="runs per store; the fastest counts")
    ap.add_argument("--dir", default="/tmp", help="where the databases and the AOF live (a real disk)")
    ap.add_argument("--plot", default="", help="write a PNG here")
    a = ap.parse_args()
    reason = redis_service.unavailable()
    if reason:
        sys.exit(f"request_dedup benchmark: {reason}")
    ids = workload(a.requests, a.dup)
    with tempfile.TemporaryDirectory(prefix="racekit-dedup-bench-", dir=a.dir) as tmp:
        workdir = Path(tmp)
        servers = {
            "redis": redis_service.Server(base=tmp).start(),
            "redis+aof": redis_service.Server(base=tmp, extra=["--appendonly", "yes", "--appendfsync", "everysec"]).start(),
        }
        try:
            stores = ("baseline", "memory", "sqlite", "sqlite+fsync", "redis", "redis+aof")
            runs: dict[str, list[dict[str, Any]]] = {s: [] for s in stores}
            for k in range(a.repeat):  # interleaved, so a burst of load elsewhere hits every store alike
                for s in stores:
                    runs[s].append(run_store(f"{s}", workdir / f"run{k}", ids, servers))
            rows = [min(runs[s], key=lambda r: r["seconds"]) for s in stores]
            mem = {
                "memory": bytes_per_entry_dict(a.entries),
                "sqlite": bytes_per_entry_sqlite(workdir, a.entries),
                "redis": bytes_per_entry_redis(servers["redis"], a.entries),
            }
        finally:
            for s in servers.values():
                s.stop()
    base = rows[0]["us_per_request"]
    distinct = len(set(ids))
    print(f"{a.requests} requests, {distinct} distinct ids ({a.dup:.0%} repeats), one process, files on {a.dir}, "
          f"best of {a.repeat}")
    print(f"{'store':<14}{'us/request':>12}{'x baseline':>12}{'processed':>11}{'bytes/entry':>13}")
    for r in rows:
        b = mem.get(r["store"].split("+")[0]) if r["store"] != "baseline" else None
        shown = f"{b:>13.0f}" if b is not None else f"{'-':>13}"
        print(f"{r['store']:<14}{r['us_per_request']:>12.1f}{r['us_per_request'] / base:>12.2f}{r['processed']:>11}{shown}")
        if r["store"] != "baseline":
            expect = distinct
            assert r["processed"] == expect, (r["store"], r["processed"], expect)
    rate, window_s = 1_000, rd.WINDOW_MS // 1000
    print(f"\nat {rate} new ids/s and a {window_s // 60}-minute window: {rate * window_s:,} entries live ->",
          ", ".join(f"{k} {v * rate * window_s / 2**20:,.0f} MiB" for k, v in mem.items()),
          "(memory: per instance)")
    if a.plot:
        plot(rows, mem, base, a.plot)
        print(f"plot: {a.plot}")


def plot(rows: list[dict[str, Any]], mem: dict[str, float], base: float, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in rows:
        if r["store"] == "baseline":
            continue
        x, y = mem[r["store"].split("+")[0]], r["us_per_request"] / base
        ax.scatter([x], [y], s=40)
        ax.annotate(r["store"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.text(ax.get_xlim()[0], 1.02, " effect only, no dedup", fontsize=8, color="grey", va="bottom")
    ax.set_xlabel("memory per remembered id (bytes)")
    ax.set_ylabel("time per request (x effect-only baseline)")
    ax.set_title("request_dedup: memory vs persistence cost, per store")
    ax.set_yscale("log")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
