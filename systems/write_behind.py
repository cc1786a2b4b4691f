"""Write-behind cache (seed exercise 17 + project 10): writes hit the cache, a flusher writes SQLite.

A ``put`` is acknowledged from the cache; a flusher later writes the dirty
entries to the database, which other programs read directly.  The process
may be killed at any point (SIGKILL: no cleanup), then restarts and recovers.

Variants:

* ``wal`` (fixed) - each put is appended to a write-ahead log (length +
  CRC32 header, then the record) and fsynced *before* the ack; the flusher
  writes the dirty records in log order, in one transaction together with
  the ``flushed_upto`` mark, and each row update is guarded by its sequence
  number (never older over newer); recovery replays the log after
  ``flushed_upto`` the same way and drops a torn tail record.
* ``torn_batch`` - the flush is not a transaction: each record is written as
  two autocommit statements (value, then its sequence number).  A kill in
  between leaves a row holding a value with another write's sequence
  number (a torn record) - and half a batch.
* ``no_log`` - no log: a put is acknowledged from memory only.  A kill before
  the next flush loses acknowledged writes.
* ``key_order`` - the flusher writes the dirty set in key order, one
  transaction per key ("short transactions, sorted for index locality").
  A kill mid-flush leaves a later write in the database without an earlier
  one: the database is no longer a prefix of the acknowledged writes.

The harness drives ``serve`` (a list of operations) and ``recover`` in a
worker process; ``WriteBehindCache.start_flusher`` is the production mode
(a background thread).
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.crash import crashpoint, files, report

HEADER = struct.Struct(">II")  # payload length, CRC32 of the payload


@dataclass(frozen=True)
class Config:
    log: bool = True  # write-ahead log, fsynced before the ack
    flush: str = "atomic"  # "atomic" | "torn" | "key-order"


SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('flushed_upto', 0);
"""

UPSERT = (
    "INSERT INTO kv(key, value, seq) VALUES (?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, seq = excluded.seq WHERE excluded.seq > kv.seq"
)


