"""Crash harness: real worker processes against real databases, killed at chosen points.

System code imports only the points (cheap; no-ops outside a harness)::

    from racekit.crash import crashpoint, pausepoint, report

The harness lives in submodules, imported explicitly so a worker process
starts fast: :mod:`racekit.crash.run` (one run: the core loop),
:mod:`racekit.crash.explore` (level search, Hypothesis, random kills,
minimizing), :mod:`racekit.crash.machine` (``CrashMachine``, the catalogue
Engine), :mod:`racekit.crash.session` (a pool and a scratch directory around many
runs), :mod:`racekit.crash.procs` (processes, pools, services, leftovers),
:mod:`racekit.crash.postgres` (a throwaway PostgreSQL cluster).  See
docs/crash.md.
"""

from __future__ import annotations

from racekit.crash.point import active, crashpoint, pausepoint, report, stepping

__all__ = ["active", "crashpoint", "pausepoint", "report", "stepping"]
