"""The point model in one process: where stops fall, which offer a kill, what a power loss leaves.

A recording channel stands in for the parent: it keeps every operation and
stop a worker would send, and never waits.  Connections come from
``racekit.crash.db.sqlite_connect`` (what ``sqlite3.connect`` is in a harness
worker); files go through ``racekit.crash.files``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from racekit import catalogue_root
from racekit.crash import crashpoint, db, files, operation, pausepoint, point, report
from racekit.crash.powerloss import Disk, torn
from racekit.crash.procs import child_env


class _Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, obj: dict[str, Any]) -> None:
        self.events.append(obj)


class Recording(point.StepChannel):
    """A step channel whose parent always says go (and keeps what it was told)."""

    def __init__(self, durable: str | None = None) -> None:
        super().__init__(_Recorder(), durable)  # type: ignore[arg-type]

    def stop(self, name: str) -> None:
        pass

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.wire.events  # type: ignore[attr-defined, no-any-return]

    def stops(self) -> list[str]:
        """``name`` of each stop, ``name!`` when a kill is offered there."""
        return [e["name"] + ("!" if e["crash"] else "") for e in self.events if e["ev"] == "point"]

    def log(self) -> list[str]:
        out = []
        for e in self.events:
            if e["ev"] == "op":
                out.append(f"{e['kind']} {e['detail']}".strip())
            elif e["ev"] == "point":
                out.append(f"| {e['name']}{'!' if e['crash'] else ''}{' busy' if e['busy'] else ''}")
            else:
                out.append(f"report {e['data']}")
        return out


@pytest.fixture
def channel() -> Iterator[Recording]:
    ch = Recording()
    point.install(ch)
    try:
        yield ch
    finally:
        point.install(None)


def test_outside_a_harness_everything_is_plain(tmp_path: Path) -> None:
    point.install(None)
    con = db.sqlite_connect(str(tmp_path / "x.db"))
    assert type(con) is sqlite3.Connection
    fd = files.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o644)
    files.write(fd, b"abc")
    files.fsync(fd)
    files.close(fd)
    files.replace(tmp_path / "f", tmp_path / "g")
    files.fsync_dir(tmp_path)
    assert files.read_bytes(tmp_path / "g") == b"abc"
    with operation("anything"):
        pass
    crashpoint("x")
    pausepoint("y", busy=True)
    report({"z": 1})


def test_autocommit_statements_each_end_in_a_stop(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")  # configuration: no operation
    con.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
    con.execute("INSERT INTO t VALUES ('a', 1)")
    con.execute("SELECT v FROM t").fetchall()
    con.execute("UPDATE t SET v = 2")
    channel.finish()
    # each opens a gap; a kill only where something durable happened since the last kill offer
    assert channel.log() == [
        "sql CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)",
        "| after CREATE!",
        "sql INSERT INTO t VALUES ('a', 1)",
        "| after INSERT!",
        "sql SELECT v FROM t",
        "| after SELECT",
        "sql UPDATE t SET v = 2",
        "| after UPDATE!",
    ]
    assert [e["outcome"] for e in channel.events if e["ev"] == "op"] == ["", "(1 row)", "", "(1 row)"]


def test_inside_a_write_transaction_there_is_no_stop(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"), isolation_level=None)
    con.execute("CREATE TABLE t (k TEXT, v INTEGER)")
    con.execute("BEGIN IMMEDIATE")
    con.execute("SELECT count(*) FROM t").fetchone()
    con.execute("INSERT INTO t VALUES ('a', 1)")
    crashpoint("inside")  # no gap to name: a label never makes a point
    con.execute("INSERT INTO t VALUES ('b', 2)")
    con.execute("COMMIT")
    channel.finish()
    assert channel.stops() == ["after CREATE!", "after BEGIN IMMEDIATE", "after COMMIT!"]


def test_a_deferred_transaction_stops_at_its_snapshot_and_at_its_lock(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"), isolation_level=None)
    con.execute("CREATE TABLE t (k TEXT, v INTEGER)")
    con.execute("BEGIN")  # takes nothing
    con.execute("SELECT count(*) FROM t").fetchone()  # the snapshot
    con.execute("SELECT count(*) FROM t").fetchone()  # same snapshot: nothing new
    con.execute("INSERT INTO t VALUES ('a', 1)")  # the write lock
    con.execute("INSERT INTO t VALUES ('b', 1)")
    con.execute("COMMIT")
    channel.finish()
    assert channel.stops() == ["after CREATE!", "after SELECT", "after INSERT", "after COMMIT!"]


def test_python_sqlite3_implicit_transactions_and_with_blocks(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"))  # isolation_level "": the module's implicit BEGIN
    con.execute("CREATE TABLE t (v INTEGER)")
    with con:
        con.execute("INSERT INTO t VALUES (1)")
        con.execute("INSERT INTO t VALUES (2)")
    con.commit()  # nothing open: not an operation
    channel.finish()
    ops = [e["detail"] for e in channel.events if e["ev"] == "op"]
    assert ops == ["CREATE TABLE t (v INTEGER)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)", "COMMIT"]
    assert channel.stops() == ["after CREATE!", "after INSERT", "after COMMIT!"]
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_a_failed_statement_is_shown_with_its_error(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"), isolation_level=None)
    con.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    con.execute("INSERT INTO t VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO t VALUES ('a')")
    channel.finish()
    failed = [e for e in channel.events if e["ev"] == "op"][-1]
    assert failed["outcome"].startswith("raised IntegrityError: UNIQUE constraint failed")
    assert channel.stops()[-1] == "after INSERT"  # nothing durable: no kill offered


def test_labels_name_gaps_reports_split_them_busy_makes_a_stop(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"), isolation_level=None)
    con.execute("CREATE TABLE t (v INTEGER)")
    crashpoint("created")
    report({"ack": 1})  # a kill before it and one after it are different crashes
    pausepoint("reported")
    con.execute("INSERT INTO t VALUES (1)")
    pausepoint("retry", busy=True)
    with operation("try-lock", durable=False):
        pass
    channel.finish()
    assert channel.log() == [
        "sql CREATE TABLE t (v INTEGER)",
        "| created!",
        "report {'ack': 1}",
        "| reported!",
        "sql INSERT INTO t VALUES (1)",
        "| retry! busy",
        "try-lock",
        "| after try-lock",
    ]
    where = [e["where"] for e in channel.events if e["ev"] == "point"]
    assert all(w.startswith("tests/test_crash_points.py:") for w in where), where


def test_the_trace_never_shows_parameters(channel: Recording, tmp_path: Path) -> None:
    con = db.sqlite_connect(str(tmp_path / "a.db"), isolation_level=None)
    con.execute("CREATE TABLE t (owner TEXT)")
    con.execute("INSERT INTO t VALUES (?)", (f"{os.getpid()}:secret",))
    assert not any("secret" in str(e) for e in channel.events)


def test_psycopg_is_traced_when_a_worker_imports_it() -> None:
    """The import hook patches psycopg in a worker process, wherever it is first imported."""
    code = (
        "from racekit.crash import db, point\n"
        "db.install()\n"
        "import psycopg\n"
        "print(psycopg.connect.__module__, getattr(psycopg, '_racekit_traced', False))\n"
    )
    pytest.importorskip("psycopg")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=child_env(catalogue_root()), check=True)
    assert out.stdout.split() == ["racekit.crash.db", "True"]


# --------------------------------------------------------------------------
# Files and power loss


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[tuple[Recording, Path]]:
    durable = tmp_path / ".durable"
    durable.mkdir()
    ch = Recording(str(durable))
    point.install(ch)
    try:
        yield ch, tmp_path
    finally:
        point.install(None)


def _append_log(path: Path, records: list[bytes], sync_after: int) -> None:
    fd = files.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    files.fsync_dir(path.parent)
    for i, r in enumerate(records):
        files.write(fd, r)
        if i < sync_after:
            files.fsync(fd)
    files.close(fd)


@pytest.mark.parametrize(("mode", "left"), [("lose", b"aaaa"), ("torn", b"aaaabbbb"), ("keep", b"aaaabbbbcccc")])
def test_power_loss_drops_what_was_not_fsynced(disk: tuple[Recording, Path], mode: str, left: bytes) -> None:
    ch, root = disk
    log = root / "log"
    _append_log(log, [b"aaaa", b"bbbb", b"cccc"], sync_after=1)
    d = Disk(ch.durable or "")
    assert d.unsynced() == ["log: 12 bytes, 4 durable"]
    changed = d.lose(mode)
    assert log.read_bytes() == left
    assert bool(changed) == (mode != "keep")
    assert Disk(ch.durable or "").unsynced() == []  # what is left is durable now


def test_a_missing_fsync_is_a_loss_and_fsync_is_a_kill_point(disk: tuple[Recording, Path]) -> None:
    ch, root = disk
    _append_log(root / "log", [b"record"], sync_after=1)
    ch.finish()
    assert ch.stops() == ["after create!", "after fsync-dir!", "after write!", "after fsync!"]
    Disk(ch.durable or "").lose("lose")
    assert (root / "log").read_bytes() == b"record"


def test_a_new_name_needs_its_directory_fsynced(disk: tuple[Recording, Path]) -> None:
    ch, root = disk
    fd = files.open(root / "new", os.O_WRONLY | os.O_CREAT, 0o644)
    files.write(fd, b"data")
    files.fsync(fd)  # the data is durable, its name is not
    files.close(fd)
    d = Disk(ch.durable or "")
    assert d.unsynced() == ["new: name not durable (absent on disk)"]
    assert d.lose("lose") == ["new: gone (its name was never made durable)"]
    assert not (root / "new").exists()


def test_replace_without_directory_fsync_rolls_back(disk: tuple[Recording, Path]) -> None:
    ch, root = disk
    (root / "config").write_bytes(b"old")  # there before the layer saw it: taken as durable
    fd = files.open(root / "config.tmp", os.O_WRONLY | os.O_CREAT, 0o644)
    files.write(fd, b"new")
    files.fsync(fd)
    files.close(fd)
    files.replace(root / "config.tmp", root / "config")
    Disk(ch.durable or "").lose("lose")
    assert (root / "config").read_bytes() == b"old"
    assert not (root / "config.tmp").exists()


def test_replace_with_fsyncs_survives(disk: tuple[Recording, Path]) -> None:
    ch, root = disk
    (root / "config").write_bytes(b"old")
    fd = files.open(root / "config.tmp", os.O_WRONLY | os.O_CREAT, 0o644)
    files.write(fd, b"new")
    files.fsync(fd)
    files.close(fd)
    files.replace(root / "config.tmp", root / "config")
    files.fsync_dir(root)
    d = Disk(ch.durable or "")
    assert d.unsynced() == []
    d.lose("lose")
    assert (root / "config").read_bytes() == b"new"
    assert not (root / "config.tmp").exists()


def test_replace_without_fsync_of_the_new_file_leaves_it_empty(disk: tuple[Recording, Path]) -> None:
    """The classic: write tmp, rename over, fsync the directory - but never the file."""
    ch, root = disk
    (root / "config").write_bytes(b"old")
    fd = files.open(root / "config.tmp", os.O_WRONLY | os.O_CREAT, 0o644)
    files.write(fd, b"new")
    files.close(fd)
    files.replace(root / "config.tmp", root / "config")
    files.fsync_dir(root)
    Disk(ch.durable or "").lose("lose")
    assert (root / "config").read_bytes() == b""


def test_torn_keeps_the_first_half_of_the_change() -> None:
    assert torn(b"abcd", b"abcdEFGH") == b"abcdEF"
    assert torn(b"abcdefgh", b"abXYZfgh") == b"abXYefgh"
    assert torn(b"abcdef", b"abc") == b"abcdef"  # a shrink is all or nothing
    assert torn(b"", b"x") == b"x"
