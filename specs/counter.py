"""Sequential spec of a counter: ``increment()`` adds one, ``get()`` reads.

The model is the integer itself.  Pure functions with contracts that
``crosshair check`` can verify (PEP 316 docstrings).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from racekit import Spec


def after_increment(value: int) -> int:
    """
    pre: value >= 0
    post: __return__ == value + 1
    """
    return value + 1


class CounterSpec(Spec):
    """A counter starting at 0: ``increment() -> None``, ``get() -> int``."""

    name: ClassVar[str] = "counter"

    def init(self) -> Hashable:
        return 0

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "increment":
            return after_increment(state), None
        if name == "get":
            return state, state
        raise ValueError(f"counter spec has no operation {name!r}")


def exact_total(value: int, completed_increments: int) -> bool:
    """Invariant at quiescence: nothing lost, nothing invented.

    post: __return__ == (value == completed_increments)
    """
    return value == completed_increments
