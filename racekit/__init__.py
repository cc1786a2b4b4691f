"""racekit: break concurrent and distributed code before production does.

Public surface (kept small on purpose):

* :func:`explore` / :func:`replay` - interleavings of plain ``threading`` code.
* :mod:`racekit.sync` - schedulable Lock, RLock, Condition, Semaphore, Event,
  Queue, Atomic, Thread, sleep, monotonic, yield_point.
* :class:`racekit.machine.ConcurrentStateMachine` - Hypothesis stateful
  testing with the interleaving as part of the program.
* :mod:`racekit.catalogue` - System/Variant declarations for the catalogue.

See docs/architecture.md for how the pieces fit.
"""

from __future__ import annotations

from racekit.sched.explore import ExploreResult, explore, replay

__version__ = "0.1.0"
__all__ = ["ExploreResult", "explore", "replay"]
