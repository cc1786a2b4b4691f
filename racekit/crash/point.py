"""Crash and pause points: the places where a harness may stop or kill a worker.

System code marks them::

    from racekit.crash import crashpoint, pausepoint, report

    charge(card, amount)
    crashpoint("after-charge")      # the harness may SIGKILL this process here
    ...
    pausepoint("after-read")        # the harness may run other workers here
    report({"ack": key})            # tell the harness something (an ack, a result)

Outside a harness every call is a no-op costing one global lookup, so the same
code runs in production, in benchmarks and under test.  Inside one, a
:class:`Channel` is installed and decides what a point does:

* ``StepChannel`` (worker processes of :mod:`racekit.crash.run`, step mode):
  the worker tells the parent where it is and blocks until told to go on; the
  parent either answers "go" or kills the process with SIGKILL while it waits.
  The interleaving of workers and the kill points are then chosen by the
  parent's Chooser, one point at a time: deterministic, replayable.
* ``FreeChannel`` (free mode): the worker runs on, reporting each point
  asynchronously; the parent kills it at a random instant.
* ``ControlDirChannel``: processes the harness did not start itself (uvicorn
  workers) find ``RACEKIT_CRASH_CONTROL=<dir>`` in their environment; the
  directory holds a kill plan, hit counters shared by all processes under an
  ``flock``, and an event log.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
from pathlib import Path
from typing import IO, Any, Protocol

ENV_CONTROL = "RACEKIT_CRASH_CONTROL"


class Channel(Protocol):
    def point(self, name: str, crash: bool, busy: bool) -> None: ...

    def report(self, data: Any) -> None: ...


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
    """A point where the process may be killed (and where others may run)."""
    ch = _channel if _env_checked else _current()
    if ch is not None:
        ch.point(name, True, False)


def pausepoint(name: str, *, busy: bool = False) -> None:
    """A point where other workers may run; never a kill point.

    ``busy=True`` says "I cannot make progress until someone else does" (a
    lock was refused and will be retried): the scheduler will not pick this
    worker again before another one has moved.
    """
    ch = _channel if _env_checked else _current()
    if ch is not None:
        ch.point(name, False, busy)


def report(data: Any) -> None:
    """Send JSON-able ``data`` to the harness (an ack a client would see, say)."""
    ch = _channel if _env_checked else _current()
    if ch is not None:
        ch.report(data)


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


def die() -> None:
    """SIGKILL this process now: no cleanup, no flush, no atexit - a crash."""
    os.kill(os.getpid(), signal.SIGKILL)


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


def _where() -> str:
    """``file:line`` of the code that called the point (relative to the cwd when inside it)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    path = frame.f_code.co_filename
    rel = os.path.relpath(path)
    return f"{path if rel.startswith('..') else rel}:{frame.f_lineno}"


class FreeChannel:
    """Run on; report points as they pass (free mode: the parent kills after a delay)."""

    def __init__(self, wire: _Wire) -> None:
        self.wire = wire
        self.hits: dict[str, int] = {}

    def point(self, name: str, crash: bool, busy: bool) -> None:
        hit = self.hits[name] = self.hits.get(name, 0) + 1
        self.wire.send({"ev": "point", "name": name, "hit": hit, "crash": crash, "busy": busy, "where": _where()})

    def report(self, data: Any) -> None:
        self.wire.send({"ev": "report", "data": data})


class StepChannel(FreeChannel):
    """Stop at every point until the parent says go (or kills us)."""

    def point(self, name: str, crash: bool, busy: bool) -> None:
        super().point(name, crash, busy)
        msg = self.wire.receive()
        if msg.get("op") != "go":
            raise RuntimeError(f"worker expected 'go' at point {name!r}, got {msg!r}")


# --------------------------------------------------------------------------
# Processes started by someone else (a web server's workers)


class ControlDirChannel:
    """Kill plan and counters in a directory shared by every process.

    ``plan.json``: ``{"kills": [[point, hit], ...]}`` - hit numbers count
    the passes of that point over *all* processes using the directory.  Each
    process appends ``pid point hit [killed]`` lines to ``events.log``.
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
