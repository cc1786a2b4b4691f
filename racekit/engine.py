"""The Engine protocol: what every kind of system gives the search.

An engine runs one scenario under one chooser and returns one
:class:`~racekit.choice.result.Result`.  Three engines implement it - threads
(:class:`racekit.machine.ConcurrentStateMachine`), the simulator
(:class:`racekit.sim.SimMachine`) and real processes
(:class:`racekit.crash.CrashMachine`) - and ``racekit check / explore /
replay / show`` and the pytest plugin speak only to it.  A system's
``Machine`` subclasses one of them and fills in three hooks, one vocabulary
for every kind:

* ``seed_scenarios(variant)`` - small scenarios explored exhaustively first;
* ``draw(variant, draw)`` - a generated scenario, from a :class:`Draw`;
* ``shrink(variant, scenario)`` - scenarios one step smaller, for minimizing.

A scenario is plain JSON-able data (operations per thread, a world
configuration and client scripts, requests), so it is saved as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from racekit.choice import Chooser, Draw, Result
from racekit.declarations import System, Variant
from racekit.profiles import ProfileSettings


class Session(Protocol):
    """Runs of one variant (a crash engine keeps a pool of worker processes here)."""

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        """One execution; ``detail``: record everything a trace needs (slower)."""


@dataclass(frozen=True)
class Phase:
    """One step of a search plan: a strategy, how many runs, on which scenarios.

    ``scenarios``: "seeds" (the engine's seed scenarios) or "drawn" (generated
    through the engine's ``draw`` hook); ``mode``: passed to the session
    ("free": real processes at full speed, kills at random instants);
    ``faults``: False draws scenarios without a fault budget (simulator);
    ``max_bound``: iterative bounding goes ``first_bound`` .. max_bound
    deviations, then unbounded unless ``unbounded`` is False.
    """

    strategy: str
    runs: int
    scenarios: Literal["seeds", "drawn"] = "seeds"
    mode: str = "step"
    faults: bool = True
    max_bound: int = 2
    unbounded: bool = True
    first_bound: int = 1


@dataclass(frozen=True)
class Plan:
    """How one profile searches one variant: phases in order, then minimizing.

    Minimizing: scenarios from ``shrink`` are kept while a search of
    ``shrink_runs`` runs (bounded to the current deviations when
    ``shrink_bounded``; a replay of the same choices when ``shrink_replays``)
    still finds the same property; then ``fewest_runs`` runs per bound look
    for fewer deviations; then ``choice_replays`` greedy replays.
    ``cross``: how a fixed sibling replays a broken variant's counterexample -
    "search" every schedule of its scenario (up to ``cross_runs`` runs and
    ``cross_bound`` deviations), or "lenient" replay of its choices.
    """

    phases: Sequence[Phase]
    shrink_runs: int = 200
    shrink_bounded: bool = False
    shrink_replays: bool = False
    fewest_runs: int = 3000
    choice_replays: int = 400
    hypothesis_shrink_runs: int = 40
    cross: Literal["search", "lenient"] = "search"
    cross_runs: int = 5000
    cross_bound: int | None = None
    rare: frozenset[str] = frozenset()
    rare_rate: float = 1 / 16
    free_repeats: int = 5
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """What a system's ``Machine`` is: its class object implements this (all
    hooks are classmethods; nothing is instantiated)."""

    system: ClassVar[System]
    engine: ClassVar[str]  # "threads", "sim", "crash": written into counterexamples
    inner: ClassVar[str]  # the exhaustive strategy iterative bounding drives ("dpor", "dfs")
    unit: ClassVar[str]  # what a deviation is, in coverage sentences

    def plan(self, variant: Variant, profile: ProfileSettings) -> Plan: ...

    def seed_scenarios(self, variant: Variant) -> list[Any]: ...

    def draw(self, variant: Variant, draw: Draw) -> Any: ...

    def shrink(self, variant: Variant, scenario: Any) -> Iterable[Any]: ...

    def session(self, variant: Variant) -> AbstractContextManager[Session]: ...

    def unavailable(self, variant: Variant) -> str | None: ...

    def size(self, scenario: Any) -> int:
        """Operations (or requests) in a scenario: the counterexample length measure."""
