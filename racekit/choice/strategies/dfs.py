"""Prefix depth-first search: every choice sequence of one scenario, in order.

Stateless model checking: each run follows a prefix of answers, then
answers 0; the next prefix is the recorded path with its deepest
not-yet-exhausted decision incremented.  Works on every engine (it needs
nothing but the answers).  With ``bound`` it runs only schedules with at
most that many deviations (CHESS's preemption bounding): complete within
the bound, so its coverage says "all N schedules with at most k ...".
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from racekit.choice.chooser import View, is_deviation
from racekit.choice.coverage import Coverage
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Trial, register
from racekit.errors import ReplayDivergence


@dataclass
class _Decision:
    arity: int
    chosen: int
    costly: bool  # would a non-zero answer here be a deviation?


class PrefixChooser:
    """Follows ``prefix``, then 0; records every real decision."""

    def __init__(self, prefix: Sequence[int]) -> None:
        self.prefix = list(prefix)
        self.path: list[_Decision] = []

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        n = len(options)
        if n == 1:
            return 0
        pos = len(self.path)
        index = self.prefix[pos] if pos < len(self.prefix) else 0
        if index >= n:
            raise ReplayDivergence(
                f"DFS prefix answer {index} out of {n} {kind} options: the code under test is not deterministic"
            )
        self.path.append(_Decision(n, index, is_deviation(options, 1, view)))
        return index


@register("dfs", "exhaustive depth-first search over answers; knob bound (deviations)")
class DFSStrategy:
    name = "dfs"

    def __init__(self, knobs: Knobs) -> None:
        self.bound = knobs.bound
        self.unit = knobs.unit
        self.prefix: list[int] | None = []
        self.chooser: PrefixChooser | None = None
        self.runs = 0
        self.done = False
        self.cut = False  # a branch was skipped because of the bound

    def next_trial(self) -> Trial | None:
        if self.done or self.prefix is None:
            return None
        self.chooser = PrefixChooser(self.prefix)
        return Trial(self.chooser)

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1
        if hit:
            self.done = True
            return
        assert self.chooser is not None
        self.prefix = self._next(self.chooser.path)

    def _next(self, path: list[_Decision]) -> list[int] | None:
        """The next branch in DFS order within the bound, or None."""
        used = [0]
        for d in path:
            used.append(used[-1] + (d.costly and d.chosen != 0))
        for depth in range(len(path) - 1, -1, -1):
            d = path[depth]
            if d.chosen + 1 >= d.arity:
                continue
            if self.bound is not None and d.costly and used[depth] + 1 > self.bound:
                self.cut = True
                continue
            return [x.chosen for x in path[:depth]] + [d.chosen + 1]
        return None

    def coverage(self) -> Coverage:
        if self.prefix is not None or self.done:
            return Coverage.sampled(self.runs)
        if self.bound is not None and self.cut:
            return Coverage("bounded", self.runs, self.bound, self.unit)
        return Coverage("exhaustive", self.runs)

    def abandon(self, error: BaseException) -> bool:
        return False

    def close(self) -> None:
        pass
