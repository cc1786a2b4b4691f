"""Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010).

Each thread gets a random distinct priority; the highest-priority enabled
thread always runs.  At d-1 random steps (out of an estimate k of the run
length) the running thread's priority drops below every initial priority.
A bug of depth d is then found with probability at least 1/(n * k^(d-1))
per run, far better than uniform random scheduling for shallow bugs.
``pct_depth`` is d.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

from racekit.choice.chooser import View
from racekit.choice.coverage import Coverage
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Trial, register
from racekit.errors import RacekitError


class PCTChooser:
    def __init__(self, rng: random.Random, depth: int, k: int) -> None:
        self.rng = rng
        self.depth = depth
        self.priorities: dict[Hashable, float] = {}
        self.step = 0
        span = max(k, depth)
        # d-1 distinct change points in [1, k], the earliest gets the highest low priority
        points = sorted(rng.sample(range(1, span + 1), depth - 1))
        self.change_points = {s: depth - 1 - i for i, s in enumerate(points)}

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        self.step += 1
        for label in options:
            if label not in self.priorities:
                # initial priorities are all above the change-point priorities (< depth)
                self.priorities[label] = self.depth + self.rng.random()
        best = max(range(len(options)), key=lambda i: self.priorities[options[i]])
        low = self.change_points.get(self.step)
        if low is not None:
            self.priorities[options[best]] = low
            best = max(range(len(options)), key=lambda i: self.priorities[options[i]])
        return best


@register("pct", "probabilistic concurrency testing; knob pct_depth (bug depth d)", needs_view=True)
class PCTStrategy:
    name = "pct"

    def __init__(self, knobs: Knobs) -> None:
        if knobs.pct_depth < 1:
            raise RacekitError(f"pct_depth must be at least 1, not {knobs.pct_depth}")
        self.depth = knobs.pct_depth
        self.rng = random.Random(knobs.seed)
        self.k = 16  # run-length estimate, learned from observed runs
        self.runs = 0
        self.done = False

    def next_trial(self) -> Trial | None:
        if self.done:
            return None
        return Trial(PCTChooser(random.Random(self.rng.getrandbits(64)), self.depth, self.k))

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1
        self.k = max(self.k, result.steps)
        self.done = self.done or hit

    def coverage(self) -> Coverage:
        return Coverage.sampled(self.runs)

    def abandon(self, error: BaseException) -> bool:
        return False

    def close(self) -> None:
        pass
