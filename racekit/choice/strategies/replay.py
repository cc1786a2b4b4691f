"""One run under a recorded choice list (answers past its end are 0)."""

from __future__ import annotations

from racekit.choice.chooser import Replay
from racekit.choice.coverage import Coverage
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Trial, register


@register("replay", "one run of a recorded choice list (knob: choices)")
class ReplayStrategy:
    name = "replay"

    def __init__(self, knobs: Knobs) -> None:
        self.choices = list(knobs.choices)
        self.runs = 0

    def next_trial(self) -> Trial | None:
        return None if self.runs else Trial(Replay(self.choices))

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1

    def coverage(self) -> Coverage:
        return Coverage.sampled(self.runs)

    def abandon(self, error: BaseException) -> bool:
        return False

    def close(self) -> None:
        pass
