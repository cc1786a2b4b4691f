"""racekit.aio: asyncio code under a controlled event loop (the fourth engine).

Which ready task runs next is a choice of the exploration kernel, time is
virtual, and a stuck run is a verdict.  Plain asyncio code:
:func:`explore_async` / :func:`replay_async` (also ``racekit.explore_async``).
Catalogue systems: subclass :class:`AsyncMachine` and give ``setup``,
``tasks`` and ``properties``.  See docs/aio.md.
"""

from __future__ import annotations

from racekit.aio.explore import explore_async, replay_async
from racekit.aio.loop import ControlledLoop, NotModelled
from racekit.aio.machine import AsyncMachine, AsyncSession, Property, without_one
from racekit.aio.run import AioRun, Left, Program, Verdict, run_program

__all__ = [
    "AioRun",
    "AsyncMachine",
    "AsyncSession",
    "ControlledLoop",
    "Left",
    "NotModelled",
    "Program",
    "Property",
    "Verdict",
    "explore_async",
    "replay_async",
    "run_program",
    "without_one",
]
