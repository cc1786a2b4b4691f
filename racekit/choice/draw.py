"""Sources of small values for building scenarios: one generator, every explorer.

An engine's ``draw(variant, draw)`` hook builds a scenario (a workload, a
world configuration) from a :class:`Draw`, so the same code serves
Hypothesis (which shrinks what it drew), seeded random search, and the
all-minimum draw that gives the simplest scenario a generator can make.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, TypeVar

from racekit.errors import InvalidDefinition

T = TypeVar("T")


class Draw:
    """Subclasses give :meth:`integer`; the rest builds on it."""

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def boolean(self) -> bool:
        return self.integer(0, 1) == 1

    def pick(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def value(self, strategy: Any) -> Any:
        """A value from a Hypothesis strategy (only Hypothesis draws can)."""
        raise InvalidDefinition(
            f"{type(self).__name__} cannot draw from Hypothesis strategy {strategy!r}; "
            "build the scenario with integer()/pick()/boolean()"
        )


class RandomDraw(Draw):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


class HypothesisDraw(Draw):
    """Draws from a Hypothesis ``data`` object, so Hypothesis shrinks the scenario."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        from hypothesis import strategies as st

        return int(self.data.draw(st.integers(lo, hi)))

    def value(self, strategy: Any) -> Any:
        return self.data.draw(strategy)


class MinimalDraw(Draw):
    """Always the lowest value: the simplest scenario a generator can make."""

    def integer(self, lo: int, hi: int) -> int:
        return lo
