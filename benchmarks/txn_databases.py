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
from racekit.txn import check
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
ANY = {"G0", "G1a", "G1b", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item", "internal", "lost-update"}


def measure(db: Any, rounds: int, budget: int, seed: int) -> None:
    stats = RunStats()
    history = run(db, random_workload(random.Random(seed), rounds, clients=4, keys=3), stats=stats)
    strict = check(history, {"consistency-models": ["strict-serializable"]})
    documented = check(history, {"consistency-models": DOCUMENTED[db.name]})
    attempts = stats.committed + stats.failed + stats.unknown
    print(f"{db.name:26} {stats.committed:5d} {stats.failed:5d} {stats.unknown:4d} {stats.failed / attempts:6.0%} "
          f"{stats.seconds:6.1f}s  {','.join(strict.anomaly_types) or '-':40} not: {','.join(strict.not_) or '-':34} "
          f"{'/'.join(DOCUMENTED[db.name])}: {'holds' if documented.valid is True else 'VIOLATED'}")
    want = SIGNATURE.get(db.name, ANY)
    t = time.monotonic()
    found, runs = find_anomaly(functools.partial(run, db), want, {"consistency-models": ["serializable"]}, budget=budget)
    took = time.monotonic() - t
    if found is None:
        print(f"{'':26} search: nothing in {runs} workload shapes ({took:.1f}s)")
    else:
        shape = " | ".join(" ".join(f"{f} {k}" for f, k in txn) for rnd in found.workload for txn in rnd)
        print(f"{'':26} search: {','.join(sorted(want & set(found.result.found)))} after {runs} runs incl. "
              f"shrinking ({took:.1f}s); smallest shape: {shape}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"{'database':26} {'ok':>5} {'fail':>5} {'info':>4} {'abort':>6} {'time':>7}  "
          f"{'anomalies (checked for strict-serializable)':40} weakest models ruled out")
    why = postgres.unavailable()
    if why is None:
        cluster = postgres.Cluster().start()
        try:
            for level in ("read-committed", "repeatable-read", "serializable"):
                db = Postgres(cluster.dsn(), level)
                try:
                    measure(db, args.rounds, args.budget, args.seed)
                finally:
                    db.close()
        finally:
            cluster.stop()
    else:
        print(f"(PostgreSQL skipped: {why})")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("deferred", "immediate"):
            sdb = Sqlite(Path(tmp) / f"{mode}.db", mode)
            try:
                measure(sdb, args.rounds, args.budget, args.seed)
            finally:
                sdb.close()


if __name__ == "__main__":
    main()
