"""Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010).

Each thread gets a random distinct priority; the highest-priority enabled
thread always runs.  At d-1 random steps (out of an estimate k of the run
length) the running thread's priority drops below every initial priority.  A
bug of depth d is then found with probability at least 1/(n * k^(d-1)) per
run, far better than uniform random scheduling for shallow bugs.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

from racekit.sched.chooser import Chooser
from racekit.sched.runtime import Execution, RunResult


class PCTChooser:
    def __init__(self, rng: random.Random, depth: int, k: int) -> None:
        self.rng = rng
        self.depth = depth
        self.priorities: dict[Hashable, float] = {}
        self.step = 0
        # change points: d-1 distinct steps in [1, k]
        span = max(k, depth)
        self.change_points = dict(
            (s, depth - 1 - i) for i, s in enumerate(sorted(rng.sample(range(1, span + 1), depth - 1)))
        )

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        self.step += 1
        for tid in options:
            if tid not in self.priorities:
                # initial priorities are all above the change-point priorities (< depth)
                self.priorities[tid] = self.depth + self.rng.random()
        best = max(range(len(options)), key=lambda i: self.priorities[options[i]])
        low = self.change_points.get(self.step)
        if low is not None:
            self.priorities[options[best]] = low
            best = max(range(len(options)), key=lambda i: self.priorities[options[i]])
        return best


class PCTStrategy:
    name = "pct"

    def __init__(self, depth: int = 3, seed: int = 0) -> None:
        if depth < 1:
            raise ValueError("PCT depth must be >= 1")
        self.depth = depth
        self.rng = random.Random(seed)
        self.k = 16  # run-length estimate, learned from observed runs

    def next_chooser(self) -> Chooser | None:
        return PCTChooser(random.Random(self.rng.getrandbits(64)), self.depth, self.k)

    def attach(self, execution: Execution) -> None:
        pass

    def observe(self, result: RunResult) -> None:
        self.k = max(self.k, len(result.steps))
