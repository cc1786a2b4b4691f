"""Idempotent payment processor (seed exercise 11 + project 2): ``POST /pay`` with an ``Idempotency-Key``.

Several worker processes share one SQLite database (WAL).  Charging goes to
a payment provider - here a second SQLite file, the provider's ledger, with
a plain non-idempotent ``charge(ref, amount)`` and a ``find(ref)`` lookup -
because the charge is the one effect that cannot be rolled back.  Clients
retry with the same key on timeouts and errors; workers die mid-request.

Variants:

* ``unique_key`` (fixed) - the database's uniqueness is the lock: insert the
  key first (``state='pending'``, ``owner`` = this process) and commit; only
  the inserter charges; then ``state='charged'`` with the stored response.
  A request that finds its key ``pending`` waits while the owner lives; when
  the owner is dead it takes the row over (a compare-and-set on ``owner``),
  asks the provider whether the dead owner's charge went through, charges
  only if not, and stores the response.  Startup recovery does the same for
  every orphaned pending row.  A retry returns the stored response.
* ``check_then_insert`` - looks the key up, and inserts it only if absent,
  in two steps with no uniqueness constraint: two concurrent requests with
  one key both see "absent" and both charge.
* ``charge_first`` - charges, then records the key with the response.  A
  crash between the two (or a concurrent duplicate) charges twice.
* ``fresh_replay`` - records everything correctly, but answers a retry with
  a new "already processed" body instead of the stored first response.

Entry points: ``pay``/``recover`` (one request / startup recovery in a harness
worker process), ``create_app`` (the Starlette app), ``app_from_env`` (for
``uvicorn --factory``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.crash import crashpoint, pausepoint, stepping

Response = tuple[int, dict[str, Any]]
WAIT_ROUNDS = 200  # a request waits this many rounds for a live owner, then answers 409


@dataclass(frozen=True)
class Config:
    unique: bool = True  # UNIQUE key, inserted before charging
    charge_first: bool = False  # charge, then record the key
    replay_stored: bool = True  # a retry gets the stored first response


CONFIGS = {
    "unique_key": Config(),
    "check_then_insert": Config(unique=False),
    "charge_first": Config(charge_first=True),
    "fresh_replay": Config(replay_stored=False),
}


def schema(unique: bool) -> str:
    key = "key TEXT PRIMARY KEY" if unique else "key TEXT NOT NULL"
    return f"""
    CREATE TABLE IF NOT EXISTS payments (
        {key}, state TEXT NOT NULL, owner TEXT, amount INTEGER NOT NULL, response TEXT
    );
    CREATE INDEX IF NOT EXISTS payments_key ON payments(key);
    """


PROVIDER_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (id INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL, amount INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS charges_ref ON charges(ref);
"""


def connect(path: str) -> sqlite3.Connection:
    """Autocommit connection; WAL; no busy wait while the harness steps workers."""
    con = sqlite3.connect(path, isolation_level=None, timeout=0 if stepping() else 10.0)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    return con


def create_dbs(db: str, provider: str, variant: str) -> None:
    with closing(connect(db)) as con:
        con.executescript(schema(CONFIGS[variant].unique))
    with closing(connect(provider)) as con:
        con.executescript(PROVIDER_SCHEMA)


