"""Points at every SQL statement and commit, for sqlite3 and psycopg connections in harness workers.

:func:`install` (called once by every harness worker process) replaces
``sqlite3.connect`` and ``psycopg.connect`` with versions that, while a
point channel is installed, return a connection of a subclass whose
``execute``/``executemany``/``executescript``/``commit``/``rollback`` (and
those of its cursors, and ``with conn:``) are operations in the sense of
:mod:`racekit.crash.point`: the worker stops before each one, so other
workers can run between any two statements, and a kill can land after any
of them.  With no channel (production, benchmarks, the parent process)
``connect`` returns a plain connection.  System code does not change:
whatever calls ``sqlite3.connect`` in a worker - the system, a library -
gets the points.

Why a patch in the workers rather than a wrapper the systems import: the
worker process belongs to the harness, nothing else runs there, and a
statement the system issues through a helper library is a boundary all the
same.  psycopg is patched when it is imported (an import hook), because it
costs ~250 ms to import and most workers never need it.

Classification (what opens a gap, what makes a kill worth offering; see
:class:`racekit.crash.point.Op`), SQLite:

* ``PRAGMA`` statements are run without a point (connection setup);
* a plain ``BEGIN`` takes nothing (no lock, no snapshot): no gap after it;
* while the connection holds the write lock (after ``BEGIN IMMEDIATE`` /
  ``EXCLUSIVE``, or after its first write in a deferred transaction) and
  still holds it after the statement, the statement opens no gap: in WAL
  mode others cannot write and see nothing of it until the commit, so a
  switch or a kill there is the same as at the gap before it;
* likewise later reads of a read transaction (its snapshot is fixed);
* durable: a write outside a transaction, a ``COMMIT`` of a transaction
  that wrote, ``executescript`` (it may commit anything).

**SQLite's busy handler, emulated.**  Stepping, one worker runs at a time:
a connection that waits for a lock (``timeout`` > 0) would wait for a
paused holder until its timeout ran out.  So, stepping, such a connection
is opened with ``timeout=0``, and a statement refused with ``SQLITE_BUSY``
is a busy point (``sqlite-busy``: not offered again until another worker
makes progress) and then the same statement again - what the busy handler
does, with the wait made of other workers' steps.  A wait that cannot end
(every live worker waits) is reported as a deadlock.  Code that passes
``timeout=0`` itself keeps handling ``SQLITE_BUSY`` as it does.  Not told
apart: SQLite's deadlock refusal in rollback-journal mode (a reader that
wants to write while another connection waits to commit gets SQLITE_BUSY
at once, without waiting) - it waits here too, and shows as a deadlock
rather than as an error to the reader.

PostgreSQL: every statement except ``BEGIN`` opens a gap (row locks and
READ COMMITTED's per-statement snapshots make each one observable);
durable: a write in autocommit, a ``COMMIT`` after a write.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import re
import sqlite3
import sys
from collections.abc import Callable, Sequence
from types import ModuleType, TracebackType
from typing import Any, Literal, TypeVar

from racekit.crash import point

T = TypeVar("T")

READS = frozenset({"SELECT", "VALUES", "EXPLAIN", "SHOW", "TABLE", "FETCH"})
CONTROL = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"})
_LEADING = re.compile(r"^(?:\s+|--[^\n]*\n?|/\*.*?\*/|\()*", re.S)
_SPACE = re.compile(r"\s+")
SUMMARY = 110  # characters of a statement shown in the trace
BUSY_LABEL = "sqlite-busy"  # the busy point of an emulated busy handler


def keyword(sql: str) -> str:
    """The statement's first keyword, upper case ('' for an empty statement)."""
    rest = _LEADING.sub("", sql, count=1)
    word = rest.split(None, 1)[0] if rest.strip() else ""
    return word.upper().rstrip(";")


def summary(sql: str) -> str:
    """The statement on one line, cut to ``SUMMARY`` characters.  Never the parameters:
    they may hold pids and paths, and a trace must read the same on every replay."""
    text = _SPACE.sub(" ", sql).strip()
    return text if len(text) <= SUMMARY else text[: SUMMARY - 3] + "..."


def _rows(n: int) -> str:
    return "" if n < 0 else f"({n} row{'' if n == 1 else 's'})"


def _error(exc: BaseException) -> str:
    return f"raised {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------
# SQLite


class _SqliteTxn:
    """What a SQLite connection holds, as far as points care."""

    __slots__ = ("locked", "snapshot", "wrote")

    def __init__(self) -> None:
        self.locked = False  # holds the write lock
        self.snapshot = False  # a read transaction has taken its snapshot
        self.wrote = False  # the open transaction wrote something

    def reset(self) -> None:
        self.locked = self.snapshot = self.wrote = False


def _busy(exc: BaseException) -> bool:
    """SQLITE_BUSY itself: a lock another connection holds (not BUSY_SNAPSHOT, which waiting cannot cure)."""
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


