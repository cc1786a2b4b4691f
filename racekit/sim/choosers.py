"""Choosers and scenario draws used by the simulator's explorers.

Every explorer is the same loop with a different chooser: seeded random
(:class:`WeightedRandomChooser`), Hypothesis (:class:`DataChooser`, whose
draws Hypothesis shrinks), and exhaustive DFS (:class:`DFSChooser`).  The
world never knows which one it talks to.

Faults are rare on purpose: a "fault" decision is offered at every step
while the budget lasts, so a uniform choice would spend the whole budget in
the first few steps.  Both random choosers inject a fault with probability
``fault_rate`` per offer, spreading faults over the run.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


class WeightedRandomChooser:
    """Seeded random: uniform for orders and sizes, rare for faults."""

    def __init__(self, rng: random.Random, fault_rate: float = 1 / 16) -> None:
        self.rng = rng
        self.fault_rate = fault_rate

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        n = len(options)
        if n == 1:
            return 0
        if kind == "fault":
            return 0 if self.rng.random() >= self.fault_rate else self.rng.randrange(1, n)
        return self.rng.randrange(n)


class DataChooser:
    """Draws every choice from a Hypothesis ``data`` object, so Hypothesis shrinks it.

    A fault is two draws: a gate that shrinks toward "no fault", then which
    one.  After ``max_draws`` draws every answer is 0 (boring), which keeps
    very long runs inside Hypothesis' buffer.
    """

    def __init__(self, data: Any, fault_gate: int = 16, max_draws: int = 4000) -> None:
        self.data = data
        self.fault_gate = fault_gate
        self.max_draws = max_draws
        self.draws = 0

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        n = len(options)
        if n == 1 or self.draws >= self.max_draws:
            return 0
        self.draws += 1
        if kind == "fault":
            gate = self.data.draw(st.integers(0, self.fault_gate - 1))
            if gate != self.fault_gate - 1:
                return 0
            return int(self.data.draw(st.integers(1, n - 1)))
        return int(self.data.draw(st.integers(0, n - 1)))


class DFSChooser:
    """Follows ``prefix``, then always 0; records (arity, chosen) of every real choice.

    Exhaustive search re-executes from the start for each branch (stateless
    model checking): the next prefix is the recorded path with its deepest
    not-yet-exhausted choice incremented.
    """

    def __init__(self, prefix: Sequence[int]) -> None:
        self.prefix = list(prefix)
        self.path: list[tuple[int, int]] = []

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        n = len(options)
        if n == 1:
            return 0
        pos = len(self.path)
        index = self.prefix[pos] if pos < len(self.prefix) else 0
        if index >= n:  # pragma: no cover - the tree changed under us: a nondeterministic world
            raise RuntimeError(f"DFS prefix choice {index} out of {n} {kind} options: world is not deterministic")
        self.path.append((n, index))
        return index

    @property
    def beyond_prefix(self) -> bool:
        return len(self.path) >= len(self.prefix)

    def next_prefix(self) -> list[int] | None:
        """The next branch in DFS order, or None when the tree is exhausted."""
        for depth in range(len(self.path) - 1, -1, -1):
            arity, chosen = self.path[depth]
            if chosen + 1 < arity:
                return [c for _, c in self.path[:depth]] + [chosen + 1]
        return None


class LenientReplayChooser:
    """Replays a choice list recorded on *another* variant: out-of-range answers wrap.

    A fixed variant may offer fewer options where the broken one offered
    more (it sends fewer messages, say).  Strict replay would stop with a
    divergence; cross-variant replay instead folds the index into range and
    counts how often it had to.
    """

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = list(choices)
        self.pos = 0
        self.divergences = 0

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        n = len(options)
        if n == 1:
            return 0
        if self.pos >= len(self.choices):
            return 0
        index = self.choices[self.pos]
        self.pos += 1
        if index >= n:
            self.divergences += 1
            index %= n
        return index


# ---------------------------------------------------------------------------
# Scenario draws: how a machine builds a workload from any explorer


class Draw:
    """A source of small integers for building scenarios (workloads, world configs).

    Subclasses give ``integer``; the helpers build on it so a scenario
    generator is written once and works with Hypothesis (shrinkable),
    seeded random, and the all-minimum draw used for default scenarios.
    """

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def boolean(self) -> bool:
        return self.integer(0, 1) == 1

    def pick(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]


class RandomDraw(Draw):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


class HypothesisDraw(Draw):
    def __init__(self, data: Any) -> None:
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        return int(self.data.draw(st.integers(lo, hi)))


class MinimalDraw(Draw):
    """Always the lowest value: the simplest scenario a generator can make."""

    def integer(self, lo: int, hi: int) -> int:
        return lo
