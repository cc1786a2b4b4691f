"""Order saga (seed exercise 15): reserve stock, charge, ship - or undo what was done.

An order runs three steps against three services, each with its own SQLite
database:

1. **reserve** - ``systems.inventory``'s conditional reservation
   (``SqliteInventory`` with ``sqlite_conditional``, the reservation's client
   being the order id); compensation **release**: delete the order's
   reservation and put its units back, in one transaction.
2. **charge** - ``systems.payment_processor``'s ``Processor.pay`` with the
   Idempotency-Key ``<order>:charge`` (its fixed ``unique_key`` variant);
   compensation **refund**: ``pay`` of minus the amount under the key
   ``<order>:refund``, after finishing the charge whatever state the crash
   left it in (``pay`` with the charge's key again: it takes over a dead
   owner's pending row and asks the provider) - so a refund happens once and
   only for a charge that happened.
3. **ship** - a small shipping service (``shipments`` keyed by order id);
   it refuses undeliverable orders; compensation **cancel**.

The coordinator keeps the saga log in its own SQLite database and is
SIGKILLed anywhere; a restarted coordinator runs recovery first.  A step
that fails (no stock, undeliverable) compensates the steps before it.

Variants:

* ``logged`` (fixed) - before each step the log records that the step
  *began* (``begun``), after it that it is ``done``; compensations are
  idempotent (keyed by order id / Idempotency-Key) and logged after.
  Recovery compensates every unfinished saga: each step with a ``begun``
  record, last first.  The saga ends ``done`` or ``compensated``.
* ``no_compensation`` - a failed step marks the saga ``failed``; nothing
  that was done is undone.
* ``double_refund`` - the refund is a plain provider charge of minus the
  amount if the provider holds the charge (not idempotent), logged after it happens; recovery compensates
  every step whose compensation is not logged - a crash between the refund
  and its log record refunds twice.
* ``log_after_step`` - no ``begun`` record: a step is logged once it is
  done, and recovery compensates the logged steps.  A crash between a step
  and its log record leaves a step nobody will undo.

Entry points: ``run_orders`` (the coordinator process: recovery, then the
orders), ``setup``, ``Services`` (the parent's read-only view for checks).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from systems import inventory, payment_processor

SKU = "widget"
STEPS = ("reserve", "charge", "ship")
SAGA_SCHEMA = """
CREATE TABLE IF NOT EXISTS sagas (order_id TEXT PRIMARY KEY, qty INTEGER NOT NULL, amount INTEGER NOT NULL,
                                  state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, step TEXT NOT NULL,
                                status TEXT NOT NULL);