@contextmanager
def write_txn(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; a refused lock is retried after a busy point."""
    for _ in range(10_000):
        try:
            con.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            pausepoint("db-busy", busy=True)
            if not stepping():
                time.sleep(0.001)
    else:
        raise TimeoutError("database stayed locked")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------
# The payment provider: a ledger that charges whatever it is asked to


class Provider:
    def __init__(self, path: str) -> None:
        self.con = connect(path)

    def charge(self, ref: str, amount: int) -> int:
        cur = self.con.execute("INSERT INTO charges(ref, amount) VALUES (?, ?)", (ref, amount))
        return int(cur.lastrowid or 0)

    def find(self, ref: str) -> int | None:
        row = self.con.execute("SELECT id FROM charges WHERE ref = ? ORDER BY id LIMIT 1", (ref,)).fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        self.con.close()


# --------------------------------------------------------------------------
# Who owns a pending row: this process, identified so that a reused pid is not mistaken for it


def _proc_start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None  # dead, not yet reaped
    return fields[19]


def me() -> str:
    return f"{os.getpid()}:{_proc_start(os.getpid())}"


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    pid, _, start = owner.partition(":")
    return _proc_start(int(pid)) == start


# --------------------------------------------------------------------------
# The handler


def _response(key: str, amount: int, charge_id: int) -> Response:
    return 201, {"key": key, "amount": amount, "payment": charge_id, "status": "charged"}


def _stored(row_response: str) -> Response:
    status, body = json.loads(row_response)
    return int(status), dict(body)


class Processor:
    def __init__(self, db: str, provider: str, variant: str) -> None:
        self.config = CONFIGS[variant]
        self.db = connect(db)
        self.provider = Provider(provider)
        self.me = me()

    def close(self) -> None:
        self.db.close()
        self.provider.close()

    def _row(self, key: str) -> tuple[str, str | None, int, str | None] | None:
        row = self.db.execute(
            "SELECT state, owner, amount, response FROM payments WHERE key = ? ORDER BY rowid LIMIT 1", (key,)
        ).fetchone()
        return None if row is None else (str(row[0]), row[1], int(row[2]), row[3])

    def pay(self, key: str, amount: int) -> Response:
        if self.config.charge_first:
            return self._pay_charge_first(key, amount)
        inserted = self._insert_pending(key, amount)
        if inserted:
            crashpoint("key-recorded")
            charge_id = self.provider.charge(key, amount)
            crashpoint("after-charge")
            return self._finish(key, amount, charge_id)
        return self._existing(key, amount)

    def _insert_pending(self, key: str, amount: int) -> bool:
        if self.config.unique:
            try:
                with write_txn(self.db):
                    self.db.execute(
                        "INSERT INTO payments(key, state, owner, amount) VALUES (?, 'pending', ?, ?)",
                        (key, self.me, amount),
                    )
                return True
            except sqlite3.IntegrityError:
                return False
        # BUG (check_then_insert): look, then insert - another request can do the same in between
        if self._row(key) is not None:
            return False
        with write_txn(self.db):
            self.db.execute(
                "INSERT INTO payments(key, state, owner, amount) VALUES (?, 'pending', ?, ?)", (key, self.me, amount)
            )
        return True

    def _finish(self, key: str, amount: int, charge_id: int) -> Response:
        status, body = _response(key, amount, charge_id)
        with write_txn(self.db):
            self.db.execute(
                "UPDATE payments SET state = 'charged', response = ? WHERE key = ? AND owner = ?",
                (json.dumps([status, body], sort_keys=True), key, self.me),
            )
        crashpoint("after-mark-charged")
        return status, body

    def _existing(self, key: str, amount: int) -> Response:
        """The key is known: answer from the record, wait for a live owner, or take over."""
        for _ in range(WAIT_ROUNDS):
            row = self._row(key)
            assert row is not None
            state, owner, stored_amount, response = row
            if stored_amount != amount:
                return 422, {"key": key, "error": "idempotency key reused with another amount"}
            if state == "charged" and response is not None:
                if self.config.replay_stored:
                    return _stored(response)
                return 200, {"key": key, "status": "already processed"}  # BUG (fresh_replay)
            if not owner_alive(owner) and self._take_over(key, owner):
                return self._resolve(key, amount)
            pausepoint("wait-owner", busy=True)
            if not stepping():
                time.sleep(0.005)
        return 409, {"key": key, "error": "a request with this key is in progress"}

    def _take_over(self, key: str, owner: str | None) -> bool:
        with write_txn(self.db):
            cur = self.db.execute(
                "UPDATE payments SET owner = ? WHERE key = ? AND state = 'pending' AND owner IS ?",
                (self.me, key, owner),
            )
        return cur.rowcount == 1

    def _resolve(self, key: str, amount: int) -> Response:
        """We own a pending row whose first owner died: did its charge go through?"""
        charge_id = self.provider.find(key)
        crashpoint("provider-checked")
        if charge_id is None:
            charge_id = self.provider.charge(key, amount)
            crashpoint("after-charge")
        return self._finish(key, amount, charge_id)

    def _pay_charge_first(self, key: str, amount: int) -> Response:
        row = self._row(key)
        if row is not None and row[3] is not None:
            return _stored(row[3])
        charge_id = self.provider.charge(key, amount)  # BUG: the charge happens before the key is recorded
        crashpoint("after-charge")
        status, body = _response(key, amount, charge_id)
        try:
            with write_txn(self.db):
                self.db.execute(
                    "INSERT INTO payments(key, state, owner, amount, response) VALUES (?, 'charged', ?, ?, ?)",
                    (key, self.me, amount, json.dumps([status, body], sort_keys=True)),
                )
        except sqlite3.IntegrityError:
            row = self._row(key)
            assert row is not None and row[3] is not None
            return _stored(row[3])
        crashpoint("after-mark-charged")
        return status, body

    def recover(self) -> int:
        """Startup: finish every pending payment whose owner is dead.  Returns how many."""
        done = 0
        for key, owner, amount in self.db.execute(
            "SELECT key, owner, amount FROM payments WHERE state = 'pending' ORDER BY rowid"
        ).fetchall():
            if not owner_alive(owner) and self._take_over(key, owner):
                self._resolve(key, int(amount))
                done += 1
        return done


# --------------------------------------------------------------------------
# Harness entry points (one call in a worker process)


def pay(db: str, provider: str, variant: str, key: str, amount: int) -> list[Any]:
    p = Processor(db, provider, variant)
    try:
        status, body = p.pay(key, amount)
        return [status, body]
    finally:
        p.close()


def recover(db: str, provider: str, variant: str) -> int:
    p = Processor(db, provider, variant)
    try:
        return p.recover()
    finally:
        p.close()


# --------------------------------------------------------------------------
# HTTP


def create_app(variant: str, db: str, provider: str) -> Any:
    """The Starlette app: ``POST /pay`` (JSON ``{"amount": n}``, header ``Idempotency-Key``)."""
    import threading
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    local = threading.local()  # one pair of connections per server thread

    def handle(key: str, amount: int) -> Response:
        p = getattr(local, "processor", None)
        if p is None:
            p = local.processor = Processor(db, provider, variant)
        return p.pay(key, amount)

    async def pay_endpoint(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse({"error": "Idempotency-Key header required"}, status_code=400)
        try:
            amount = int((await request.json())["amount"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "body must be {\"amount\": <int>}"}, status_code=400)
        status, body = await run_in_threadpool(handle, key, amount)
        return JSONResponse(body, status_code=status)

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        create_dbs(db, provider, variant)
        recover(db, provider, variant)
        yield

    return Starlette(routes=[Route("/pay", pay_endpoint, methods=["POST"])], lifespan=lifespan)


def app_from_env() -> Any:
    """``uvicorn --factory systems.payment_processor:app_from_env``."""
    return create_app(os.environ["PAY_VARIANT"], os.environ["PAY_DB"], os.environ["PAY_PROVIDER"])


SYSTEM = System(
    name="payment_processor",
    summary="POST /pay with Idempotency-Key over SQLite, workers SIGKILLed mid-request: uniqueness as the lock vs check-then-insert, charge-first",
    kind="db",
    properties=("charged-at-most-once", "acknowledged-payment-recorded", "retry-returns-first-answer"),
    variants=[
        Variant("unique_key", lambda: CONFIGS["unique_key"], expect="correct"),
        Variant(
            "check_then_insert",
            lambda: CONFIGS["check_then_insert"],
            expect="violation",
            property="charged-at-most-once",
            bug="looks the key up, then inserts it, with no uniqueness constraint: two concurrent requests with one key both see it absent and both charge",
        ),
        Variant(
            "charge_first",
            lambda: CONFIGS["charge_first"],
            expect="violation",
            property="charged-at-most-once",
            bug="charges before recording the key: a crash between the charge and the insert makes the client's retry charge again",
        ),
        Variant(
            "fresh_replay",
            lambda: CONFIGS["fresh_replay"],
            expect="violation",
            property="retry-returns-first-answer",
            bug="a retry of a completed payment gets a new 'already processed' answer instead of the stored first response",
        ),
    ],
)