def create_db(path: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
    db.close()


class WriteBehindCache:
    """The cache: ``put``/``get`` from memory, ``flush`` to SQLite, ``recover`` after a crash."""

    def __init__(self, db_path: str, log_path: str, config: Config) -> None:
        self.config = config
        self.log_path = log_path
        self.db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self.cache: dict[str, str] = {}
        self.dirty: list[tuple[int, str, str]] = []  # (seq, key, value), in write order
        self.next_seq = 1
        self.lock = threading.Lock()
        self._log_fd = -1
        if config.log:
            created = not os.path.exists(log_path)
            self._log_fd = files.open(log_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            if created:  # the log's name must survive a power loss too, not only its records
                files.fsync_dir(os.path.dirname(os.path.abspath(log_path)))
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def close(self) -> None:
        self.stop_flusher()
        self.db.close()
        if self._log_fd >= 0:
            files.close(self._log_fd)

    # ------------------------------------------------------------ recovery
    def _flushed_upto(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE name = 'flushed_upto'").fetchone()[0])

    def _read_log(self) -> list[tuple[int, str, str]]:
        """Whole records of the log; a torn tail is cut off (it was never acknowledged)."""
        data = files.read_bytes(self.log_path)
        records, pos = [], 0
        while pos + HEADER.size <= len(data):
            length, crc = HEADER.unpack_from(data, pos)
            body = data[pos + HEADER.size : pos + HEADER.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                break
            seq, key, value = json.loads(body)
            records.append((int(seq), str(key), str(value)))
            pos += HEADER.size + length
        if pos < len(data):
            files.truncate(self.log_path, pos)  # later appends must not follow garbage
            files.fsync(self._log_fd)
        return records

    def recover(self) -> int:
        """Replay logged writes the database does not have yet; returns how many."""
        upto = self._flushed_upto()
        self.next_seq = upto + 1
        if not self.config.log:
            return 0
        todo = [r for r in self._read_log() if r[0] > upto]
        if todo:
            self.next_seq = todo[-1][0] + 1
            self.db.execute("BEGIN IMMEDIATE")
            for seq, key, value in todo:
                self.db.execute(UPSERT, (key, value, seq))
            self.db.execute("UPDATE meta SET value = ? WHERE name = 'flushed_upto'", (todo[-1][0],))
            self.db.execute("COMMIT")
            crashpoint("recover-committed")
        self._truncate_log()
        for _, key, value in todo:
            self.cache[key] = value
        return len(todo)

    # ------------------------------------------------------------- writes
    def put(self, key: str, value: str) -> int:
        """Store ``key = value``; returns its sequence number once acknowledged."""
        with self.lock:
            seq = self.next_seq
            self.next_seq += 1
            report({"assign": seq, "key": key, "value": value})  # harness bookkeeping only
            if self.config.log:
                body = json.dumps([seq, key, value]).encode()
                files.write(self._log_fd, HEADER.pack(len(body), zlib.crc32(body)))
                crashpoint("log-header-written")
                files.write(self._log_fd, body)
                files.fsync(self._log_fd)  # durable before the ack: a power loss cannot take it back
                crashpoint("log-synced")
            self.cache[key] = value
            self.dirty.append((seq, key, value))
            return seq

    def get(self, key: str) -> str | None:
        with self.lock:
            if key in self.cache:
                return self.cache[key]
        row = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def flush(self) -> int:
        """Write the dirty entries to the database; returns how many records."""
        with self.lock:
            batch = list(self.dirty)
            if not batch:
                return 0
            crashpoint("flush-begin")
            if self.config.flush == "atomic":
                self._flush_atomic(batch)
            elif self.config.flush == "torn":
                self._flush_torn(batch)
            else:
                self._flush_key_order(batch)
            del self.dirty[: len(batch)]
            if not self.dirty:
                self._truncate_log()
            return len(batch)

    def _flush_atomic(self, batch: list[tuple[int, str, str]]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        for seq, key, value in batch:  # log order; the seq guard makes a replay harmless
            self.db.execute(UPSERT, (key, value, seq))
        self.db.execute("UPDATE meta SET value = ? WHERE name = 'flushed_upto'", (batch[-1][0],))
        self.db.execute("COMMIT")
        crashpoint("flush-committed")

    def _flush_torn(self, batch: list[tuple[int, str, str]]) -> None:
        for seq, key, value in batch:  # BUG: no transaction, two statements per record
            self.db.execute(
                "INSERT INTO kv(key, value, seq) VALUES (?, ?, 0) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
            crashpoint("flush-value-written")
            self.db.execute("UPDATE kv SET seq = ? WHERE key = ?", (seq, key))
            crashpoint("flush-record")
        self.db.execute("UPDATE meta SET value = ? WHERE name = 'flushed_upto'", (batch[-1][0],))
        crashpoint("flush-committed")

    def _flush_key_order(self, batch: list[tuple[int, str, str]]) -> None:
        latest: dict[str, tuple[int, str]] = {}
        for seq, key, value in batch:
            latest[key] = (seq, value)
        for key in sorted(latest):  # BUG: key order, one transaction per key
            seq, value = latest[key]
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(UPSERT, (key, value, seq))
            self.db.execute("COMMIT")
            crashpoint("flush-key-committed")
        self.db.execute("UPDATE meta SET value = ? WHERE name = 'flushed_upto'", (batch[-1][0],))
        crashpoint("flush-committed")

    def _truncate_log(self) -> None:
        """Everything logged is in the database: start the log afresh."""
        if self._log_fd >= 0 and os.fstat(self._log_fd).st_size:
            files.ftruncate(self._log_fd, 0)
            files.fsync(self._log_fd)
            crashpoint("log-truncated")

    # ------------------------------------------------------ production mode
    def start_flusher(self, interval: float = 0.05) -> None:
        """Flush every ``interval`` seconds in a background thread until ``stop_flusher``."""

        def loop() -> None:
            while not self._stop.wait(interval):
                self.flush()

        self._stop.clear()
        self._flusher = threading.Thread(target=loop, name="write-behind-flusher", daemon=True)
        self._flusher.start()

    def stop_flusher(self) -> None:
        if self._flusher is not None:
            self._stop.set()
            self._flusher.join(10)
            self._flusher = None
            self.flush()


# --------------------------------------------------------------------------
# Worker-process entry points (called by the crash harness)


def _open(db: str, log: str, variant: str) -> WriteBehindCache:
    return WriteBehindCache(db, log, CONFIGS[variant])


def recover(db: str, log: str, variant: str) -> int:
    """Start after a crash: replay the log.  Returns the number of records replayed."""
    cache = _open(db, log, variant)
    try:
        return cache.recover()
    finally:
        cache.close()


def serve(db: str, log: str, variant: str, ops: list[list[Any]], first: int) -> None:
    """Run ``ops[first:]`` (``["put", k, v]`` / ``["get", k]`` / ``["flush"]``) on a freshly started cache.

    Reports ``{"done": i, "seq": s}`` when operation ``i`` returns (for a put:
    its acknowledgment; for a get: ``"got"``, the value read).
    """
    cache = _open(db, log, variant)
    try:
        cache.recover()
        for i in range(first, len(ops)):
            op = ops[i]
            if op[0] == "put":
                seq = cache.put(str(op[1]), str(op[2]))
                report({"done": i, "seq": seq})
            elif op[0] == "get":
                report({"done": i, "got": cache.get(str(op[1]))})
            else:
                cache.flush()
                report({"done": i})
    finally:
        cache.close()


CONFIGS = {
    "wal": Config(log=True, flush="atomic"),
    "torn_batch": Config(log=True, flush="torn"),
    "no_log": Config(log=False, flush="atomic"),
    "key_order": Config(log=True, flush="key-order"),
}

SYSTEM = System(
    name="write_behind",
    summary="Write-behind cache over SQLite, killed with SIGKILL anywhere: WAL + ordered atomic flush vs torn, unlogged, key-ordered flushes",
    kind="proc",
    properties=("no-torn-record", "prefix-of-acked-writes", "no-acked-write-lost", "read-your-writes", "unique-seq"),
    variants=[
        Variant("wal", lambda: CONFIGS["wal"], expect="correct"),
        Variant(
            "torn_batch",
            lambda: CONFIGS["torn_batch"],
            expect="violation",
            property="no-torn-record",
            bug="the flush writes each record as two autocommit statements (value, then sequence number): a kill in between leaves a row mixing two writes",
        ),
        Variant(
            "no_log",
            lambda: CONFIGS["no_log"],
            expect="violation",
            property="no-acked-write-lost",
            bug="a put is acknowledged from memory with no write-ahead log: a kill before the next flush loses it",
        ),
        Variant(
            "key_order",
            lambda: CONFIGS["key_order"],
            expect="violation",
            property="prefix-of-acked-writes",
            bug="the flusher writes dirty keys in key order, one transaction each: a kill mid-flush leaves a later write in the database without an earlier one",
        ),
    ],
)
