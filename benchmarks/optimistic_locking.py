"""Optimistic locking: retries vs contention (and what the blind write loses).

    python benchmarks/optimistic_locking.py [--seconds 1.0] [--clients 1,2,4,8] [--png ...]

N client processes each run ``add(1)`` on one SQLite row for ``--seconds``
(median of ``--repeats``), with no work and with ``--think-us`` of
application work (a sleep) between the read and the write.  Reported per mode: updates/s, retries per
successful update (version conflicts for ``version_cas``; refused
``BEGIN IMMEDIATE`` for ``immediate_txn``, where SQLite's busy handler also
waits), and for ``blind_write`` the updates lost (acknowledged - applied).
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

from racekit.crash.procs import close_pools, scratch_dir  # noqa: E402
from racekit.crash.session import Session  # noqa: E402
from systems import optimistic_locking  # noqa: E402


def measure(session: Session, workdir: Path, mode: str, clients: int, seconds: float, think: float) -> dict[str, float]:
    db = str(workdir / f"{mode}-{clients}-{time.monotonic_ns()}.db")
    optimistic_locking.setup(db, 0)
    results = session.gather([("systems.optimistic_locking:bench_client", {"db": db, "mode": mode, "seconds": seconds, "think": think})] * clients)
    updates = sum(r[0] for r in results)
    retries = sum(r[1] for r in results)
    with closing(sqlite3.connect(db)) as con:
        final = int(con.execute("SELECT value FROM register WHERE id = 1").fetchone()[0])
    return {"updates_per_s": updates / seconds, "retries_per_update": retries / max(1, updates),
            "lost": updates - final, "updates": updates}


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for mode in dict.fromkeys(str(r["mode"]) for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        xs = [int(str(r["clients"])) for r in mine]
        style = "--" if mode.startswith("blind_write") else "-"
        ax1.plot(xs, [float(str(r["updates_per_s"])) for r in mine], style, marker="o", label=mode)
        if not mode.startswith("blind_write"):
            ax2.plot(xs, [float(str(r["retries_per_update"])) for r in mine], style, marker="o", label=mode)
    ax1.set(xlabel="client processes", ylabel="updates / s", title="Throughput (blind_write loses updates)", yscale="log")
    ax2.set(xlabel="client processes", ylabel="retries per successful update", title="Retries vs contention")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--clients", default="1,2,4,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--think-us", default="0,200", help="application work between read and write, µs (one plot line each)")
    ap.add_argument("--png", default=str(ROOT / "docs/systems/optimistic_locking-retries.png"))
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    rows: list[dict[str, object]] = []
    try:
        with scratch_dir("racekit-bench-optimistic-") as workdir, Session(ROOT) as session:
            print(f"{'mode':24} {'clients':>7} {'updates/s':>10} {'retries/update':>15} {'lost':>8}")
            for think in (int(t) for t in args.think_us.split(",")):
                for mode in optimistic_locking.MODES:
                    label = mode if not think else f"{mode} +{think}µs"
                    for n in (int(c) for c in args.clients.split(",")):
                        runs = sorted((measure(session, workdir, mode, n, args.seconds, think / 1e6) for _ in range(args.repeats)),
                                      key=lambda m: m["updates_per_s"])
                        m = runs[len(runs) // 2]
                        rows.append({"mode": label, "clients": n, **m})
                        print(f"{label:24} {n:7d} {m['updates_per_s']:10.0f} {m['retries_per_update']:15.3f} {int(m['lost']):8d}", flush=True)
    finally:
        close_pools()
    plot(rows, Path(args.png))
    print(f"\nplot: {args.png}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
