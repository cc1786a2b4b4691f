"""Uniformly random schedules from one seeded ``random.Random``."""

from __future__ import annotations

import random

from racekit.sched.chooser import Chooser, RandomChooser
from racekit.sched.runtime import Execution, RunResult


class RandomStrategy:
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def next_chooser(self) -> Chooser | None:
        return RandomChooser(rng=random.Random(self.rng.getrandbits(64)))

    def attach(self, execution: Execution) -> None:
        pass

    def observe(self, result: RunResult) -> None:
        pass
