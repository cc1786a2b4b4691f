"""What each isolation level of PostgreSQL and SQLite does to list-append transactions.

Run ``python benchmarks/txn_databases.py`` from the repository root.  For
PostgreSQL (a throwaway cluster, started and removed by the script) at READ
COMMITTED, REPEATABLE READ and SERIALIZABLE, and SQLite with deferred and
immediate transactions, it runs ``--rounds`` random lock-step rounds of 4
clients over 3 keys (seeded), checks the history, and prints the anomalies
found, the weakest models ruled out, whether the history satisfies the
models the database documents for that level, and the abort rate.  Then it
lets Hypothesis search ``--budget`` workload shapes for each level's
signature anomaly and prints the smallest shape it shrank to.  These are
the numbers in ``docs/txncheck.md``.

``--save`` also writes each shrunk history as
``counterexamples/txn/<database>--<anomalies>.edn`` (:mod:`racekit.txn.saved`),
which ``racekit gallery`` draws and ``racekit txncheck`` checks again.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from racekit.crash import postgres
from racekit.project import find_project
from racekit.txn import check, saved
from racekit.txn.databases import Postgres, Sqlite
from racekit.txn.runner import RunStats, run
from racekit.txn.search import find_anomaly
from racekit.txn.shapes import random_workload

DOCUMENTED = {
    "postgres-read-committed": ["read-committed"],
    "postgres-repeatable-read": ["snapshot-isolation"],
    "postgres-serializable": ["serializable"],
    "sqlite-deferred": ["serializable"],
    "sqlite-immediate": ["serializable"],
}
SIGNATURE = {
    "postgres-read-committed": {"G-single-item", "internal"},
    "postgres-repeatable-read": {"G2-item"},
}
ALSO_SAVED = {  # with --save: more searches, one per anomaly worth a page of its own
    "postgres-read-committed": [{"lost-update"}],
}
ANY = {"G0", "G1a", "G1b", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item", "internal", "lost-update"}


def measure(db: Any, rounds: int, budget: int, seed: int, save: Path | None = None) -> None:
    stats = RunStats()
    history = run(db, random_workload(random.Random(seed), rounds, clients=4, keys=3), stats=stats)
    strict = check(history, {"consistency-models": ["strict-serializable"]})
    documented = check(history, {"consistency-models": DOCUMENTED[db.name]})
    attempts = stats.committed + stats.failed + stats.unknown
    print(f"{db.name:26} {stats.committed:5d} {stats.failed:5d} {stats.unknown:4d} {stats.failed / attempts:6.0%} "
          f"{stats.seconds:6.1f}s  {','.join(strict.anomaly_types) or '-':40} not: {','.join(strict.not_) or '-':34} "
          f"{'/'.join(DOCUMENTED[db.name])}: {'holds' if documented.valid is True else 'VIOLATED'}")
    for want in [SIGNATURE.get(db.name, ANY), *(ALSO_SAVED.get(db.name, []) if save is not None else [])]:
        search(db, want, budget, save)


def search(db: Any, want: set[str], budget: int, save: Path | None) -> None:
    t = time.monotonic()
    found, runs = find_anomaly(functools.partial(run, db), want, {"consistency-models": ["serializable"]}, budget=budget)
    took = time.monotonic() - t
    if found is None:
        print(f"{'':26} search: nothing in {runs} workload shapes ({took:.1f}s)")
    else:
        shape = " | ".join(" ".join(f"{f} {k}" for f, k in txn) for rnd in found.workload for txn in rnd)
        print(f"{'':26} search: {','.join(sorted(want & set(found.result.found)))} after {runs} runs incl. "
              f"shrinking ({took:.1f}s); smallest shape: {shape}")
        if save is not None:
            path = saved.write(save, db.name, found.history, want & set(found.result.found))
            print(f"{'':26} saved: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", action="store_true",
                        help="write each shrunk anomaly history under counterexamples/txn/ (for racekit gallery)")
    parser.add_argument("--only", default="", help="comma-separated database names to run (default: all)")
    args = parser.parse_args()
    save = find_project().counterexamples / saved.FOLDER if args.save else None
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    print(f"{'database':26} {'ok':>5} {'fail':>5} {'info':>4} {'abort':>6} {'time':>7}  "
          f"{'anomalies (checked for strict-serializable)':40} weakest models ruled out")
    levels = [lv for lv in ("read-committed", "repeatable-read", "serializable") if not only or f"postgres-{lv}" in only]
    modes = [m for m in ("deferred", "immediate") if not only or f"sqlite-{m}" in only]
    why = postgres.unavailable()
    if why is None and levels:
        cluster = postgres.Cluster().start()
        try:
            for level in levels:
                db = Postgres(cluster.dsn(), level)
                try:
                    measure(db, args.rounds, args.budget, args.seed, save)
                finally:
                    db.close()
        finally:
            cluster.stop()
    elif levels:
        print(f"(PostgreSQL skipped: {why})")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            sdb = Sqlite(Path(tmp) / f"{mode}.db", mode)
            try:
                measure(sdb, args.rounds, args.budget, args.seed, save)
            finally:
                sdb.close()

if __name__ == "__main__":
    main()
