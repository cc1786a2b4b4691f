"""Seeded random runs: uniform for orders, rare for faults and kills.

Run ``i`` gets its own ``random.Random(f"racekit/{seed}/{i}")``, shared by
the scenario draw and the chooser, so any run can be reproduced alone.
Faults are rare on purpose: a fault decision is offered at every step
while the budget lasts, so a uniform answer would spend the whole fault
budget in the first few steps.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

from racekit.choice.chooser import View
from racekit.choice.coverage import Coverage
from racekit.choice.draw import RandomDraw
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Trial, register


class RandomChooser:
    def __init__(self, rng: random.Random, rare: frozenset[str] = frozenset(), rate: float = 1 / 16) -> None:
        self.rng = rng
        self.rare = rare
        self.rate = rate

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        n = len(options)
        if n == 1:
            return 0
        if kind in self.rare:
            return 0 if self.rng.random() >= self.rate else self.rng.randrange(1, n)
        return self.rng.randrange(n)


@register("random", "uniformly random schedules (rare faults), new scenario each run")
class RandomStrategy:
    name = "random"

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.runs = 0
        self.done = False

    def next_trial(self) -> Trial | None:
        if self.done:
            return None
        rng = random.Random(f"racekit/{self.knobs.seed}/{self.runs}")
        return Trial(RandomChooser(rng, self.knobs.rare, self.knobs.rare_rate), RandomDraw(rng))

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1
        self.done = self.done or hit

    def coverage(self) -> Coverage:
        return Coverage.sampled(self.runs)

    def abandon(self, error: BaseException) -> bool:
        return False

    def close(self) -> None:
        pass
