"""Request deduplication across instances (seed project 9): each logical request processed once.

Clients send requests with a request id (an idempotency key) and retry on
timeouts; a load balancer may send the retry - or a duplicate from an
at-least-once queue - to another instance.  Several instances run as
separate processes.  "Processing" a request is an effect in the
application's database (a row in ``effects``: think "send the e-mail",
"apply the transfer").  A request id seen within the last 10 minutes must
not be processed again; the store of seen ids must not grow without bound.

Variants:

* ``sqlite_unique`` (fixed) - a shared SQLite table whose primary key is the
  request id.  In one ``BEGIN IMMEDIATE`` transaction: delete the entries
  that expired by the *server's* clock, ``INSERT ... ON CONFLICT DO NOTHING``
  (atomic insert-if-absent: one row changed means "first"), and, if first,
  the effect - so the mark and the effect commit together.
* ``redis_set_nx`` (fixed) - ``SET dedup:<id> <instance> NX PX 600000`` on a
  shared Redis: atomic insert-if-absent whose expiry runs on Redis's own
  clock; if it was set, the effect.  Memory is bounded by Redis expiring keys.
* ``per_instance_memory`` - each instance remembers the ids *it* has seen,
  in a dict with expiries (a local TTL cache).  A retry routed to another
  instance is processed again.
* ``check_then_insert`` - the shared SQLite table without a uniqueness
  constraint: look the id up, and if absent insert it and process.  Two
  instances handling the same id at once both see it absent.
* ``client_clock_window`` - insert-if-absent on the shared table, but the
  entry's expiry is computed from the timestamp the client sent
  (``X-Request-Time``) rather than the server's clock.  A client whose clock
  is more than the window behind writes an entry that is already expired:
  the next instance purges it and processes the retry again (and a client
  ahead of time keeps its entries alive far past the window).

Time: every handler takes ``now`` (the server's clock, in ms) as an argument
- ``time.time()`` in production, a virtual clock under the harness - so a
run does not depend on the wall clock.  Redis's expiry runs on Redis's
clock, which the harness cannot move: there the bound is checked as "every
entry expires within the window".

Entry points: ``Instance`` (one instance's handler), ``serve`` (an
instance process under the crash harness), ``setup``.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.crash import operation, report

WINDOW_MS = 600_000  # 10 minutes
PROCESSED, DUPLICATE = "processed", "duplicate"
KEY_PREFIX = "dedup:"


@dataclass(frozen=True)
class Config:
    store: str  # "memory" | "sqlite" | "redis"
    unique: bool = True  # sqlite: the request id is the primary key (insert-if-absent)
    clock: str = "server"  # whose clock the entry's expiry is computed from: "server" | "client"


CONFIGS = {
    "sqlite_unique": Config("sqlite"),
    "redis_set_nx": Config("redis"),
    "per_instance_memory": Config("memory"),
    "check_then_insert": Config("sqlite", unique=False),
    "client_clock_window": Config("sqlite", clock="client"),
}

EFFECTS = """
CREATE TABLE IF NOT EXISTS effects (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, instance TEXT NOT NULL, at_ms INTEGER NOT NULL
);
"""


def seen_schema(unique: bool) -> str:
    key = "request_id TEXT PRIMARY KEY" if unique else "request_id TEXT NOT NULL"
    return f"""
    CREATE TABLE IF NOT EXISTS seen ({key}, expires_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS seen_expiry ON seen(expires_at);
    CREATE INDEX IF NOT EXISTS seen_request ON seen(request_id);
    """


def connect(path: str) -> sqlite3.Connection:
    """Autocommit connection in WAL mode; waits up to 10 s for the write lock."""
    con = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    return con


def setup(db: str, variant: str) -> None:
    """Create the application database: effects, and for the SQLite store the shared table of seen ids."""
    config = CONFIGS[variant]
    with closing(connect(db)) as con:
        con.executescript(EFFECTS + (seen_schema(config.unique) if config.store == "sqlite" else ""))


def now_ms() -> int:
    """The server's clock in production."""
    return int(time.time() * 1000)


class Instance:
    """One app instance: ``handle(request_id, client_ts, now)`` -> "processed" | "duplicate".

    ``now`` is the server's clock (``now_ms()`` in production); ``client_ts``
    what the client's clock said when it sent the request.
    """

    def __init__(self, name: str, variant: str, db: str, redis_socket: str | None = None) -> None:
        self.name = name
        self.config = CONFIGS[variant]
        self.db = connect(db)
        self.memory: dict[str, int] = {}  # per_instance_memory: request id -> expiry (ms)
        self.redis: Any = None
        self._closers = [self.db.close]
        if self.config.store == "redis":
            import redis

            if not redis_socket:
                raise ValueError("the redis variant needs a redis socket")
            self.redis = redis.Redis(unix_socket_path=redis_socket, socket_timeout=10)
            self._closers.append(self.redis.close)

    def close(self) -> None:
        for close in self._closers:
            close()

    def handle(self, request_id: str, client_ts: int, now: int) -> str:
        if self.config.store == "redis":
            return self._redis(request_id, now)
        if self.config.store == "memory":
            return self._memory(request_id, now)
        if self.config.unique:
            return self._insert_if_absent(request_id, client_ts, now)
        return self._check_then_insert(request_id, now)

    def _effect(self, request_id: str, now: int) -> None:
        self.db.execute("INSERT INTO effects(request_id, instance, at_ms) VALUES (?, ?, ?)", (request_id, self.name, now))

    # ------------------------------------------------------------ the shared SQLite table
    def _insert_if_absent(self, request_id: str, client_ts: int, now: int) -> str:
        # client_clock_window: BUG, the window is measured on a clock the client controls
        expires = (client_ts if self.config.clock == "client" else now) + WINDOW_MS
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
            cur = self.db.execute(
                "INSERT INTO seen(request_id, expires_at) VALUES (?, ?) ON CONFLICT(request_id) DO NOTHING",
                (request_id, expires),
            )
            first = cur.rowcount == 1
            if first:
                self._effect(request_id, now)  # in the same transaction as the mark
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return PROCESSED if first else DUPLICATE

    def _check_then_insert(self, request_id: str, now: int) -> str:
        # BUG: the look-up and the insert are two steps, and nothing makes the id unique
        row = self.db.execute("SELECT 1 FROM seen WHERE request_id = ? AND expires_at > ?", (request_id, now)).fetchone()
        if row is not None:
            return DUPLICATE
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
            self.db.execute("INSERT INTO seen(request_id, expires_at) VALUES (?, ?)", (request_id, now + WINDOW_MS))
            self._effect(request_id, now)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return PROCESSED

    # ------------------------------------------------------------ Redis
    def _redis(self, request_id: str, now: int) -> str:
        key = KEY_PREFIX + request_id
        with operation("redis", f"SET {key} NX PX {WINDOW_MS}") as op:
            first = bool(self.redis.set(key, self.name, nx=True, px=WINDOW_MS))
            op.outcome = "(set)" if first else "(exists)"
        if not first:
            return DUPLICATE
        self._effect(request_id, now)
        return PROCESSED

    # ------------------------------------------------------------ per-instance memory
    def _memory(self, request_id: str, now: int) -> str:
        # a dict keeps insertion order, which is expiry order for one instance's clock: drop from the front
        expired = []
        for rid, expires in self.memory.items():
            if expires > now:
                break
            expired.append(rid)
        for rid in expired:
            del self.memory[rid]
        if request_id in self.memory:  # BUG: only the ids *this* instance has seen
            return DUPLICATE
        self.memory[request_id] = now + WINDOW_MS
        self._effect(request_id, now)
        return PROCESSED


# --------------------------------------------------------------------------
# Harness entry point: one instance process serving its requests in order


def serve(db: str, variant: str, instance: str, requests: list[list[Any]], redis_socket: str | None = None) -> None:
    """Handle ``requests`` (``[request_id, client_ts, now]`` each) in order.

    Reports ``{"invoke": i}`` when request ``i`` arrives and ``{"answer": i,
    "result": ...}`` when it is answered (for the harness's history).
    """
    run_instance(Instance(instance, variant, db, redis_socket), requests)


def run_instance(inst: Instance, requests: list[list[Any]]) -> None:
    """``serve`` on a given instance (a test's planted copy subclasses ``Instance``; nothing is patched)."""
    try:
        for i, (request_id, client_ts, now) in enumerate(requests):
            report({"invoke": i})
            result = inst.handle(str(request_id), int(client_ts), int(now))
            report({"answer": i, "result": result})
    finally:
        inst.close()


SYSTEM = System(
    name="request_dedup",
    summary="Request dedup across instance processes within a 10-minute window: shared insert-if-absent (SQLite unique, Redis SET NX PX) vs per-instance memory, check-then-insert, a window on the client's clock",
    kind="proc",
    properties=("processed-once-in-window", "no-request-lost", "effect-per-request", "memory-bounded", "linearizability"),
    variants=[
        Variant("sqlite_unique", lambda: CONFIGS["sqlite_unique"], expect="correct"),
        Variant("redis_set_nx", lambda: CONFIGS["redis_set_nx"], expect="correct"),
        Variant(
            "per_instance_memory",
            lambda: CONFIGS["per_instance_memory"],
            expect="violation",
            property="processed-once-in-window",
            bug="each instance remembers only the ids it has seen: a retry routed to another instance is processed again",
        ),
        Variant(
            "check_then_insert",
            lambda: CONFIGS["check_then_insert"],
            expect="violation",
            property="processed-once-in-window",
            bug="looks the id up, then inserts it, with no uniqueness constraint: two instances handling one id at once both see it absent and both process it",
        ),
        Variant(
            "client_clock_window",
            lambda: CONFIGS["client_clock_window"],
            expect="violation",
            property="processed-once-in-window",
            bug="the entry's expiry comes from the client's timestamp: a client clock more than the window behind writes an entry that is already expired, so its retry is processed again",
        ),
    ],
)