"""
SHIPPING_SCHEMA = """
CREATE TABLE IF NOT EXISTS shipments (order_id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS undeliverable (order_id TEXT PRIMARY KEY);
"""
PAYMENT_VARIANT = "unique_key"
CHARGED = 201  # payment_processor's answer for a charge, the first time and on every replay
INVENTORY_STRATEGY = "sqlite_conditional"


@dataclass(frozen=True)
class Config:
    compensate: bool = True
    idempotent_refund: bool = True
    log_begun: bool = True  # a "begun" record before each step


CONFIGS = {
    "logged": Config(),
    "no_compensation": Config(compensate=False),
    "double_refund": Config(idempotent_refund=False),
    "log_after_step": Config(log_begun=False),
}


@dataclass(frozen=True)
class Paths:
    root: str

    @property
    def saga(self) -> str:
        return os.path.join(self.root, "saga.db")

    @property
    def stock(self) -> str:
        return os.path.join(self.root, "inventory.db")

    @property
    def payments(self) -> str:
        return os.path.join(self.root, "payments.db")

    @property
    def provider(self) -> str:
        return os.path.join(self.root, "provider.db")

    @property
    def shipping(self) -> str:
        return os.path.join(self.root, "shipping.db")


def connect(path: str) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    return con


def setup(root: str, stock: int, undeliverable: list[str]) -> None:
    p = Paths(root)
    inventory.sqlite_setup(p.stock, {SKU: stock})
    payment_processor.create_dbs(p.payments, p.provider, PAYMENT_VARIANT)
    with closing(connect(p.saga)) as con:
        con.executescript(SAGA_SCHEMA)
    with closing(connect(p.shipping)) as con:
        con.executescript(SHIPPING_SCHEMA)
        con.executemany("INSERT INTO undeliverable VALUES (?)", [(o,) for o in undeliverable])


class StepFailed(Exception):
    """A service said no (out of stock, undeliverable): the saga must be compensated."""


class Coordinator:
    def __init__(self, root: str, variant: str) -> None:
        self.p = Paths(root)
        self.config = CONFIGS[variant]
        self.log = connect(self.p.saga)
        self.stock = inventory.SqliteInventory(self.p.stock, INVENTORY_STRATEGY)
        self.payments = payment_processor.Processor(self.p.payments, self.p.provider, PAYMENT_VARIANT)
        self.shipping = connect(self.p.shipping)

    def close(self) -> None:
        self.log.close()
        self.stock.close()
        self.payments.close()
        self.shipping.close()

    # ------------------------------------------------------------ the log
    def _record(self, order: str, step: str, status: str) -> None:
        self.log.execute("INSERT INTO log(order_id, step, status) VALUES (?, ?, ?)", (order, step, status))

    def _state(self, order: str, state: str) -> None:
        self.log.execute("UPDATE sagas SET state = ? WHERE order_id = ?", (state, order))

    def _logged(self, order: str, status: str) -> list[str]:
        rows = self.log.execute("SELECT step FROM log WHERE order_id = ? AND status = ? ORDER BY id", (order, status))
        return [str(r[0]) for r in rows]

    # ------------------------------------------------------------ forward
    def run(self, order: str, qty: int, amount: int) -> str:
        """Run one order's saga to its end; returns ``done``, ``compensated`` or ``failed``."""
        self.log.execute("INSERT INTO sagas(order_id, qty, amount, state) VALUES (?, ?, ?, 'running')", (order, qty, amount))
        try:
            for step in STEPS:
                if self.config.log_begun:
                    self._record(order, step, "begun")
                self._do(step, order, qty, amount)
                self._record(order, step, "done")
        except StepFailed:
            if not self.config.compensate:
                self._state(order, "failed")  # BUG (no_compensation): what was done stays done
                return "failed"
            return self.compensate(order, qty, amount)
        self._state(order, "done")
        return "done"

    def _do(self, step: str, order: str, qty: int, amount: int) -> None:
        if step == "reserve":
            ok, _ = inventory.reserve(self.stock, SKU, qty, order)
            if not ok:
                raise StepFailed("out of stock")
        elif step == "charge":
            status, body = self.payments.pay(f"{order}:charge", amount)
            if status != CHARGED:
                raise StepFailed(f"payment refused: {body}")
        else:
            if self.shipping.execute("SELECT 1 FROM undeliverable WHERE order_id = ?", (order,)).fetchone():
                raise StepFailed("undeliverable")
            self.shipping.execute("INSERT OR IGNORE INTO shipments(order_id, state) VALUES (?, 'shipped')", (order,))

    # ------------------------------------------------------------ backward
    def compensate(self, order: str, qty: int, amount: int) -> str:
        """Undo every step that may have happened, last first; each compensation logged once done."""
        started = self._logged(order, "begun" if self.config.log_begun else "done")
        undone = set(self._logged(order, "compensated"))
        for step in reversed(STEPS):
            if step in started and step not in undone:
                self._undo(step, order, amount)
                self._record(order, step, "compensated")
        self._state(order, "compensated")
        return "compensated"

    def _undo(self, step: str, order: str, amount: int) -> None:
        if step == "reserve":
            self._release(order)
        elif step == "charge":
            if not self.config.idempotent_refund:
                if self.payments.provider.find(f"{order}:charge") is not None:
                    # BUG (double_refund): a plain refund, once per attempt
                    self.payments.provider.charge(f"{order}:refund", -amount)
                return
            if self.payments._row(f"{order}:charge") is None:
                return  # the charge never began: nothing to refund
            status, _ = self.payments.pay(f"{order}:charge", amount)  # finish whatever the crash left
            if status == CHARGED:
                self.payments.pay(f"{order}:refund", -amount)
        else:
            self.shipping.execute("UPDATE shipments SET state = 'cancelled' WHERE order_id = ?", (order,))

    def _release(self, order: str) -> None:
        """Put the order's units back and forget its reservation, together (a second release finds none)."""
        con = self.stock.con
        con.execute("BEGIN IMMEDIATE")
        try:
            rows = con.execute("SELECT id, qty FROM reservations WHERE client = ?", (order,)).fetchall()
            for rid, qty in rows:
                con.execute("DELETE FROM reservations WHERE id = ?", (rid,))
                con.execute("UPDATE items SET remaining = remaining + ? WHERE sku = ?", (qty, SKU))
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def recover(self) -> list[str]:
        """Startup: compensate every saga a crash left unfinished.  Returns their order ids."""
        rows = self.log.execute(
            "SELECT order_id, qty, amount FROM sagas WHERE state = 'running' ORDER BY rowid"
        ).fetchall()
        for order, qty, amount in rows:
            self.compensate(str(order), int(qty), int(amount))
        return [str(r[0]) for r in rows]


# --------------------------------------------------------------------------
# Harness entry point: the coordinator process


def run_orders(root: str, variant: str, orders: list[list[Any]]) -> list[str]:
    """Recover, then run ``orders`` (``[order_id, qty, amount]``) not yet in the log; returns the recovered ids."""
    from racekit.crash import report

    c = Coordinator(root, variant)
    try:
        recovered = c.recover()
        known = {str(r[0]) for r in c.log.execute("SELECT order_id FROM sagas")}
        for order, qty, amount in orders:
            if str(order) in known:
                continue
            report({"start": str(order)})
            outcome = c.run(str(order), int(qty), int(amount))
            report({"end": str(order), "outcome": outcome})
        return recovered
    finally:
        c.close()


SYSTEM = System(
    name="saga",
    summary="Order saga over inventory, payment_processor and a shipping service, coordinator SIGKILLed anywhere: begun/done log + idempotent compensations vs none, a double refund, a step before its log record",
    kind="proc",
    properties=("all-done-or-all-compensated", "compensated-at-most-once", "recovery-completes", "done-when-possible"),
    variants=[
        Variant("logged", lambda: CONFIGS["logged"], expect="correct"),
        Variant(
            "no_compensation",
            lambda: CONFIGS["no_compensation"],
            expect="violation",
            property="all-done-or-all-compensated",
            bug="a failed step marks the saga failed and undoes nothing: the stock stays reserved and the card charged",
        ),
        Variant(
            "double_refund",
            lambda: CONFIGS["double_refund"],
            expect="violation",
            property="compensated-at-most-once",
            bug="the refund is a plain provider call logged after it happens: a crash in between, and recovery refunds again",
        ),
        Variant(
            "log_after_step",
            lambda: CONFIGS["log_after_step"],
            expect="violation",
            property="all-done-or-all-compensated",
            bug="a step is logged only once done and recovery undoes the logged steps: a crash between a step and its record leaves it undone forever",
        ),
    ],
)
