"""Real databases under txncheck: each isolation level shows what its documentation says.

PostgreSQL (a throwaway cluster, unix socket only; skipped with the reason
when it cannot be started): SERIALIZABLE stays clean over the budget;
REPEATABLE READ (snapshot isolation) shows write skew, a G2-item cycle, and
Hypothesis shrinks the workload to the textbook pair; READ COMMITTED shows
read skew but never a read-committed anomaly.  SQLite, deferred or
immediate, stays serializable.  Budgets are small here; the ``deep`` tests
run longer.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest

from racekit.crash import postgres
from racekit.txn import check
from racekit.txn.databases import Postgres, Sqlite
from racekit.txn.runner import RunStats, run
from racekit.txn.search import find_anomaly
from racekit.txn.shapes import random_workload

CYCLES = {"G0", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item"}
ANY = CYCLES | {"G1a", "G1b", "internal", "lost-update", "dirty-update", "incompatible-order", "future-read",
                "duplicate-elements"}
needs_pg = pytest.mark.skipif(postgres.unavailable() is not None, reason=postgres.unavailable() or "")


@pytest.fixture
def pg_dsn() -> str:
    return postgres.shared().dsn()


def _random_run(db: Postgres | Sqlite, rounds: int, seed: int) -> tuple[RunStats, object]:
    stats = RunStats()
    history = run(db, random_workload(random.Random(seed), rounds, clients=4, keys=3), stats=stats)
    return stats, history


# ---------------------------------------------------------------- PostgreSQL


@needs_pg
def test_serializable_stays_clean_over_the_budget(pg_dsn: str) -> None:
    db = Postgres(pg_dsn, "serializable")
    try:
        found, runs = find_anomaly(functools.partial(run, db), ANY, {"consistency-models": ["serializable"]},
                                   budget=25, shrink=False)
        assert found is None, found and found.result.cycles[:1]
        assert runs == 25
        stats, history = _random_run(db, rounds=15, seed=7)
        assert stats.committed > 20 and stats.failed > 0  # contention made SSI abort some, as it should
        for models in (["serializable"], ["strict-serializable"]):
            result = check(history, {"consistency-models": models})  # type: ignore[arg-type]
            assert result.valid is True, (models, result.anomaly_types)
    finally:
        db.close()


@needs_pg
def test_repeatable_read_shows_write_skew_and_shrinks_to_the_textbook_pair(pg_dsn: str) -> None:
    db = Postgres(pg_dsn, "repeatable-read")
    try:
        found, runs = find_anomaly(functools.partial(run, db), {"G2-item"}, {"consistency-models": ["serializable"]},
                                   budget=60)
        assert found is not None, f"no G2-item in {runs} workloads"
        ((a, b),) = found.workload  # one round of two transactions...
        assert sorted(f for f, _ in a) == sorted(f for f, _ in b) == ["append", "r"]  # ...each a read and an append
        (ra, wa), (rb, wb) = sorted(a), sorted(b)  # ("append", k) sorts before ("r", k)
        assert ra[1] == wb[1] and rb[1] == wa[1] and ra[1] != rb[1]  # each reads what the other writes
        assert found.result.anomaly_types == ["G2-item"] and found.result.not_ == ["repeatable-read"]
        # PostgreSQL's REPEATABLE READ is snapshot isolation: nothing snapshot isolation forbids shows
        assert check(found.history, {"consistency-models": ["snapshot-isolation"]}).valid is True
        _, history = _random_run(db, rounds=15, seed=7)
        assert check(history, {"consistency-models": ["snapshot-isolation"]}).valid is True
    finally:
        db.close()


@needs_pg
def test_read_committed_shows_read_skew_but_stays_read_committed(pg_dsn: str) -> None:
    db = Postgres(pg_dsn, "read-committed")
    try:
        found, _ = find_anomaly(functools.partial(run, db), {"G-single-item", "internal"},
                                {"consistency-models": ["serializable"]}, budget=60, shrink=False)
        assert found is not None
        assert {"G-single-item", "internal"} & set(found.result.anomaly_types)
        _, history = _random_run(db, rounds=15, seed=7)
        result = check(history, {"consistency-models": ["read-committed"]})
        assert result.valid is True, result.anomaly_types
        assert check(history, {"consistency-models": ["serializable"]}).valid is False
    finally:
        db.close()


@needs_pg
@pytest.mark.deep
@pytest.mark.parametrize("level", ["serializable", "repeatable-read"])
def test_deep_long_runs(pg_dsn: str, level: str) -> None:
    db = Postgres(pg_dsn, level)
    try:
        _, history = _random_run(db, rounds=300, seed=11)
        model = "serializable" if level == "serializable" else "snapshot-isolation"
        assert check(history, {"consistency-models": [model, "strict-serializable"] if level == "serializable"
                               else [model]}).valid is True
        found, runs = find_anomaly(functools.partial(run, db), ANY if level == "serializable" else {"G2-item"},
                                   {"consistency-models": ["serializable"]}, budget=400, shrink=False)
        assert (found is None) == (level == "serializable")
    finally:
        db.close()


# -------------------------------------------------------------------- SQLite


@pytest.mark.parametrize("mode", ["deferred", "immediate"])
def test_sqlite_stays_serializable(tmp_path: Path, mode: str) -> None:
    db = Sqlite(tmp_path / "lists.db", mode)
    stats, history = _random_run(db, rounds=10, seed=3)
    assert stats.committed > 10
    result = check(history, {"consistency-models": ["strict-serializable"]})
    assert result.valid is True, result.anomaly_types
    found, _ = find_anomaly(functools.partial(run, db), ANY, {"consistency-models": ["serializable"]}, budget=15,
                            shrink=False)
    assert found is None


def test_sqlite_deferred_aborts_one_side_of_a_write_skew(tmp_path: Path) -> None:
    db = Sqlite(tmp_path / "lists.db", "deferred")
    stats = RunStats()
    history = run(db, [[[("r", 0), ("append", 1)], [("r", 1), ("append", 0)]]], stats=stats)
    assert (stats.committed, stats.failed) == (1, 1)  # SQLITE_BUSY_SNAPSHOT for the second writer
    assert [op.type for op in history.completions] in (["ok", "fail"], ["fail", "ok"])
