"""Points: the places where a harness may switch workers or kill one.

**Where points are.**  A point sits *between two operations on durable
state*: SQL statements and commits (``racekit.crash.db`` wraps sqlite3 and
psycopg connections in harness workers), file writes, fsyncs, renames
(``racekit.crash.files``), and any external effect a system marks with
``with operation("charge card"):``.  Nobody places them by hand: a worker
stops right before its next operation, so two workers' statements
interleave wherever they could in production, and a kill can land after any
statement or write.

Between two operations a worker runs only its own Python, which nobody else
can see: one stop per gap is enough.  Stops are therefore *lazy*: an
operation opens a gap, and the gap becomes a stop when the worker reaches
its next operation, its next report, or its end.  Two more rules keep the
count of stops down without losing an outcome:

* an operation that nobody else can observe and that changes nothing a
  crash would keep does not open a gap (a statement inside a SQLite write
  transaction - others are locked out and see nothing until the commit -, a
  plain ``BEGIN``, an fsync when power loss is not modelled);
* a kill is offered at a stop only if something durable changed (a
  committed write, a file write, an fsync under power loss) or a report went
  out since the last stop where a kill was offered: a kill at a stop with
  nothing new since the last one leaves the same state behind.

``crashpoint("name")`` and ``pausepoint("name")`` are now *labels*: they
name the gap they are in, so a trace reads "KILLED at after-charge" instead
of "KILLED at after INSERT #2".  A label never makes a point: where no gap
is open (inside a SQLite write transaction) it names nothing, and the same
points exist whether or not a label is there - a broken variant and its
fix are explored over the same points.  ``pausepoint(..., busy=True)`` still means
"I cannot progress until another worker moves" (a refused lock, before the
retry).  Outside a harness every call is a no-op costing one global lookup.

Channels (what a point does inside a harness):

* ``StepChannel`` (worker processes of :mod:`racekit.crash.run`, step mode):
  the worker sends each operation (for the trace) and each stop to the
  parent and, at a stop, blocks until told to go on; the parent answers "go"
  or kills the process while it waits.  Deterministic, replayable.
* ``FreeChannel`` (free mode): the worker runs on, reporting stops as it
  passes them; the parent kills it at a random instant.
* ``ControlDirChannel``: processes the harness did not start (uvicorn
  workers) find ``RACEKIT_CRASH_CONTROL=<dir>`` in their environment; the
  directory holds a kill plan by *label*, hit counters shared by all
  processes under an ``flock``, and an event log.  Operations are not points
  there (their connections are not wrapped).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

ENV_CONTROL = "RACEKIT_CRASH_CONTROL"


@dataclass
class Op:
    """One operation on durable state, as the wrappers describe it.

    ``visible``: another worker could tell it happened, or its outcome
    depends on what others did (a stop after it differs from one before it).
    ``durable``: it changed what survives a crash (a kill after it leaves a
    different state than a kill before it).  Either opens a gap.
    ``unblocks``: it released something others may wait for (a lock, at a
    commit or rollback).  A durable change or a release is *progress*: only
    progress lets a worker waiting at a busy point try again.
    """

    kind: str
    detail: str = ""
    visible: bool = True
    durable: bool = True
    outcome: str = ""
    where: str = ""
    unblocks: bool = False


class Channel(Protocol):
    def point(self, name: str, crash: bool, busy: bool) -> None: ...

    def report(self, data: Any) -> None: ...

    def before(self, op: Op) -> None: ...

    def after(self, op: Op) -> None: ...


_channel: Channel | None = None
_env_checked = False


def _current() -> Channel | None:
    global _env_checked, _channel
    if _channel is None and not _env_checked:
        _env_checked = True
        control = os.environ.get(ENV_CONTROL)
        if control:
            _channel = ControlDirChannel(Path(control))
    return _channel


def crashpoint(name: str) -> None:
    """Name the current gap (kills there are decided by what happened, see the module doc)."""
    ch = _channel if _env_checked else _current()
    if ch is not None:
        ch.point(name, True, False)


def pausepoint(name: str, *, busy: bool = False) -> None:
    """Name the current gap; ``busy=True``: "I cannot progress until another worker moves".

    A busy gap is not offered to the scheduler again before another worker
    has moved (a lock was refused and the next operation retries it).
    """
    ch = _channel if _env_checked else _current()
    if ch is not None:
        ch.point(name, False, busy)


def report(data: Any) -> None:
    """Send JSON-able ``data`` to the harness (an ack a client would see, say)."""
    ch = _channel if _env_checked else _current()
    if ch is not None:
        ch.report(data)


@contextmanager
def operation(kind: str, detail: str = "", *, visible: bool = True, durable: bool = True) -> Iterator[Op]:
    """Mark an effect the wrappers cannot see (an HTTP call to a provider, a message sent).

    ``with operation("charge", key):`` puts points before and after the
    block, like a SQL statement.  A no-op outside a harness.
    """
    ch = _channel if _env_checked else _current()
    op = Op(kind, detail, visible, durable)
    if ch is None:
        yield op
        return
    op.where = where()
    ch.before(op)
    try:
        yield op
    except BaseException as exc:
        op.outcome = f"raised {type(exc).__name__}"
        ch.after(op)
        raise
    ch.after(op)


def install(channel: Channel | None) -> None:
    """Make ``channel`` the current one (``None``: points become no-ops again)."""
    global _channel, _env_checked
    _channel = channel
    _env_checked = True


def active() -> bool:
    """Whether a harness is listening (points do something)."""
    return _current() is not None


def stepping() -> bool:
    """Whether the parent runs one worker at a time (step mode).

    Code that would wait on a lock held by another worker (SQLite's busy
    timeout, PostgreSQL's lock wait) must not wait while stepping - the holder
    is paused and would never release it - but fail at once and retry after a
    ``pausepoint(..., busy=True)``.
    """
    return isinstance(_current(), StepChannel)


def durable_dir() -> str | None:
    """Where the file layer keeps durable images for the power-loss model (None: not modelled)."""
    ch = _current()
    return ch.durable if isinstance(ch, FreeChannel) else None


def die() -> None:
    """SIGKILL this process now: no cleanup, no flush, no atexit - a crash."""
    os.kill(os.getpid(), signal.SIGKILL)


_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP = (_HERE + os.sep, os.path.dirname(os.__file__) + os.sep + "contextlib.py")


def _skipped(filename: str) -> bool:
    return filename.startswith(_SKIP) or f"{os.sep}psycopg{os.sep}" in filename


def where() -> str:
    """``file:line`` of the system code that called into the harness (relative to the cwd when inside it)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and _skipped(frame.f_code.co_filename):
        frame = frame.f_back
    path = frame.f_code.co_filename
    rel = os.path.relpath(path)
    return f"{path if rel.startswith('..') else rel}:{frame.f_lineno}"


# --------------------------------------------------------------------------
# Channels of harness worker processes (see racekit.crash.worker)


class _Wire:
    """Line-delimited JSON to the parent (events) and from it (commands)."""

    def __init__(self, events: IO[bytes], commands: IO[bytes]) -> None:
        self.events = events
        self.commands = commands

    def send(self, obj: dict[str, Any]) -> None:
        self.events.write(json.dumps(obj, sort_keys=True).encode() + b"\n")
        self.events.flush()

    def receive(self) -> dict[str, Any]:
        line = self.commands.readline()
        if not line:  # the parent is gone: nothing left to do
            os._exit(3)
        msg: dict[str, Any] = json.loads(line)
        return msg


@dataclass
class _Gap:
    """The gap a worker is in: opened by an operation or a report, named by labels."""

    after: str  # what opened it ("after COMMIT"), or "" at the start of the task
    where: str
    labels: list[str] = field(default_factory=list)
    busy: bool = False


def _short(op: Op) -> str:
    """How a gap is named after its operation: ``COMMIT``, ``BEGIN IMMEDIATE``, ``write``."""
    if op.kind != "sql" or not op.detail:
        return op.kind
    words = op.detail.split()
    two = len(words) > 1 and words[0].upper() == "BEGIN" and words[1].upper() in ("IMMEDIATE", "EXCLUSIVE")
    return " ".join(words[:2]) if two else words[0]


class FreeChannel:
    """Run on; report stops as they pass (free mode: the parent kills after a delay)."""

    def __init__(self, wire: _Wire, durable: str | None = None) -> None:
        self.wire = wire
        self.durable = durable  # power-loss model: directory of durable images (racekit.crash.files)
        self.hits: dict[str, int] = {}
        self.gap: _Gap | None = None
        self.dirty = False  # something durable changed, or a report went out, since the last kill offer
        self.moved = False  # progress since the last stop (see Op.unblocks)
        self.ops = 0

    # -- what system code calls
    def point(self, name: str, crash: bool, busy: bool) -> None:
        if self.gap is None and not busy:
            return  # no gap here (inside a write transaction, say): a label cannot make a point
        w = where()
        if self.gap is None:
            self.gap = _Gap("", w)  # "I cannot progress": the retry that follows is worth a stop
        self.gap.labels.append(name)
        self.gap.where = w
        self.gap.busy = self.gap.busy or busy

    def report(self, data: Any) -> None:
        self.flush()
        self.wire.send({"ev": "report", "data": data})
        self.dirty = True
        self.gap = _Gap("after report", where())

    def before(self, op: Op) -> None:
        self.flush()

    def after(self, op: Op) -> None:
        self.ops += 1
        self.dirty = self.dirty or op.durable
        self.moved = self.moved or op.durable or op.unblocks
        if op.visible or op.durable:
            self.gap = _Gap(f"after {_short(op)}", op.where)

    def finish(self) -> None:
        """The task returns or raises: its last gap is a stop (a kill there means no answer)."""
        self.flush()

    # -- stops
    def flush(self) -> None:
        gap, self.gap = self.gap, None
        if gap is None or (not gap.labels and not gap.after):
            return
        name = "+".join(dict.fromkeys(gap.labels)) if gap.labels else gap.after
        crash = self.dirty
        self.dirty = False if crash else self.dirty
        hit = self.hits[name] = self.hits.get(name, 0) + 1
        moved, self.moved = self.moved, False
        self.wire.send({"ev": "point", "name": name, "hit": hit, "crash": crash, "busy": gap.busy, "where": gap.where,
                        "moved": moved})
        self.stop(name)

    def stop(self, name: str) -> None:
        """Free mode: run on."""


class StepChannel(FreeChannel):
    """Stop at every point until the parent says go (or kills us); operations go to the trace."""

    def after(self, op: Op) -> None:
        self.wire.send({"ev": "op", "kind": op.kind, "detail": op.detail, "outcome": op.outcome, "where": op.where})
        super().after(op)

    def stop(self, name: str) -> None:
        msg = self.wire.receive()
        if msg.get("op") != "go":
            raise RuntimeError(f"worker expected 'go' at point {name!r}, got {msg!r}")


# --------------------------------------------------------------------------
# Processes started by someone else (a web server's workers)


class ControlDirChannel:
    """Kill plan and counters in a directory shared by every process.

    ``plan.json``: ``{"kills": [[label, hit], ...]}`` - hit numbers count
    the passes of that ``crashpoint`` label over *all* processes using the
    directory.  Each process appends ``pid point hit [killed]`` lines to
    ``events.log``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            plan = json.loads((root / "plan.json").read_text())
        except (OSError, ValueError):
            plan = {}
        self.kills = {(str(p), int(h)) for p, h in plan.get("kills", [])}

    def _count(self, name: str) -> int:
        with open(self.root / "counters.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = self.root / "counters.json"
            try:
                counts: dict[str, int] = json.loads(path.read_text())
            except (OSError, ValueError):
                counts = {}
            counts[name] = hit = counts.get(name, 0) + 1
            path.write_text(json.dumps(counts))
            return hit

    def _log(self, line: str) -> None:
        fd = os.open(self.root / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def point(self, name: str, crash: bool, busy: bool) -> None:
        if not crash:
            return
        hit = self._count(name)
        dying = (name, hit) in self.kills
        self._log(f"{os.getpid()} {name} {hit}{' killed' if dying else ''}")
        if dying:
            die()

    def report(self, data: Any) -> None:
        self._log(f"{os.getpid()} report {json.dumps(data, sort_keys=True)}")

    def before(self, op: Op) -> None:
        """Operations are not points here: the kill plan names labels."""

    def after(self, op: Op) -> None:
        """See :meth:`before`."""
