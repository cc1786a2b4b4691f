"""A harness worker process: ``python -S racekit/crash/worker.py EVENT_FD`` (or forked by a zygote).

It reads commands (JSON lines) on stdin and writes events (JSON lines) to
file descriptor ``EVENT_FD``; the system's own output goes to stdout/stderr,
which the parent points at a log file.  Commands:

* ``{"op": "run", "target": "systems.x:fn", "args": {...}, "mode": "step"|"free"|"bare",
  "durable": dir|null}`` - call ``fn(**args)`` with the matching point
  channel installed; answer ``done`` (with the JSON-able return value) or
  ``error``.  Between points the worker runs freely.  ``durable``: the
  directory where :mod:`racekit.crash.files` records durable file state
  (power loss modelled), or null.
* ``{"op": "go"}`` - continue from a point (step mode).
* ``{"op": "exit"}`` - leave.

A process serves any number of ``run`` commands one after another (the pool
reuses processes that were not killed), so targets must keep no state in
module globals.  Targets are resolved only under the packages the harness
allows (``systems``, ``tests``, ``racekit.crash`` and the project's configured
systems and machines packages): a name never comes from a counterexample file.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # pragma: no cover - exercised in the worker processes
    # Started as a script (see procs.WorkerProcess).  racekit/__init__.py
    # loads its names on first use, so importing the package costs nothing.
    del sys.path[0]  # the script's own directory would shadow top-level names

import importlib  # noqa: E402
import json  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import IO, Any  # noqa: E402

from racekit.crash import db, point  # noqa: E402

ALLOWED = ("systems.", "tests.", "racekit.crash.")


def allowed() -> tuple[str, ...]:
    """The default packages, plus the project's own (``[tool.racekit]`` systems and
    machines, passed by :class:`racekit.crash.CrashMachine` in RACEKIT_TARGET_PACKAGES)."""
    extra = [p.strip() for p in os.environ.get("RACEKIT_TARGET_PACKAGES", "").split(",") if p.strip()]
    return (*ALLOWED, *(f"{p}." for p in extra))


def resolve(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    packages = allowed()
    if not module.startswith(packages) or not attr:
        raise ValueError(f"target {target!r} is not module:function under {', '.join(packages)}")
    fn = getattr(importlib.import_module(module), attr)
    if not callable(fn):
        raise TypeError(f"target {target!r} is not callable")
    return fn  # type: ignore[no-any-return]


def serve(events_fd: int, commands: IO[bytes] | None = None) -> None:
    events = os.fdopen(events_fd, "wb", buffering=0)
    wire = point._Wire(events, commands or sys.stdin.buffer)
    db.install()  # sqlite3/psycopg connections made while a channel is installed are traced
    wire.send({"ev": "ready", "pid": os.getpid()})
    while True:
        cmd = wire.receive()
        op = cmd.get("op")
        if op == "exit":
            return
        if op != "run":
            wire.send({"ev": "error", "error": f"unknown command {op!r}", "tb": ""})
            continue
        channel: point.FreeChannel | None
        if cmd.get("mode") == "free":
            channel = point.FreeChannel(wire)
        elif cmd.get("mode") == "bare":
            channel = None  # production behaviour: points are no-ops, nothing is reported
        else:
            channel = point.StepChannel(wire, cmd.get("durable"))
        point.install(channel)
        try:
            result = resolve(str(cmd["target"]))(**cmd.get("args", {}))
        except Exception as exc:
            import traceback

            if channel is not None:
                channel.finish()  # the last gap is a stop: a kill there and nobody hears of the error
            wire.send({"ev": "error", "error": f"{type(exc).__name__}: {exc}", "tb": traceback.format_exc()})
        else:
            if channel is not None:
                channel.finish()  # a kill there: the work is done, the answer never arrives
            wire.send({"ev": "done", "result": result})
        finally:
            point.install(None)
            sys.stdout.flush()
            sys.stderr.flush()


def zygote(sock_fd: int) -> None:
    """A fork server: warm (imports done, connections patched), it forks a worker per request.

    Requests arrive on a ``SOCK_SEQPACKET`` unix socket: ``{"op": "fork"}``
    with two file descriptors (the worker's command pipe, read end, and its
    event pipe, write end) -> ``{"pid": n}``; ``{"op": "preload", "module":
    m}`` imports ``m`` (allowed packages only) so later workers start with it.
    Children are reaped automatically (``SIGCHLD`` ignored); each worker gets
    its own session.  The zygote leaves when the socket closes (its owner
    stopped or died); its workers leave when their command pipes close.
    """
    import signal
    import socket

    sock = socket.socket(fileno=sock_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    db.install()
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(sock, 65536, 2)
        if not msg:
            return
        req = json.loads(msg)
        if req.get("op") == "fork" and len(fds) == 2:
            cmd_r, ev_w = fds
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker
                code = 0
                try:
                    sock.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    os.setsid()
                    serve(ev_w, os.fdopen(cmd_r, "rb"))
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            os.close(cmd_r)
            os.close(ev_w)
            sock.send(json.dumps({"pid": pid}).encode())
        elif req.get("op") == "preload":
            module = str(req.get("module", ""))
            try:
                if not module.startswith(allowed()):
                    raise ValueError(f"{module!r} is not under {', '.join(allowed())}")
                importlib.import_module(module)
                sock.send(b'{"ok": true}')
            except Exception as exc:  # a module that fails to import fails in the worker too, with its traceback
                sock.send(json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())
        else:
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"error": f"bad request {req!r}"}).encode())


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[1] == "--zygote":
        zygote(int(argv[2]))
        return
    if len(argv) != 2:
        raise SystemExit("usage: python -S racekit/crash/worker.py EVENT_FD | --zygote SOCKET_FD")
    serve(int(argv[1]))


if __name__ == "__main__":
    main(sys.argv)
