"""Optimistic locking (seed exercise 13): read-modify-write of one SQLite row from several processes.

Each client process runs ``add(d)``: read the row, compute ``value + d``,
write it back.  Between the read and the write other clients may run (the
harness chooses; a ``pausepoint`` marks the window).

Variants:

* ``version_cas`` (fixed, optimistic) - ``UPDATE ... SET value = ?, version =
  version + 1 WHERE id = 1 AND version = ?``: if someone wrote since our read,
  no row matches, and we read again and retry.
* ``immediate_txn`` (fixed, pessimistic) - ``BEGIN IMMEDIATE`` before the read:
  SQLite's write lock keeps everyone else out of the read-modify-write.
* ``blind_write`` - ``UPDATE ... SET value = ?``: the last writer wins and an
  update computed from a stale read overwrites another one (lost update).
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing

from racekit import System, Variant
from racekit.crash import pausepoint, report, stepping

MODES = ("version_cas", "immediate_txn", "blind_write")


def connect(path: str) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, timeout=0 if stepping() else 30.0)
    con.execute("PRAGMA journal_mode=WAL")
    return con


def setup(path: str, initial: int = 0) -> None:
    with closing(connect(path)) as con:
        con.executescript("CREATE TABLE IF NOT EXISTS register (id INTEGER PRIMARY KEY, value INTEGER NOT NULL, version INTEGER NOT NULL)")
        con.execute("INSERT OR REPLACE INTO register VALUES (1, ?, 0)", (initial,))


class Register:
    def __init__(self, path: str, mode: str, think: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.think = think  # seconds of application work between the read and the write
        self.con = connect(path)
        self.retries = 0

    def close(self) -> None:
        self.con.close()

    def read(self) -> tuple[int, int]:
        value, version = self.con.execute("SELECT value, version FROM register WHERE id = 1").fetchone()
        return int(value), int(version)

    def add(self, delta: int) -> tuple[int, int]:
        """Add ``delta``; returns (value read, value written) of the attempt that took effect."""
        if self.mode == "immediate_txn":
            return self._add_locked(delta)
        while True:
            value, version = self.read()
            pausepoint("read")
            if self.think:
                time.sleep(self.think)
            if self.mode == "blind_write":
                # BUG: nothing checks that the row still holds what we read
                self.con.execute("UPDATE register SET value = ?, version = version + 1 WHERE id = 1", (value + delta,))
                return value, value + delta
            cur = self.con.execute(
                "UPDATE register SET value = ?, version = version + 1 WHERE id = 1 AND version = ?",
                (value + delta, version),
            )
            if cur.rowcount == 1:
                return value, value + delta
            self.retries += 1
            report({"conflict": [value, value + delta]})
            pausepoint("conflict")

    def _add_locked(self, delta: int) -> tuple[int, int]:
        while True:
            try:
                self.con.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                self.retries += 1
                pausepoint("lock-busy", busy=True)
                if not stepping():
                    time.sleep(0.0005)
        try:
            value, _ = self.read()
            pausepoint("read")
            if self.think:
                time.sleep(self.think)
            self.con.execute("UPDATE register SET value = ?, version = version + 1 WHERE id = 1", (value + delta,))
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")
        return value, value + delta


def client(db: str, mode: str, ops: list[list[int | str]]) -> int:
    """Run ``ops`` (``["add", d]`` / ``["read"]``) in order; report each op's invocation and result.

    Returns the number of retries (version conflicts or refused locks).
    """
    reg = Register(db, mode)
    try:
        for i, op in enumerate(ops):
            report({"invoke": i})
            if op[0] == "add":
                seen, wrote = reg.add(int(op[1]))
                report({"ok": i, "cas": [seen, wrote]})
            else:
                report({"ok": i, "read": reg.read()[0]})
        return reg.retries
    finally:
        reg.close()


SYSTEM = System(
    name="optimistic_locking",
    summary="Read-modify-write of a SQLite row from several processes: version-column CAS with retry and BEGIN IMMEDIATE vs a blind write",
    kind="db",
    properties=("linearizability", "no-lost-update"),
    variants=[
        Variant("version_cas", lambda: "version_cas", expect="correct"),
        Variant("immediate_txn", lambda: "immediate_txn", expect="correct"),
        Variant(
            "blind_write",
            lambda: "blind_write",
            expect="violation",
            property="linearizability",
            bug="reads the row, then writes value + d without checking the version: a write computed from a stale read overwrites another client's update",
        ),
    ],
)


def bench_client(db: str, mode: str, seconds: float, think: float = 0.0) -> list[int]:
    """Benchmark loop: ``add(1)`` for ``seconds``; returns [updates, retries]."""
    reg = Register(db, mode, think)
    updates = 0
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            reg.add(1)
            updates += 1
        return [updates, reg.retries]
    finally:
        reg.close()
