"""Choices drawn from a Hypothesis ``data`` object, so Hypothesis can shrink them.

Every choice is an integer in ``[0, n)`` and shrinks toward 0, the boring
option: a shrunk schedule has the fewest preemptions and faults.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from hypothesis import strategies as st


class HypothesisChooser:
    def __init__(self, data: Any, label: str = "choice") -> None:
        self.data = data
        self.label = label
        self._ints: dict[int, Any] = {}

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        n = len(options)
        if n == 1:
            return 0
        strat = self._ints.get(n)
        if strat is None:
            strat = self._ints[n] = st.integers(0, n - 1)
        value: int = self.data.draw(strat)
        return value
