"""Inventory under contention: throughput and abort rate per strategy, and stress vs search.

    python benchmarks/inventory.py [--seconds 1.5] [--clients 1,2,4,8] [--png docs/systems/inventory-contention.png]

Part 1 - (median of ``--repeats``) every client process reserves one unit at a time of ONE hot item
(stock large enough never to sell out) for ``--seconds``; contention = the
number of client processes.  Reported per strategy: reservations/s and the
abort rate = refused attempts / all attempts (SQLITE_BUSY_SNAPSHOT,
SQLITE_BUSY, serialization failures; lock *waits* are not aborts).

Part 2 - stress vs search for the two broken strategies: stock 1, two
client processes racing for it, repeated; how often does plain concurrency
oversell, compared with the harness's level search (one run per schedule).

PostgreSQL rows appear only where PostgreSQL is installed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from racekit.crash import postgres  # noqa: E402
from racekit.crash.procs import close_pools, scratch_dir  # noqa: E402
from racekit.crash.session import Session  # noqa: E402
from systems import inventory  # noqa: E402

STOCK = 10**9


def measure(session: Session, workdir: Path, strategy: str, clients: int, seconds: float) -> dict[str, float]:
    if strategy in inventory.POSTGRES:
        target = postgres.shared().dsn()
        inventory.pg_setup(target, {"x": STOCK})
    else:
        target = str(workdir / f"{strategy}-{clients}-{time.monotonic_ns()}.db")
        inventory.sqlite_setup(target, {"x": STOCK})
    calls = [("systems.inventory:bench_client", {"target": target, "strategy": strategy, "name": f"c{i}",
                                                   "sku": "x", "seconds": seconds}) for i in range(clients)]
    started = time.perf_counter()
    results = session.gather(calls)
    elapsed = time.perf_counter() - started
    reserved = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    return {"reserved_per_s": reserved / seconds, "abort_rate": refused / max(1, reserved + refused),
            "reserved": reserved, "refused": refused, "wall": elapsed}


def stress(session: Session, workdir: Path, strategy: str, trials: int) -> int:
    """Trials (stock 1, two concurrent clients) that oversold."""
    oversold = 0
    for t in range(trials):
        if strategy in inventory.POSTGRES:
            target = postgres.shared().dsn()
            inventory.pg_setup(target, {"x": 1})
        else:
            target = str(workdir / f"stress-{strategy}-{t}.db")
            inventory.sqlite_setup(target, {"x": 1})
        calls = [("systems.inventory:client", {"target": target, "strategy": strategy, "name": f"c{i}",
                                               "ops": [["x", 1]]}) for i in range(2)]
        session.gather(calls)
        if strategy in inventory.POSTGRES:
            import psycopg

            with psycopg.connect(target) as con:
                n = con.execute("SELECT count(*) FROM reservations").fetchone()
        else:
            with closing(sqlite3.connect(target)) as con:
                n = con.execute("SELECT count(*) FROM reservations").fetchone()
        oversold += int(n is not None and n[0] > 1)
    return oversold


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for strategy in dict.fromkeys(str(r["strategy"]) for r in rows):
        mine = [r for r in rows if r["strategy"] == strategy]
        xs = [int(str(r["clients"])) for r in mine]
        style = "--" if strategy in ("sqlite_implicit_txn", "pg_read_committed") else "-"
        ax1.plot(xs, [float(str(r["reserved_per_s"])) for r in mine], style, marker="o", label=strategy)
        ax2.plot(xs, [100 * float(str(r["abort_rate"])) for r in mine], style, marker="o", label=strategy)
    ax1.set(xlabel="client processes on one hot item", ylabel="reservations / s", title="Throughput", xscale="log", yscale="log")
    ax2.set(xlabel="client processes on one hot item", ylabel="refused attempts (%)", title="Abort rate", xscale="log")
    for ax in (ax1, ax2):
        ax.set_xticks(sorted({int(str(r["clients"])) for r in rows}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.get_xaxis().set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="upper left")
    fig.suptitle("Inventory reservations under contention (dashed: broken strategies, they oversell)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--clients", default="1,2,4,8")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3, help="median of this many measurements")
    ap.add_argument("--png", default=str(ROOT / "docs/systems/inventory-contention.png"))
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    strategies = list(inventory.SQLITE)
    if postgres.unavailable() is None:
        strategies += list(inventory.POSTGRES)
    else:
        print(f"# PostgreSQL skipped: {postgres.unavailable()}")
    rows: list[dict[str, object]] = []
    try:
        with scratch_dir("racekit-bench-inventory-") as workdir, Session(ROOT) as session:
            print(f"{'strategy':22} {'clients':>7} {'reserved/s':>11} {'abort rate':>10}")
            for strategy in strategies:
                for n in counts:
                    runs = sorted((measure(session, workdir, strategy, n, args.seconds) for _ in range(args.repeats)),
                                  key=lambda m: m["reserved_per_s"])
                    m = runs[len(runs) // 2]
                    rows.append({"strategy": strategy, "clients": n, **m})
                    print(f"{strategy:22} {n:7d} {m['reserved_per_s']:11.0f} {100 * m['abort_rate']:9.1f}%", flush=True)
            print(f"\nstress: stock 1, two concurrent clients, {args.trials} trials")
            for strategy in ("sqlite_implicit_txn", "pg_read_committed"):
                if strategy in strategies:
                    t = time.perf_counter()
                    bad = stress(session, workdir, strategy, args.trials)
                    print(f"{strategy:22} oversold in {bad}/{args.trials} trials ({time.perf_counter() - t:.1f} s)")
    finally:
        close_pools()
        postgres.stop_shared()
    plot(rows, Path(args.png))
    print(f"\nplot: {args.png}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
