"""Concurrent inventory reservation (seed project 6): no overselling under high contention.

Clients reserve units of an item from several processes, each with its own
database connection.  ``reserve(sku, qty)`` succeeds only while stock lasts.

SQLite (WAL) strategies:

* ``sqlite_implicit_txn`` - Python's ``sqlite3`` default transaction control:
  the ``SELECT`` runs outside any transaction and the implicit ``BEGIN`` comes
  only at the ``UPDATE``, which writes the value computed from the stale read.
  Two clients read 1, both write 0: oversold.
* ``sqlite_deferred`` - the read and the write in one ``BEGIN`` (deferred)
  transaction.  SQLite does not oversell here: the writer whose snapshot is
  stale cannot upgrade (``SQLITE_BUSY_SNAPSHOT``) and retries.
* ``sqlite_immediate`` - ``BEGIN IMMEDIATE``: the write lock before the read.
* ``sqlite_conditional`` - one statement: ``UPDATE ... SET remaining =
  remaining - ? WHERE sku = ? AND remaining >= ?``; success iff a row changed.

PostgreSQL strategies (where PostgreSQL is installed):

* ``pg_read_committed`` - read, then ``UPDATE ... SET remaining = <computed>``
  at READ COMMITTED: the second writer waits for the first, then overwrites
  its result (a lost update): oversold.
* ``pg_repeatable_read`` / ``pg_serializable`` - the same code at REPEATABLE
  READ / SERIALIZABLE: the second writer fails with a serialization failure
  (SQLSTATE 40001) and retries from the top.
* ``pg_for_update`` - ``SELECT ... FOR UPDATE`` at READ COMMITTED (pessimistic).
* ``pg_conditional`` - the conditional ``UPDATE`` at READ COMMITTED.

While the harness steps the clients, SQLite code never waits on a lock
(``timeout=0``; a refused lock is a busy point, then a retry), and
PostgreSQL code waits for real: the harness sees the wait in ``pg_locks``.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from typing import Any

from racekit import System, Variant
from racekit.crash import pausepoint, report, stepping

SQLITE = ("sqlite_implicit_txn", "sqlite_deferred", "sqlite_immediate", "sqlite_conditional")
POSTGRES = ("pg_read_committed", "pg_repeatable_read", "pg_serializable", "pg_for_update", "pg_conditional")
ISOLATION = {
    "pg_read_committed": "READ COMMITTED",
    "pg_repeatable_read": "REPEATABLE READ",
    "pg_serializable": "SERIALIZABLE",
    "pg_for_update": "READ COMMITTED",
    "pg_conditional": "READ COMMITTED",
}
MAX_ATTEMPTS = 1000

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL, remaining INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL,
                                         qty INTEGER NOT NULL, client TEXT NOT NULL);
"""
PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (sku TEXT PRIMARY KEY, stock INTEGER NOT NULL, remaining INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (id SERIAL PRIMARY KEY, sku TEXT NOT NULL, qty INTEGER NOT NULL,
                                         client TEXT NOT NULL);
"""


class Retry(Exception):
    """The database refused this attempt (lock, snapshot, serialization): try again."""

    def __init__(self, why: str, busy: bool) -> None:
        super().__init__(why)
        self.why = why
        self.busy = busy  # True: cannot succeed before another client moves


# --------------------------------------------------------------------------
# SQLite


def sqlite_connect(path: str, strategy: str) -> sqlite3.Connection:
    level = "" if strategy == "sqlite_implicit_txn" else None  # "" = the sqlite3 module's implicit BEGIN
    con = sqlite3.connect(path, isolation_level=level, timeout=0 if stepping() else 30.0)
    con.execute("PRAGMA journal_mode=WAL")
    return con


def sqlite_setup(path: str, items: dict[str, int]) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as con:
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SQLITE_SCHEMA)
        con.executemany("INSERT INTO items VALUES (?, ?, ?)", [(k, n, n) for k, n in items.items()])


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class SqliteInventory:
    def __init__(self, path: str, strategy: str) -> None:
        self.strategy = strategy
        self.con = sqlite_connect(path, strategy)

    def close(self) -> None:
        self.con.close()

    def attempt(self, sku: str, qty: int, client: str) -> bool:
        con, s = self.con, self.strategy
        if s == "sqlite_conditional":
            try:
                con.execute("BEGIN")
                cur = con.execute(
                    "UPDATE items SET remaining = remaining - ? WHERE sku = ? AND remaining >= ?", (qty, sku, qty)
                )
                if cur.rowcount == 0:
                    con.execute("ROLLBACK")
                    return False
                pausepoint("updated")
                con.execute("INSERT INTO reservations(sku, qty, client) VALUES (?, ?, ?)", (sku, qty, client))
                con.execute("COMMIT")
                return True
            except sqlite3.OperationalError as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                if _locked(exc):
                    raise Retry("SQLITE_BUSY", busy=True) from None
                raise
        if s == "sqlite_implicit_txn":
            # BUG: the sqlite3 module begins the transaction at the UPDATE, after this read
            (remaining,) = con.execute("SELECT remaining FROM items WHERE sku = ?", (sku,)).fetchone()
            pausepoint("read")
            if remaining < qty:
                return False
            try:
                con.execute("UPDATE items SET remaining = ? WHERE sku = ?", (remaining - qty, sku))
                con.execute("INSERT INTO reservations(sku, qty, client) VALUES (?, ?, ?)", (sku, qty, client))
                con.commit()
            except sqlite3.OperationalError as exc:
                con.rollback()
                if _locked(exc):
                    raise Retry("SQLITE_BUSY", busy=True) from None
                raise
            return True
        begin = "BEGIN IMMEDIATE" if s == "sqlite_immediate" else "BEGIN"
        try:
            con.execute(begin)
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                raise Retry("SQLITE_BUSY (write lock held)", busy=True) from None
            raise
        try:
            (remaining,) = con.execute("SELECT remaining FROM items WHERE sku = ?", (sku,)).fetchone()
            pausepoint("read")
            if remaining < qty:
                con.execute("ROLLBACK")
                return False
            con.execute("UPDATE items SET remaining = ? WHERE sku = ?", (remaining - qty, sku))
            con.execute("INSERT INTO reservations(sku, qty, client) VALUES (?, ?, ?)", (sku, qty, client))
            con.execute("COMMIT")
            return True
        except sqlite3.OperationalError as exc:
            con.execute("ROLLBACK")
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY_SNAPSHOT:
                # in WAL mode: our snapshot is older than the last commit; a fresh one will do
                raise Retry("SQLITE_BUSY_SNAPSHOT (read snapshot is stale)", busy=False) from None
            if _locked(exc):
                # another writer holds the lock (SQLite does not wait when upgrading a read
                # transaction): nothing to do until it commits or rolls back
                raise Retry("SQLITE_BUSY (write lock held by another writer)", busy=True) from None
            raise


# --------------------------------------------------------------------------
# PostgreSQL


def pg_setup(dsn: str, items: dict[str, int]) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(PG_SCHEMA)
        con.execute("TRUNCATE items, reservations RESTART IDENTITY")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", [(k, n, n) for k, n in items.items()])


class PgInventory:
    def __init__(self, dsn: str, strategy: str) -> None:
        import psycopg

        self.strategy = strategy
        self.con = psycopg.connect(dsn, autocommit=True)
        self.backend_pid = self.con.info.backend_pid

    def close(self) -> None:
        self.con.close()

    def attempt(self, sku: str, qty: int, client: str) -> bool:
        import psycopg.errors as e

        con, s = self.con, self.strategy
        con.execute(f"BEGIN ISOLATION LEVEL {ISOLATION[s]}")
        try:
            if s == "pg_conditional":
                cur = con.execute(
                    "UPDATE items SET remaining = remaining - %s WHERE sku = %s AND remaining >= %s", (qty, sku, qty)
                )
                ok = cur.rowcount == 1
                pausepoint("updated")
            else:
                lock = " FOR UPDATE" if s == "pg_for_update" else ""
                row = con.execute(f"SELECT remaining FROM items WHERE sku = %s{lock}", (sku,)).fetchone()
                assert row is not None
                pausepoint("read")
                ok = row[0] >= qty
                if ok:  # pg_read_committed: BUG, the value was computed from a read another commit may have overtaken
                    con.execute("UPDATE items SET remaining = %s WHERE sku = %s", (row[0] - qty, sku))
                    pausepoint("written")
            if ok:
                con.execute("INSERT INTO reservations(sku, qty, client) VALUES (%s, %s, %s)", (sku, qty, client))
            con.execute("COMMIT")
            return ok
        except (e.SerializationFailure, e.DeadlockDetected) as exc:
            con.execute("ROLLBACK")
            raise Retry(f"{exc.sqlstate} {type(exc).__name__}", busy=False) from None
        except BaseException:
            con.execute("ROLLBACK")
            raise


# --------------------------------------------------------------------------
# Worker entry point


def open_inventory(target: str, strategy: str) -> SqliteInventory | PgInventory:
    if strategy in SQLITE:
        return SqliteInventory(target, strategy)
    if strategy in POSTGRES:
        return PgInventory(target, strategy)
    raise ValueError(f"unknown strategy {strategy!r}")


def reserve(inv: SqliteInventory | PgInventory, sku: str, qty: int, client: str) -> tuple[bool, int]:
    """Reserve with retries; returns (reserved?, attempts that were refused)."""
    refused = 0
    for _ in range(MAX_ATTEMPTS):
        try:
            return inv.attempt(sku, qty, client), refused
        except Retry as r:
            refused += 1
            report({"refused": r.why})
            pausepoint("retry", busy=r.busy)
            if not stepping():
                time.sleep(0.0002 * min(refused, 50))
    raise TimeoutError(f"{client}: no reservation after {MAX_ATTEMPTS} attempts")


def client(target: str, strategy: str, name: str, ops: list[list[Any]]) -> int:
    """Run ``ops`` (``[sku, qty]`` each), reporting each invocation and answer."""
    inv = open_inventory(target, strategy)
    refused = 0
    try:
        if isinstance(inv, PgInventory):
            report({"backend_pid": inv.backend_pid})
        for i, (sku, qty) in enumerate(ops):
            report({"invoke": i})
            ok, r = reserve(inv, str(sku), int(qty), name)
            refused += r
            report({"ok": i, "reserved": ok})
        return refused
    finally:
        inv.close()


def _v(name: str) -> Variant:
    broken = {
        "sqlite_implicit_txn": "Python's sqlite3 opens the transaction at the UPDATE, after the SELECT: two clients read the same stock and both write stock - 1",
        "pg_read_committed": "at READ COMMITTED the second UPDATE waits for the first, then writes the value computed from its stale read: a lost update",
    }
    if name in broken:
        return Variant(name, lambda: name, expect="violation", property="no-oversell", bug=broken[name])
    return Variant(name, lambda: name, expect="correct")


SYSTEM = System(
    name="inventory",
    summary="Inventory reservations under contention on SQLite and PostgreSQL: isolation levels, optimistic vs pessimistic locking",
    kind="db",
    properties=("no-oversell", "stock-conservation", "refusal-justified"),
    variants=[_v(n) for n in SQLITE + POSTGRES],
)


def bench_client(target: str, strategy: str, name: str, sku: str, seconds: float) -> list[int]:
    """Benchmark loop: reserve 1 unit of ``sku`` for ``seconds``; returns [reserved, refused, sold out]."""
    inv = open_inventory(target, strategy)
    reserved = refused = sold_out = 0
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ok, r = reserve(inv, sku, 1, name)
            refused += r
            if ok:
                reserved += 1
            else:
                sold_out += 1
        return [reserved, refused, sold_out]
    finally:
        inv.close()
