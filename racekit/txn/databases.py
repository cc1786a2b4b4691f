"""List-append on real databases: PostgreSQL at each isolation level, and SQLite.

Each key is a row ``(k, v)`` whose ``v`` holds the list as text (``"1,2,3"``);
an append is one upsert (``INSERT ... ON CONFLICT (k) DO UPDATE SET v = v ||
',' || x``), a read one ``SELECT``.  A :class:`Database` hands out sessions
(one connection each, one per client) and says how a failed transaction
ended: ``fail`` when the database definitely rolled it back (a
serialization failure, a deadlock, a busy lock), ``info`` when the answer
never came (the connection broke while committing).

* :class:`Postgres` - a DSN (racekit's throwaway cluster in the tests,
  :mod:`racekit.crash.postgres`) and a level: ``read-committed``,
  ``repeatable-read`` (snapshot isolation) or ``serializable`` (SSI).
* :class:`Sqlite` - a database file in WAL mode and a transaction mode:
  ``deferred`` (take the write lock at the first write) or ``immediate``
  (at ``BEGIN``).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from pathlib import Path
from typing import Any, Literal, Protocol

Outcome = Literal["fail", "info"]
PG_LEVELS = ("read-committed", "repeatable-read", "serializable")
SQLITE_MODES = ("deferred", "immediate")
_ids = itertools.count()


def _parse(text: str | None) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",")) if text else ()


class Session(Protocol):
    def begin(self) -> None: ...
    def read(self, key: int) -> tuple[int, ...]: ...
    def append(self, key: int, value: int) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class Database(Protocol):
    name: str

    def session(self) -> Session: ...
    def release(self, session: Session) -> None: ...
    def outcome(self, exc: BaseException, committing: bool) -> Outcome: ...
    def fresh_keys(self, n: int) -> int: ...
    def close(self) -> None: ...


# ---------------------------------------------------------------- PostgreSQL


class _PgSession:
    def __init__(self, db: Postgres) -> None:
        import psycopg

        self.conn = psycopg.connect(db.dsn, autocommit=False)
        self.conn.isolation_level = db.isolation
        self.table = db.table
        with self.conn.cursor() as cur:
            cur.execute("SET lock_timeout = '10s'")
        self.conn.commit()

    def begin(self) -> None:
        """psycopg opens the transaction at the first statement (the snapshot is taken there)."""

    def read(self, key: int) -> tuple[int, ...]:
        row = self.conn.execute(f"SELECT v FROM {self.table} WHERE k = %s", (key,)).fetchone()
        return _parse(row[0]) if row else ()

    def append(self, key: int, value: int) -> None:
        self.conn.execute(
            f"INSERT INTO {self.table} AS t (k, v) VALUES (%s, %s) "
            "ON CONFLICT (k) DO UPDATE SET v = t.v || ',' || excluded.v",
            (key, str(value)),
        )

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


class Postgres:
    """List-append over one table in a PostgreSQL database, at one isolation level."""

    def __init__(self, dsn: str, level: str) -> None:
        import psycopg

        if level not in PG_LEVELS:
            raise ValueError(f"unknown PostgreSQL level {level!r}; known: {', '.join(PG_LEVELS)}")
        self.dsn = dsn
        self.level = level
        self.name = f"postgres-{level}"
        self.isolation = {"read-committed": psycopg.IsolationLevel.READ_COMMITTED,
                          "repeatable-read": psycopg.IsolationLevel.REPEATABLE_READ,
                          "serializable": psycopg.IsolationLevel.SERIALIZABLE}[level]
        self.table = f"racekit_lists_{os.getpid()}_{next(_ids)}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {self.table} (k bigint PRIMARY KEY, v text NOT NULL)")
        self._next_key = 0
        self._pool: list[Session] = []

    def session(self) -> Session:
        return self._pool.pop() if self._pool else _PgSession(self)

    def release(self, session: Session) -> None:
        """Keep a healthy session for the next run (connecting costs more than a small workload)."""
        conn = getattr(session, "conn", None)
        if conn is not None and not conn.closed and len(self._pool) < 16:
            self._pool.append(session)
        else:
            session.close()

    def outcome(self, exc: BaseException, committing: bool) -> Outcome:
        """By SQLSTATE: class 40 (serialization failure, deadlock) is a rollback, even at COMMIT;
        anything else while committing (a broken connection, class 08) leaves the outcome unknown."""
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return "info"
        state = exc.sqlstate or ""
        if state.startswith("40"):
            return "fail"
        return "info" if committing else "fail"

    def fresh_keys(self, n: int) -> int:
        start, self._next_key = self._next_key, self._next_key + n
        return start

    def close(self) -> None:
        import psycopg

        while self._pool:
            self._pool.pop().close()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {self.table}")


# -------------------------------------------------------------------- SQLite


class _SqliteSession:
    def __init__(self, db: Sqlite) -> None:
        self.conn = sqlite3.connect(db.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self.begin_sql = f"BEGIN {db.mode.upper()}"

    def begin(self) -> None:
        self.conn.execute(self.begin_sql)

    def read(self, key: int) -> tuple[int, ...]:
        row = self.conn.execute("SELECT v FROM lists WHERE k = ?", (key,)).fetchone()
        return _parse(row[0]) if row else ()

    def append(self, key: int, value: int) -> None:
        self.conn.execute("INSERT INTO lists (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = v || ',' || excluded.v",
                          (key, str(value)))

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


class Sqlite:
    """List-append in a SQLite database file (WAL), with deferred or immediate transactions."""

    def __init__(self, path: str | Path, mode: str) -> None:
        if mode not in SQLITE_MODES:
            raise ValueError(f"unknown SQLite transaction mode {mode!r}; known: {', '.join(SQLITE_MODES)}")
        self.path = str(path)
        self.mode = mode
        self.name = f"sqlite-{mode}"
        with sqlite3.connect(self.path, isolation_level=None) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS lists (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        conn.close()
        self._next_key = 0
        self._pool: list[Session] = []

    def session(self) -> Session:
        return self._pool.pop() if self._pool else _SqliteSession(self)

    def release(self, session: Session) -> None:
        if len(self._pool) < 16:
            self._pool.append(session)
        else:
            session.close()

    def outcome(self, exc: BaseException, committing: bool) -> Outcome:
        # SQLITE_BUSY / "database is locked" leaves nothing committed (racekit rolls back)
        return "fail" if isinstance(exc, sqlite3.OperationalError) else "info"

    def fresh_keys(self, n: int) -> int:
        start, self._next_key = self._next_key, self._next_key + n
        return start

    def close(self) -> None:
        while self._pool:
            self._pool.pop().close()


def describe(db: Any) -> str:
    return str(getattr(db, "name", type(db).__name__))
