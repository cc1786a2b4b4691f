"""What a per-user rate limiter promises.

The checked property is over *admission instants* (ghost notes taken where
the decision is made, in true simulated time): for every user and every
interval ``[t, t + window)``, the number of admissions is at most the
bound - ``limit`` for the strong variants, ``approx_bound`` (limit x (1 + e))
for the approximate one.  Sliding intervals, not fixed ones: a fixed-window
limiter that lets 2 x limit through across a boundary is exactly the bug.

``WindowSpec`` is the sequential model for traffic inside a single window:
``hit`` is admitted while fewer than ``limit`` were admitted; a client
history whose hits all fall within one window must be linearizable against
it (the strong variant's claim; checked in the stateful test).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, ClassVar

from racekit import Spec


def worst_window(times: Iterable[int], window_ms: int) -> tuple[int, int]:
    """(most admissions in any ``[t, t + window_ms)``, the t where it happens)."""
    ordered = sorted(times)
    best, at, lo = 0, 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - window_ms:
            lo += 1
        if hi - lo + 1 > best:
            best, at = hi - lo + 1, ordered[lo]
    return best, at


def over_limit(admissions: Iterable[tuple[str, int]], window_ms: int, bound: int) -> str | None:
    """A message for the first user admitted more than ``bound`` times in one window."""
    per_user: dict[str, list[int]] = {}
    for user, t in admissions:
        per_user.setdefault(user, []).append(t)
    for user in sorted(per_user):
        most, at = worst_window(per_user[user], window_ms)
        if most > bound:
            return f"{user} admitted {most} times in [{at}, {at + window_ms}) ms; the bound is {bound}"
    return None


class WindowSpec(Spec):
    """Within one window: ``hit(user)`` -> True while fewer than ``limit`` admitted."""

    name: ClassVar[str] = "rate_window"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def init(self) -> Hashable:
        return 0

    def step(self, state: Hashable, name: str, args: tuple[Any, ...]) -> Any:
        assert isinstance(state, int)
        if state < self.limit:
            return state + 1, True
        return state, False

    def partition_key(self, name: str, args: tuple[Any, ...]) -> Hashable | None:
        user: Hashable = args[0]
        return user
