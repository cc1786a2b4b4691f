"""Log aggregator (seed project 7): writer processes append log lines; every acked line stays queryable.

Several sources (one writer process each) send lines ``(service, ts, text)``
numbered per source (``seq`` 1, 2, ...).  A writer acknowledges a line to its
source; a reader later asks for the lines of one service in a time range.
Writers are SIGKILLed - or the machine loses power - mid-flight; a killed
writer restarts, recovers, and its source re-sends every line it got no ack
for.

Variants:

* ``segments`` (fixed) - each writer appends *batches* of records to its own
  append-only segment files (``<source>-<first seq>.seg``, a new one per
  start and every ``SEGMENT_RECORDS`` records; the directory is fsynced when
  one is created).  A record is a header (length, CRC32) and the JSON line.
  A batch is one ``write``, then ``fsync``, then its index rows - ``(service,
  ts, source, seq) -> (segment, offset, length)`` in a shared SQLite table,
  one transaction - and only then is each line of the batch acked.  Recovery
  cuts a torn tail off the newest segment and (re)indexes every record
  (``INSERT OR IGNORE``: the index is derived, the segments are the truth);
  a restarted writer skips lines already in its segments, so a re-sent line
  is stored once.  Queries read the index, then the records it points to.
* ``ack_before_write`` - the writer acks each line when it receives it and
  buffers it; the buffer is written (and fsynced, and indexed) when a batch
  is full.  A kill before that loses acked lines.
* ``shared_unsynchronized`` - every writer appends text lines to one shared
  file opened ``O_APPEND``, the message and its newline as two writes (as a
  logging handler that writes the record, then the terminator), with no lock
  between the writers; fsync, then ack.  Two writers interleave between the
  two writes: one line holds both messages, the next is empty - a torn line,
  and a lost one.  Queries scan the file.

Entry points: ``serve`` (a writer process), ``read`` (a reader process:
``scan`` and ``query``), ``setup``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, NamedTuple

from racekit import System, Variant
from racekit.crash import files, report

HEADER = struct.Struct(">II")  # payload length, CRC32 of the payload
SEGMENT_RECORDS = 2  # records a segment takes before a new one starts (small: tests reach rotation)
SHARED = "shared.log"
INDEX = "index.db"


class Line(NamedTuple):
    """A stored line as a reader sees it; ``torn`` holds the raw bytes of one that does not decode."""

    source: str
    seq: int
    service: str
    ts: int
    text: str
    torn: str = ""


@dataclass(frozen=True)
class Config:
    layout: str  # "segments" (per writer, indexed) | "shared" (one file, scanned)
    ack: str = "after-fsync"  # "after-fsync" | "on-receipt"


CONFIGS = {
    "segments": Config("segments"),
    "ack_before_write": Config("segments", ack="on-receipt"),
    "shared_unsynchronized": Config("shared"),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS idx (
    source TEXT NOT NULL, seq INTEGER NOT NULL, service TEXT NOT NULL, ts INTEGER NOT NULL,
    segment TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    PRIMARY KEY (source, seq)
);
CREATE INDEX IF NOT EXISTS idx_service_time ON idx(service, ts);
"""


def connect(root: str) -> sqlite3.Connection:
    """The index: WAL with ``synchronous=FULL``, so a committed index row survives a power loss."""
    con = sqlite3.connect(os.path.join(root, INDEX), isolation_level=None, timeout=10.0)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    return con


def setup(root: str) -> None:
    with closing(connect(root)) as con:
        con.executescript(SCHEMA)


def encode(source: str, seq: int, service: str, ts: int, text: str) -> bytes:
    body = json.dumps([source, seq, service, ts, text]).encode()
    return HEADER.pack(len(body), zlib.crc32(body)) + body


def decode(data: bytes, pos: int) -> tuple[Line, int] | None:
    """The record at ``pos`` and its length, or None if it is torn (short or a bad CRC)."""
    if pos + HEADER.size > len(data):
        return None
    length, crc = HEADER.unpack_from(data, pos)
    body = data[pos + HEADER.size : pos + HEADER.size + length]
    if len(body) < length or zlib.crc32(body) != crc:
        return None
    source, seq, service, ts, text = json.loads(body)
    return Line(str(source), int(seq), str(service), int(ts), str(text)), HEADER.size + length


def segments(root: str, source: str | None = None) -> list[str]:
    """Segment file names, per source in order of their first sequence number."""
    names = [n for n in os.listdir(root) if n.endswith(".seg")]
    if source is not None:
        names = [n for n in names if n.rsplit("-", 1)[0] == source]
    return sorted(names, key=lambda n: (n.rsplit("-", 1)[0], int(n.rsplit("-", 1)[1][:-4])))


