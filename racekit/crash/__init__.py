"""Crash harness: real worker processes against real databases and files, killed at chosen points.

System code needs nothing to get points: in a harness worker every SQL
statement and commit (sqlite3, psycopg) and every write, fsync and rename
through :mod:`racekit.crash.files` is an operation, and the worker stops
between operations.  It may add labels and reports (cheap; no-ops outside a
harness)::

    from racekit.crash import crashpoint, files, operation, pausepoint, report

The harness lives in submodules, imported explicitly so a worker process
starts fast: :mod:`racekit.crash.point` (points, labels, channels),
:mod:`racekit.crash.db` (traced connections), :mod:`racekit.crash.files`
(the file layer and the durable record), :mod:`racekit.crash.powerloss`
(applying a power loss), :mod:`racekit.crash.run` (one run: the core loop),
:mod:`racekit.crash.explore` (level search, Hypothesis, random kills,
minimizing), :mod:`racekit.crash.machine` (``CrashMachine``, the catalogue
Engine), :mod:`racekit.crash.session` (a pool and a scratch directory around
many runs), :mod:`racekit.crash.procs` (processes, pools, services,
leftovers), :mod:`racekit.crash.postgres` (a throwaway PostgreSQL cluster).
See docs/crash.md.
"""

from __future__ import annotations

from racekit.crash.point import active, crashpoint, operation, pausepoint, report, stepping

__all__ = ["active", "crashpoint", "operation", "pausepoint", "report", "stepping"]