def _sqlite_op(con: sqlite3.Connection, sql: str, run: Callable[[], T], *, script: bool = False) -> T:
    ch = point._channel
    if ch is None:
        return run()
    kw = "SCRIPT" if script else keyword(sql)
    if kw == "PRAGMA":
        return run()
    txn: _SqliteTxn = con.__dict__.setdefault("_racekit_txn", _SqliteTxn())
    while True:
        op = point.Op("sql", summary(sql), where=point.where())
        was_locked, was_in = txn.locked, con.in_transaction
        ch.before(op)
        try:
            result = run()
        except BaseException as exc:
            op.outcome = _error(exc)
            _classify_sqlite(con, txn, kw, sql, was_locked, was_in, op, failed=True)
            ch.after(op)
            if con.__dict__.get("_racekit_waits") and _busy(exc):
                # The busy handler, emulated: the connection would wait for the lock (its
                # ``timeout``), but the holder is paused; wait as a busy point, then retry.
                ch.point(BUSY_LABEL, False, True)
                continue
            raise
        break
    if isinstance(result, sqlite3.Cursor) and kw not in READS and kw not in CONTROL:
        op.outcome = _rows(result.rowcount)
    _classify_sqlite(con, txn, kw, sql, was_locked, was_in, op, failed=False)
    ch.after(op)
    return result


def _classify_sqlite(
    con: sqlite3.Connection, txn: _SqliteTxn, kw: str, sql: str, was_locked: bool, was_in: bool, op: point.Op,
    *, failed: bool,
) -> None:
    now_in = con.in_transaction
    write = kw not in READS and kw not in CONTROL
    if kw == "SCRIPT":
        op.visible = op.durable = True
    elif kw in ("BEGIN", "START", "SAVEPOINT"):
        mode = sql.split()[1].upper() if len(sql.split()) > 1 else ""
        took = not failed and mode in ("IMMEDIATE", "EXCLUSIVE")
        txn.locked = txn.locked or took
        op.visible, op.durable = took or (failed and not was_locked), False
    elif kw in ("COMMIT", "END", "RELEASE") or (kw in ("ROLLBACK", "ABORT")):
        op.visible = was_locked or txn.snapshot or failed
        op.durable = kw in ("COMMIT", "END", "RELEASE") and txn.wrote and not failed
        op.unblocks = was_locked and not now_in  # the write lock is free again
    elif was_locked and now_in:
        op.visible = op.durable = False  # inside a write transaction: nobody else can tell
        txn.wrote = txn.wrote or (write and not failed)
    elif now_in:  # in a transaction that holds no write lock (deferred, or opened by the sqlite3 module)
        if write and not failed:
            txn.locked = txn.wrote = True
            op.visible, op.durable = True, False
        elif not write and txn.snapshot and not failed:
            op.visible = op.durable = False  # a read transaction's snapshot is already fixed
        else:
            op.visible, op.durable = True, False
        if not write and not failed:
            txn.snapshot = True
    else:  # autocommit: the statement was its own transaction
        op.visible = True
        op.durable = write and not failed
    if not now_in:
        txn.reset()


