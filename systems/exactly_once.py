"""Exactly-once illusion (seed exercise 12): a consumer between a broker and a database.

Messages ("add ``amount`` to ``account``") sit in a broker - a SQLite file
of its own, with an ``acked`` flag; an unacknowledged message is delivered
again when the consumer restarts, and the broker may also deliver a message
twice on its own (at-least-once).  The consumer applies each message to the
application database (a balance, and an ``effects`` row per application).
The broker and the database are two systems: no transaction spans both.
The consumer process is killed with SIGKILL at any point.

Variants:

* ``inbox`` (fixed) - idempotent consumer: in *one* database transaction,
  insert the message id into an ``inbox`` table (primary key) and apply the
  effect; a duplicate delivery hits the key and is skipped; then ack.
* ``ack_then_process`` - acks on receipt, then processes: a kill in between
  loses the message (at-most-once).
* ``process_then_ack`` - processes, then acks, with no dedup: a kill in
  between (or a broker duplicate) applies it twice (at-least-once).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from racekit import System, Variant
from racekit.crash import crashpoint, report

BROKER_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL,
                                     acked INTEGER NOT NULL DEFAULT 0);
"""
APP_SCHEMA = """
CREATE TABLE IF NOT EXISTS balances (account TEXT PRIMARY KEY, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS effects (msg_id INTEGER NOT NULL, account TEXT NOT NULL, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox (msg_id INTEGER PRIMARY KEY);
"""

ORDERS = {"inbox", "ack_then_process", "process_then_ack"}


def connect(path: str) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    return con


def setup(broker: str, app: str, messages: list[tuple[str, int]]) -> None:
    with closing(connect(broker)) as b:
        b.executescript(BROKER_SCHEMA)
        b.executemany("INSERT INTO messages(account, amount) VALUES (?, ?)", messages)
    with closing(connect(app)) as a:
        a.executescript(APP_SCHEMA)


class Consumer:
    def __init__(self, broker: str, app: str, variant: str) -> None:
        if variant not in ORDERS:
            raise ValueError(f"unknown variant {variant!r}")
        self.variant = variant
        self.broker = connect(broker)
        self.app = connect(app)

    def close(self) -> None:
        self.broker.close()
        self.app.close()

    def receive(self, msg_id: int) -> tuple[str, int]:
        account, amount = self.broker.execute("SELECT account, amount FROM messages WHERE id = ?", (msg_id,)).fetchone()
        return str(account), int(amount)

    def ack(self, msg_id: int) -> None:
        self.broker.execute("UPDATE messages SET acked = 1 WHERE id = ?", (msg_id,))

    def apply(self, msg_id: int, account: str, amount: int, dedup: bool) -> bool:
        """Apply the effect in one transaction; with ``dedup``, at most once per message id."""
        self.app.execute("BEGIN IMMEDIATE")
        try:
            if dedup:
                try:
                    self.app.execute("INSERT INTO inbox(msg_id) VALUES (?)", (msg_id,))
                except sqlite3.IntegrityError:
                    self.app.execute("ROLLBACK")
                    return False  # seen before: the effect is already there
            self.app.execute("INSERT INTO effects(msg_id, account, amount) VALUES (?, ?, ?)", (msg_id, account, amount))
            self.app.execute(
                "INSERT INTO balances VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET amount = amount + excluded.amount",
                (account, amount),
            )
        except BaseException:
            self.app.execute("ROLLBACK")
            raise
        self.app.execute("COMMIT")
        return True

    def handle(self, msg_id: int) -> None:
        account, amount = self.receive(msg_id)
        crashpoint("received")
        if self.variant == "ack_then_process":
            self.ack(msg_id)  # BUG: acknowledged before the effect is durable
            crashpoint("acked")
            self.apply(msg_id, account, amount, dedup=False)
            crashpoint("processed")
        else:
            self.apply(msg_id, account, amount, dedup=self.variant == "inbox")
            crashpoint("processed")
            self.ack(msg_id)
            crashpoint("acked")


def consume(broker: str, app: str, variant: str, deliveries: list[int]) -> int:
    """Handle ``deliveries`` (message ids, as the broker delivers them) in order.

    Reports ``{"delivery": i}`` as delivery ``i`` starts, for the harness's
    bookkeeping (which deliveries are still due after a crash).
    """
    c = Consumer(broker, app, variant)
    try:
        for i, msg_id in enumerate(deliveries):
            report({"delivery": i})
            c.handle(msg_id)
        return len(deliveries)
    finally:
        c.close()


SYSTEM = System(
    name="exactly_once",
    summary="Consumer between a broker and a database, SIGKILLed anywhere: ack-then-process loses, process-then-ack duplicates, an inbox table in the effect's transaction is exactly-once",
    kind="proc",
    properties=("no-lost-effect", "no-duplicate-effect"),
    variants=[
        Variant("inbox", lambda: "inbox", expect="correct"),
        Variant(
            "ack_then_process",
            lambda: "ack_then_process",
            expect="violation",
            property="no-lost-effect",
            bug="acks the message on receipt, then processes it: a kill in between and the broker never redelivers it",
        ),
        Variant(
            "process_then_ack",
            lambda: "process_then_ack",
            expect="violation",
            property="no-duplicate-effect",
            bug="processes, then acks, without remembering what it processed: a kill before the ack and the redelivery is applied again",
        ),
    ],
)
