"""A harness worker process: ``python -S racekit/crash/worker.py EVENT_FD``.

It reads commands (JSON lines) on stdin and writes events (JSON lines) to
file descriptor ``EVENT_FD``; the system's own output goes to stdout/stderr,
which the parent points at a log file.  Commands:

* ``{"op": "run", "target": "systems.x:fn", "args": {...}, "mode": "step"|"free"|"bare"}``
  - call ``fn(**args)`` with the matching
  point channel installed; answer ``done`` (with the JSON-able return value)
  or ``error``.  Between points the worker runs freely.
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
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from racekit.crash import point  # noqa: E402

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


def serve(events_fd: int) -> None:
    events = os.fdopen(events_fd, "wb", buffering=0)
    wire = point._Wire(events, sys.stdin.buffer)
    wire.send({"ev": "ready", "pid": os.getpid()})
    while True:
        cmd = wire.receive()
        op = cmd.get("op")
        if op == "exit":
            return
        if op != "run":
            wire.send({"ev": "error", "error": f"unknown command {op!r}", "tb": ""})
            continue
        channel: point.Channel | None
        if cmd.get("mode") == "free":
            channel = point.FreeChannel(wire)
        elif cmd.get("mode") == "bare":
            channel = None  # production behaviour: points are no-ops, nothing is reported
        else:
            channel = point.StepChannel(wire)
        point.install(channel)
        try:
            result = resolve(str(cmd["target"]))(**cmd.get("args", {}))
        except Exception as exc:
            import traceback

            wire.send({"ev": "error", "error": f"{type(exc).__name__}: {exc}", "tb": traceback.format_exc()})
        else:
            wire.send({"ev": "done", "result": result})
        finally:
            point.install(None)
            sys.stdout.flush()
            sys.stderr.flush()


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -S racekit/crash/worker.py EVENT_FD")
    serve(int(argv[1]))


if __name__ == "__main__":
    main(sys.argv)
