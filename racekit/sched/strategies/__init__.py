"""Exploration strategies: one small module each, all behind one interface.

A :class:`Strategy` hands out one :class:`~racekit.sched.chooser.Chooser` per
execution and is told how the execution went.  The explore loop
(:mod:`racekit.sched.explore`) knows nothing else about them.
"""

from __future__ import annotations

from typing import Protocol

from racekit.sched.chooser import Chooser
from racekit.sched.runtime import Execution, RunResult, SleepBlocked

__all__ = ["SleepBlocked", "Strategy"]


class Strategy(Protocol):
    name: str

    def next_chooser(self) -> Chooser | None:
        """A chooser for the next execution, or None when exploration is complete."""

    def attach(self, execution: Execution) -> None:
        """Called once the execution for the last chooser exists."""

    def observe(self, result: RunResult) -> None:
        """Feedback: how the execution driven by the last chooser ended."""
