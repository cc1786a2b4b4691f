"""Hypothesis as a strategy: it draws the scenario and every answer, then shrinks both.

Hypothesis owns its loop (it calls the test function), so it runs in a
greenlet of its own and its test function hands each run's trial to the
core loop (:func:`racekit.choice.strategy.drive`) and waits for the result:
the loop, not Hypothesis, runs the engine, exactly as for every other
strategy.  The last failing run is the smallest (Hypothesis only tries
candidates smaller than its current best), so the loop keeps the last hit.
Shrinking stops after ``shrink_runs`` runs past the first failure - a count,
not a time, so the result does not depend on the machine's speed; the
greenlet is then unwound and the minimizer continues from the best so far.

A decision of a kind listed in ``rare`` (faults, kills) is two draws: a gate
that shrinks toward "no", then which one.  After ``max_draws`` draws every
answer is 0, which keeps very long runs inside Hypothesis' buffer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Sequence
from typing import Any

import greenlet

from racekit.choice.chooser import View
from racekit.choice.coverage import Coverage
from racekit.choice.draw import HypothesisDraw
from racekit.choice.hypothesis_settings import search_settings
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Trial, register


class DataChooser:
    def __init__(self, data: Any, rare: frozenset[str] = frozenset(), gate: int = 16, max_draws: int = 4000) -> None:
        self.data = data
        self.rare = rare
        self.gate = gate
        self.max_draws = max_draws
        self.draws = 0

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        from hypothesis import strategies as st

        n = len(options)
        if n == 1 or self.draws >= self.max_draws:
            return 0
        self.draws += 1
        if kind in self.rare:
            if self.data.draw(st.integers(0, self.gate - 1)) != self.gate - 1:
                return 0
            return int(self.data.draw(st.integers(1, n - 1)))
        return int(self.data.draw(st.integers(0, n - 1)))


class _Hit(Exception):
    """Raised in the test function so Hypothesis sees a failure to shrink."""


@register("hypothesis", "Hypothesis draws scenario and answers, then shrinks both; knob shrink_runs")
class HypothesisStrategy:
    name = "hypothesis"

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.budget = knobs.examples
        self._last_hit = False
        self._pending: Any = None
        self.runs = 0
        self.first_hit: int | None = None
        self.glet: Any = None
        self.finished = False

    def _main(self) -> None:
        from hypothesis import given
        from hypothesis import strategies as st

        gate = max(2, round(1 / self.knobs.rare_rate))

        @search_settings(self.budget)  # type: ignore[untyped-decorator]
        @given(st.data())
        def test(data: Any) -> None:
            trial = Trial(DataChooser(data, self.knobs.rare, gate), HypothesisDraw(data))
            hit = self.glet.parent.switch(trial)
            if hit:
                raise _Hit()

        with contextlib.suppress(_Hit):
            test()

    def next_trial(self) -> Trial | None:
        if self.finished:
            return None
        if self._pending is not None:
            trial, self._pending = self._pending, None
        elif self.glet is None:
            self.glet = greenlet.greenlet(self._main)
            trial = self.glet.switch()
        else:
            trial = self.glet.switch(self._last_hit)
        if self.glet.dead:
            self.finished = True
            return None
        assert isinstance(trial, Trial)
        return trial

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1
        self._last_hit = hit
        if hit and self.first_hit is None:
            self.first_hit = self.runs
        if self.first_hit is not None and self.runs - self.first_hit >= self.knobs.shrink_runs:
            # enough shrinking: unwind Hypothesis; the minimizer takes over
            self.finished = True
            self.glet.throw()

    def coverage(self) -> Coverage:
        return Coverage.sampled(self.runs)

    def close(self) -> None:
        """Unwind Hypothesis if it still waits for a run (budget spent, Ctrl-C)."""
        if self.glet is not None and not self.glet.dead:
            self.finished = True
            self.glet.throw()

    def abandon(self, error: BaseException) -> bool:
        """Hypothesis ends a run from inside a draw (buffer overrun, a frozen
        example): hand the exception back to Hypothesis, where it belongs."""
        if self.glet is None or self.glet.dead or not type(error).__module__.startswith("hypothesis"):
            return False
        self._pending = self.glet.throw(error)
        return True
