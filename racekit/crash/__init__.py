"""Crash harness: real worker processes against real databases and files, killed at chosen points.

System code needs nothing to get points: in a harness worker every SQL
statement and commit (sqlite3, psycopg) and every write, fsync and rename
through :mod:`racekit.crash.files` is an operation, and the worker stops
between operations.  It may add labels and reports (cheap; no-ops outside a
harness)::

    from racekit.crash import crashpoint, files, operation, pausepoint, report

A system's test imports the engine from here too - ``CrashMachine``,
``Budget``, ``Driver``, ``Run``, ``Task``, ``Violation``, ``without_one``,
and the helpers for services (``Service``, ``child_env``, ``scratch_dir``,
``survivors``, ``postgres``, ``redis``).  Those load on first use, so a worker process
that only needs the points starts fast.  Internals: :mod:`racekit.crash.point`
(points, labels, channels), :mod:`racekit.crash.db` (traced connections),
:mod:`racekit.crash.files` (the file layer and the durable record),
:mod:`racekit.crash.powerloss` (applying a power loss),
:mod:`racekit.crash.run` (one run: the core loop), :mod:`racekit.crash.machine`
(the Engine), :mod:`racekit.crash.session` (a pool and a scratch directory
around many runs), :mod:`racekit.crash.procs` (processes, pools, services,
leftovers), :mod:`racekit.crash.postgres` (a throwaway PostgreSQL cluster),
:mod:`racekit.crash.redis` (a throwaway redis-server).
See docs/crash.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from racekit.crash.point import active as active
from racekit.crash.point import crashpoint as crashpoint
from racekit.crash.point import operation as operation
from racekit.crash.point import pausepoint as pausepoint
from racekit.crash.point import report as report
from racekit.crash.point import stepping as stepping

if TYPE_CHECKING:
    from racekit.crash import files as files
    from racekit.crash import postgres as postgres
    from racekit.crash import redis as redis
    from racekit.crash.machine import Budget as Budget
    from racekit.crash.machine import CrashMachine as CrashMachine
    from racekit.crash.machine import without_one as without_one
    from racekit.crash.procs import Service as Service
    from racekit.crash.procs import child_env as child_env
    from racekit.crash.procs import scratch_dir as scratch_dir
    from racekit.crash.procs import survivors as survivors
    from racekit.crash.run import Driver as Driver
    from racekit.crash.run import Run as Run
    from racekit.crash.run import Task as Task
    from racekit.crash.run import Violation as Violation

_WHERE = {
    "CrashMachine": "racekit.crash.machine",
    "Budget": "racekit.crash.machine",
    "without_one": "racekit.crash.machine",
    "Driver": "racekit.crash.run",
    "Run": "racekit.crash.run",
    "Task": "racekit.crash.run",
    "Violation": "racekit.crash.run",
    "Service": "racekit.crash.procs",
    "child_env": "racekit.crash.procs",
    "scratch_dir": "racekit.crash.procs",
    "survivors": "racekit.crash.procs",
}

__all__ = [
    "Budget",
    "CrashMachine",
    "Driver",
    "Run",
    "Service",
    "Task",
    "Violation",
    "active",
    "child_env",
    "crashpoint",
    "files",
    "operation",
    "pausepoint",
    "postgres",
    "redis",
    "report",
    "scratch_dir",
    "stepping",
    "survivors",
    "without_one",
]


def __getattr__(name: str) -> Any:
    if name in ("postgres", "redis", "files"):
        return importlib.import_module(f"racekit.crash.{name}")
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'racekit.crash' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