def records(data: bytes) -> Iterator[tuple[Line, int, int]]:
    """(line, offset, length) of every whole record; stops at a torn one."""
    pos = 0
    while True:
        got = decode(data, pos)
        if got is None:
            return
        line, length = got
        yield line, pos, length
        pos += length


class Writer:
    """One writer process's side: ``recover()``, then ``append(lines)`` (batches), acks via ``report``."""

    def __init__(self, root: str, variant: str, source: str, batch: int) -> None:
        self.root = root
        self.config = CONFIGS[variant]
        self.source = source
        self.batch = max(1, batch)
        self.fd = -1
        self.name = ""  # the open segment
        self.offset = 0  # its size
        self.in_segment = 0  # records in it
        self.db = connect(root) if self.config.layout == "segments" else None

    def close(self) -> None:
        if self.fd >= 0:
            files.close(self.fd)
        if self.db is not None:
            self.db.close()

    # ------------------------------------------------------------ recovery
    def recover(self) -> int:
        """Cut a torn tail, index what the segments hold; the highest sequence number stored."""
        if self.config.layout != "segments":
            return self._stored_shared()
        assert self.db is not None
        high = 0
        for name in segments(self.root, self.source):
            path = os.path.join(self.root, name)
            data = files.read_bytes(path)
            found = list(records(data))
            end = found[-1][1] + found[-1][2] if found else 0
            if end < len(data):  # a batch the power loss tore: it was never acked
                fd = files.open(path, os.O_RDWR)
                try:
                    files.ftruncate(fd, end)
                    files.fsync(fd)
                finally:
                    files.close(fd)
            self._index(name, found)
            if found:
                high = max(high, found[-1][0].seq)
        return high

    def _stored_shared(self) -> int:
        path = os.path.join(self.root, SHARED)
        if not os.path.exists(path):
            return 0
        seqs = [ln.seq for ln in parse_shared(files.read_bytes(path)) if ln.source == self.source and not ln.torn]
        return max(seqs, default=0)

    def _index(self, segment: str, found: list[tuple[Line, int, int]]) -> None:
        assert self.db is not None
        if not found:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT OR IGNORE INTO idx(source, seq, service, ts, segment, offset, length) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(ln.source, ln.seq, ln.service, ln.ts, segment, off, length) for ln, off, length in found],
            )
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------ appends
    def append(self, lines: list[tuple[int, str, int, str]]) -> None:
        """Store ``(seq, service, ts, text)`` lines in order, acking each with ``report({"ack": seq})``."""
        if self.config.layout == "shared":
            for line in lines:
                self._append_shared(*line)
            return
        pending: list[tuple[int, str, int, str]] = []
        for line in lines:
            pending.append(line)
            if self.config.ack == "on-receipt":
                report({"ack": line[0]})  # BUG: acked while it is only in this process's memory
            if len(pending) == self.batch:
                self._write_batch(pending)
                pending = []
        if pending:
            self._write_batch(pending)

    def _segment(self, first_seq: int) -> None:
        """A new segment when none is open or the open one is full; its name made durable."""
        if self.fd >= 0 and self.in_segment < SEGMENT_RECORDS:
            return
        if self.fd >= 0:
            files.close(self.fd)
        self.name = f"{self.source}-{first_seq:06d}.seg"
        self.fd = files.open(os.path.join(self.root, self.name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        files.fsync_dir(self.root)
        self.in_segment = 0
        self.offset = 0

    def _write_batch(self, batch: list[tuple[int, str, int, str]]) -> None:
        self._segment(batch[0][0])
        found: list[tuple[Line, int, int]] = []
        data = b""
        for seq, service, ts, text in batch:
            rec = encode(self.source, seq, service, ts, text)
            found.append((Line(self.source, seq, service, ts, text), self.offset + len(data), len(rec)))
            data += rec
        files.write(self.fd, data)
        files.fsync(self.fd)  # durable before it is indexed or acked
        self.offset += len(data)
        self.in_segment += len(batch)
        self._index(self.name, found)
        if self.config.ack == "after-fsync":
            for seq, *_ in batch:
                report({"ack": seq})

    def _append_shared(self, seq: int, service: str, ts: int, text: str) -> None:
        if self.fd < 0:
            self.fd = files.open(os.path.join(self.root, SHARED), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            files.fsync_dir(self.root)
        message = json.dumps([self.source, seq, service, ts, text]).encode()
        files.write(self.fd, message)  # BUG: the line and its newline are two writes, with no lock
        files.write(self.fd, b"\n")
        files.fsync(self.fd)
        report({"ack": seq})


def parse_shared(data: bytes) -> list[Line]:
    out = []
    for raw in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        try:
            source, seq, service, ts, text = json.loads(raw)
            out.append(Line(str(source), int(seq), str(service), int(ts), str(text)))
        except (ValueError, TypeError):
            out.append(Line("?", 0, "?", 0, "", torn=raw.decode(errors="replace") or "(an empty line)"))
    return out


# --------------------------------------------------------------------------
# Readers (the harness runs them in the parent once the writers are done)


def scan(root: str, variant: str) -> list[Line]:
    """Every stored line, segment by segment (or the shared file), in file order."""
    if CONFIGS[variant].layout == "shared":
        path = os.path.join(root, SHARED)
        return parse_shared(files.read_bytes(path)) if os.path.exists(path) else []
    out: list[Line] = []
    for name in segments(root):
        data = files.read_bytes(os.path.join(root, name))
        found = list(records(data))
        out.extend(ln for ln, _, _ in found)
        end = found[-1][1] + found[-1][2] if found else 0
        if end < len(data):
            out.append(Line("?", 0, "?", 0, "", torn=f"{name}: {len(data) - end} bytes that do not decode"))
    return out


def query(root: str, variant: str, service: str, since: int, until: int) -> list[Line]:
    """The lines of ``service`` with ``since <= ts <= until``, by time (then source, then seq)."""
    if CONFIGS[variant].layout == "shared":
        found = [ln for ln in scan(root, variant) if not ln.torn and ln.service == service and since <= ln.ts <= until]
        return sorted(found, key=lambda ln: (ln.ts, ln.source, ln.seq))
    out: list[Line] = []
    cache: dict[str, bytes] = {}
    with closing(connect(root)) as con:
        rows = con.execute(
            "SELECT segment, offset, length FROM idx WHERE service = ? AND ts BETWEEN ? AND ? ORDER BY ts, source, seq",
            (service, since, until),
        ).fetchall()
    for segment, offset, length in rows:
        if segment not in cache:
            cache[segment] = files.read_bytes(os.path.join(root, segment))
        got = decode(cache[segment], int(offset))
        if got is None or got[1] != length:
            out.append(Line("?", 0, service, 0, "", torn=f"{segment}@{offset}: the index points at no whole record"))
        else:
            out.append(got[0])
    return out


# --------------------------------------------------------------------------
# Harness entry points: one writer process; one reader process after the writers


def read(root: str, variant: str, queries: list[list[Any]]) -> dict[str, Any]:
    """What a reader finds: every stored line (``scan``) and the answer to each ``[service, since, until]``."""
    return {
        "stored": [list(ln) for ln in scan(root, variant)],
        "answers": [[list(ln) for ln in query(root, variant, str(sv), int(a), int(b))] for sv, a, b in queries],
    }


def serve(root: str, variant: str, source: str, lines: list[list[Any]], batch: int) -> int:
    """Recover, then store ``lines`` (``[seq, service, ts, text]``) not already stored; returns how many were."""
    return run_writer(Writer(root, variant, source, batch), lines)


def run_writer(writer: Writer, lines: list[list[Any]]) -> int:
    """``serve`` on a given writer (a test's planted copy subclasses ``Writer``; nothing is patched)."""
    try:
        stored = writer.recover()
        for seq, *_ in lines:
            if int(seq) <= stored:
                report({"ack": int(seq)})  # already durable from before the crash: ack it now
        todo = [(int(s), str(sv), int(t), str(x)) for s, sv, t, x in lines if int(s) > stored]
        writer.append(todo)
        return stored
    finally:
        writer.close()


SYSTEM = System(
    name="log_aggregator",
    summary="Log aggregator with writer processes killed or power-cut mid-flight: fsynced batched segments + (service, time) index vs ack before write, unsynchronized shared append",
    kind="proc",
    properties=("no-torn-line", "no-acked-line-lost", "query-exact", "per-source-order", "every-line-acked"),
    variants=[
        Variant("segments", lambda: CONFIGS["segments"], expect="correct"),
        Variant(
            "ack_before_write",
            lambda: CONFIGS["ack_before_write"],
            expect="violation",
            property="no-acked-line-lost",
            bug="each line is acked on receipt and only buffered; the batch is written when full: a kill before that loses acked lines",
        ),
        Variant(
            "shared_unsynchronized",
            lambda: CONFIGS["shared_unsynchronized"],
            expect="violation",
            property="no-torn-line",
            bug="writers append the message and its newline to one shared file as two writes with no lock: two writers interleave and tear a line",
        ),
    ],
)
