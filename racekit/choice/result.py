"""The one result type: what one run, or one whole search, of a variant found.

Every engine returns it from ``run``; the search returns it too, with the
search's statistics and coverage.  Everything saved is plain JSON-able data;
the feedback fields at the end (``path``, ``events``, ...) are for the
strategies that steer the next run and are never saved.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.choice.chooser import ChoicePoint
from racekit.choice.coverage import Coverage


@dataclass
class Result:
    """``failed`` with ``kind`` in assertion / invariant / linearizability /
    deadlock / livelock / exception / timeout; ``property`` names the
    catalogue property that was violated."""

    failed: bool
    kind: str | None = None
    property: str | None = None
    message: str = ""
    engine: str = ""
    scenario: Any = None
    choices: list[int] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] | None = None
    explanation: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    coverage: Coverage | None = None
    notes: list[str] = field(default_factory=list)
    # ---- feedback for strategies, never saved
    path: list[ChoicePoint] = field(default_factory=list, repr=False)
    steps: int = 0
    pruned: bool = False  # cut short: equivalent to a run already seen (DPOR sleep sets)
    events: Sequence[Any] = field(default_factory=tuple, repr=False)
    unfinished: Mapping[Any, Any] = field(default_factory=dict, repr=False)
    state: Any = field(default=None, repr=False)  # the engine's final state, for tests
    # Vacuity (see racekit.choice.coverage): how many actors (threads) ran,
    # and how many steps touched state another could see; None: the engine
    # does not count them.
    actors: int = 0
    shared_points: int | None = None

    @builtins.property  # the field ``property`` shadows the builtin here
    def deviations(self) -> int:
        return sum(1 for p in self.path if p.deviation)