class _TracedSqliteCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return _sqlite_op(self.connection, sql, lambda: super(_TracedSqliteCursor, self).execute(sql, parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        return _sqlite_op(self.connection, sql, lambda: super(_TracedSqliteCursor, self).executemany(sql, seq_of_parameters))

    def executescript(self, sql_script: str, /) -> Any:
        return _sqlite_op(self.connection, sql_script, lambda: super(_TracedSqliteCursor, self).executescript(sql_script),
                          script=True)


class TracedSqliteConnection(sqlite3.Connection):
    """A ``sqlite3.Connection`` whose statements and commits are operations (points around each)."""

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _TracedSqliteCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> Any:
        return self.cursor().executescript(sql_script)

    def commit(self) -> None:
        if not self.in_transaction:
            return super().commit()  # nothing to commit: not an operation
        _sqlite_op(self, "COMMIT", super().commit)

    def rollback(self) -> None:
        if not self.in_transaction:
            return super().rollback()
        _sqlite_op(self, "ROLLBACK", super().rollback)

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if et is None:
            try:
                self.commit()
            except BaseException:
                self.rollback()
                raise
        else:
            self.rollback()
        return False


_factories: dict[type[sqlite3.Connection], type[sqlite3.Connection]] = {sqlite3.Connection: TracedSqliteConnection}
_real_sqlite_connect = sqlite3.connect
_SQLITE_ARGS = ("timeout", "detect_types", "isolation_level", "check_same_thread", "factory", "cached_statements", "uri")


def _traced_factory(factory: type[sqlite3.Connection]) -> type[sqlite3.Connection]:
    traced = _factories.get(factory)
    if traced is None:
        if issubclass(factory, TracedSqliteConnection):
            return factory
        traced = _factories[factory] = type(f"Traced{factory.__name__}", (TracedSqliteConnection, factory), {})
    return traced


def sqlite_connect(database: Any, *args: Any, **kwargs: Any) -> Any:
    """``sqlite3.connect`` - traced while a point channel is installed.

    Stepping, a connection that would wait for locks (``timeout`` > 0, 5 s
    by default) gets ``timeout=0`` and an emulated busy handler instead: the
    holder of the lock is paused, so a real wait would only run out.
    """
    if point._channel is None:
        return _real_sqlite_connect(database, *args, **kwargs)
    kwargs.update(zip(_SQLITE_ARGS, args, strict=False))
    kwargs["factory"] = _traced_factory(kwargs.get("factory", sqlite3.Connection))
    waits = isinstance(point._channel, point.StepChannel) and float(kwargs.get("timeout", 5.0)) > 0
    if waits:
        kwargs["timeout"] = 0
    con = _real_sqlite_connect(database, **kwargs)
    if waits:
        con.__dict__["_racekit_waits"] = True
    return con


# --------------------------------------------------------------------------
# PostgreSQL (psycopg 3)


def _pg_text(query: Any, con: Any) -> str:
    if isinstance(query, bytes | str):
        return query.decode() if isinstance(query, bytes) else query
    as_string = getattr(query, "as_string", None)
    return str(as_string(con)) if as_string is not None else str(query)


def _pg_op(con: Any, sql: str, run: Callable[[], T]) -> T:
    ch = point._channel
    if ch is None:
        return run()
    kw = keyword(sql)
    wrote: list[bool] = con.__dict__.setdefault("_racekit_wrote", [False])  # the open transaction wrote
    op = point.Op("sql", summary(sql), where=point.where())
    ch.before(op)
    try:
        result = run()
    except BaseException as exc:
        op.outcome = _error(exc).splitlines()[0]
        _classify_pg(con, wrote, kw, op, failed=True)
        ch.after(op)
        raise
    if kw not in READS and kw not in CONTROL:
        op.outcome = _rows(getattr(result, "rowcount", -1))
    _classify_pg(con, wrote, kw, op, failed=False)
    ch.after(op)
    return result


def _classify_pg(con: Any, wrote: list[bool], kw: str, op: point.Op, *, failed: bool) -> None:
    idle = con.info.transaction_status == 0  # TransactionStatus.IDLE: no transaction open
    write = kw not in READS and kw not in CONTROL
    if kw in ("BEGIN", "START"):
        op.visible = op.durable = failed  # the snapshot is taken by the first statement, not here
    elif kw in ("COMMIT", "END", "ROLLBACK", "ABORT"):
        op.durable = kw in ("COMMIT", "END") and wrote[0] and not failed
        op.unblocks = idle  # row locks released
    elif write and not failed:
        op.durable = idle
        wrote[0] = wrote[0] or not idle
    else:
        op.durable = False
    if idle:
        wrote[0] = False


def _pg_classes(psycopg: ModuleType) -> tuple[type[Any], type[Any]]:
    class TracedPgCursor(psycopg.Cursor):  # type: ignore[misc,name-defined]
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            text = _pg_text(query, self.connection)
            return _pg_op(self.connection, text, lambda: super(TracedPgCursor, self).execute(query, params, **kw))

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> Any:
            text = _pg_text(query, self.connection)
            return _pg_op(self.connection, text, lambda: super(TracedPgCursor, self).executemany(query, params_seq, **kw))

    class TracedPgConnection(psycopg.Connection):  # type: ignore[misc,name-defined]
        def commit(self) -> None:
            _pg_op(self, "COMMIT", super().commit)

        def rollback(self) -> None:
            _pg_op(self, "ROLLBACK", super().rollback)

    return TracedPgCursor, TracedPgConnection


def _patch_psycopg(psycopg: ModuleType) -> None:
    if getattr(psycopg, "_racekit_traced", False):
        return
    cursor_cls, conn_cls = _pg_classes(psycopg)
    real = psycopg.connect

    def connect(conninfo: str = "", **kwargs: Any) -> Any:
        if point._channel is None:
            return real(conninfo, **kwargs)
        kwargs.setdefault("cursor_factory", cursor_cls)
        return conn_cls.connect(conninfo, **kwargs)

    psycopg.connect = connect  # type: ignore[attr-defined]
    psycopg._racekit_traced = True  # type: ignore[attr-defined]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches ``psycopg`` right after it is first imported in this process."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != "psycopg":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            real_exec(module)
            _patch_psycopg(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Trace sqlite3 and psycopg connections made in this process while a channel is installed."""
    if sqlite3.connect is sqlite_connect:
        return
    sqlite3.connect = sqlite_connect
    sqlite3.dbapi2.connect = sqlite_connect
    if "psycopg" in sys.modules:
        _patch_psycopg(sys.modules["psycopg"])
    else:
        sys.meta_path.insert(0, _PatchOnImport())
