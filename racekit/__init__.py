"""racekit: break concurrent and distributed code before production does.

Everything a system, a spec or a state machine needs is importable from
here; kind-specific parts live in :mod:`racekit.sync` (schedulable
primitives for thread systems), :mod:`racekit.sim` (the simulator),
:mod:`racekit.crash` (real processes), :mod:`racekit.aio` (asyncio) and
:mod:`racekit.series` (a pure function of an input series).  The rest of the package is internal.

* One call for plain ``threading`` code: :func:`explore`, :func:`replay`;
  for asyncio code: :func:`explore_async`, :func:`replay_async`.
* Declaring a catalogue system: :class:`System`, :class:`Variant`, a
  :class:`Spec` (or a ready model), and an engine - :class:`ConcurrentStateMachine`
  for threads, ``racekit.sim.SimMachine``, ``racekit.crash.CrashMachine``,
  ``racekit.series.SeriesMachine``.
* Checking it: :func:`variant_tests` (pytest), :func:`search`,
  :func:`run_scenario`, :func:`every_schedule`, :func:`first_failure`;
  an engine's search plan: :class:`Plan` of :class:`Phase`.

Names are loaded on first use, so ``import racekit`` stays cheap (worker
processes of the crash harness import it).  See docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from racekit.aio.explore import explore_async as explore_async
    from racekit.aio.explore import replay_async as replay_async
    from racekit.api import every_schedule as every_schedule
    from racekit.api import first_failure as first_failure
    from racekit.api import load_counterexample as load_counterexample
    from racekit.api import run_scenario as run_scenario
    from racekit.api import search as search
    from racekit.choice import Coverage as Coverage
    from racekit.choice import Draw as Draw
    from racekit.choice import Result as Result
    from racekit.declarations import System as System
    from racekit.declarations import Variant as Variant
    from racekit.engine import Phase as Phase
    from racekit.engine import Plan as Plan
    from racekit.history import History as History
    from racekit.history import HistoryRecorder as HistoryRecorder
    from racekit.history import Operation as Operation
    from racekit.linearizability import check as check_history
    from racekit.machine import ConcurrentStateMachine as ConcurrentStateMachine
    from racekit.machine import quiescent_invariant as quiescent_invariant
    from racekit.models import (
        BlockingQueueSpec as BlockingQueueSpec,
    )
    from racekit.models import (
        CasRegisterSpec as CasRegisterSpec,
    )
    from racekit.models import (
        CircuitBreakerSpec as CircuitBreakerSpec,
    )
    from racekit.models import (
        CounterSpec as CounterSpec,
    )
    from racekit.models import (
        KVSpec as KVSpec,
    )
    from racekit.models import (
        MapSpec as MapSpec,
    )
    from racekit.models import (
        MultiRegisterSpec as MultiRegisterSpec,
    )
    from racekit.models import (
        MutexSpec as MutexSpec,
    )
    from racekit.models import (
        QueueSpec as QueueSpec,
    )
    from racekit.models import (
        RegisterSpec as RegisterSpec,
    )
    from racekit.models import (
        SetSpec as SetSpec,
    )
    from racekit.profiles import PROFILES as PROFILES
    from racekit.profiles import ProfileSettings as ProfileSettings
    from racekit.registry import catalogue_root as catalogue_root
    from racekit.sched.explore import ExploreResult as ExploreResult
    from racekit.sched.explore import explore as explore
    from racekit.sched.explore import replay as replay
    from racekit.spec import BLOCKED as BLOCKED
    from racekit.spec import Outcomes as Outcomes
    from racekit.spec import Spec as Spec
    from racekit.testing import variant_tests as variant_tests
    from racekit.waits import WaitWatch as WaitWatch

__version__ = "0.2.0"

_WHERE = {
    "explore": "racekit.sched.explore",
    "explore_async": "racekit.aio.explore",
    "replay_async": "racekit.aio.explore",
    "replay": "racekit.sched.explore",
    "ExploreResult": "racekit.sched.explore",
    "System": "racekit.declarations",
    "Variant": "racekit.declarations",
    "Spec": "racekit.spec",
    "Outcomes": "racekit.spec",
    "BLOCKED": "racekit.spec",
    "History": "racekit.history",
    "HistoryRecorder": "racekit.history",
    "Operation": "racekit.history",
    "ConcurrentStateMachine": "racekit.machine",
    "quiescent_invariant": "racekit.machine",
    "variant_tests": "racekit.testing",
    "WaitWatch": "racekit.waits",
    "PROFILES": "racekit.profiles",
    "ProfileSettings": "racekit.profiles",
    "catalogue_root": "racekit.registry",
    "Result": "racekit.choice",
    "Coverage": "racekit.choice",
    "Draw": "racekit.choice",
    "search": "racekit.api",
    "run_scenario": "racekit.api",
    "every_schedule": "racekit.api",
    "first_failure": "racekit.api",
    "Phase": "racekit.engine",
    "Plan": "racekit.engine",
    "load_counterexample": "racekit.api",
    **{
        name: "racekit.models"
        for name in (
            "BlockingQueueSpec", "CasRegisterSpec", "CircuitBreakerSpec", "CounterSpec", "KVSpec", "MapSpec",
            "MultiRegisterSpec", "MutexSpec", "QueueSpec", "RegisterSpec", "SetSpec",
        )
    },
}
_RENAMED = {"check_history": ("racekit.linearizability", "check")}

__all__ = [
    "BLOCKED",
    "BlockingQueueSpec",
    "CasRegisterSpec",
    "CircuitBreakerSpec",
    "ConcurrentStateMachine",
    "CounterSpec",
    "Coverage",
    "Draw",
    "ExploreResult",
    "History",
    "HistoryRecorder",
    "KVSpec",
    "MapSpec",
    "MultiRegisterSpec",
    "MutexSpec",
    "Operation",
    "Outcomes",
    "PROFILES",
    "Phase",
    "Plan",
    "ProfileSettings",
    "QueueSpec",
    "RegisterSpec",
    "Result",
    "SetSpec",
    "Spec",
    "System",
    "Variant",
    "WaitWatch",
    "catalogue_root",
    "check_history",
    "every_schedule",
    "explore",
    "explore_async",
    "first_failure",
    "load_counterexample",
    "quiescent_invariant",
    "replay",
    "replay_async",
    "run_scenario",
    "search",
    "variant_tests",
]


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(importlib.import_module(module), attr)
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'racekit' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
