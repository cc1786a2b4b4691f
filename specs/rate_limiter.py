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

The limiter must also not refuse for nothing (``unjustified_deny``): a 429
is only allowed when the user really had ``limit`` admissions in the window
before it (the strong owner's log is exact on its monotonic clock), or - for
the approximate variant, whose peer counts lag - within a window widened by
the gossip lag, or right after an admission at the same instance (its
per-report burst cap).  And a refusal without a decision (``unavailable``)
or no answer at all is only allowed in a run with faults (``unanswered``).
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


def unjustified_deny(
    denials: Iterable[tuple[str, int, str]],
    admissions: Iterable[tuple[str, int, str]],
    window_ms: int,
    limit: int,
    burst_ms: int | None = None,
) -> str | None:
    """A message for the first denial ``(user, t, node)`` nothing justifies.

    Justified: at least ``limit`` admissions of the user in ``(t - window_ms, t]``,
    or (``burst_ms`` given) one admission of the user at the same node in
    ``(t - burst_ms, t]``.
    """
    admitted = sorted(admissions, key=lambda a: a[1])
    for user, t, node in sorted(denials, key=lambda d: d[1]):
        recent = [a for a in admitted if a[0] == user and t - window_ms < a[1] <= t]
        if len(recent) >= limit:
            continue
        if burst_ms is not None and any(a[2] == node and a[1] > t - burst_ms for a in recent):
            continue
        return (
            f"{node} refused {user} at {t} ms with only {len(recent)} admission(s) in ({t - window_ms}, {t}]; "
            f"the limit is {limit}"
        )
    return None


def unanswered(operations: Iterable[Any], refusal: Any) -> str | None:
    """In a run without faults every hit is answered with a decision (history operations)."""
    for op in operations:
        if op.status != "ok" or op.result == refusal:
            got = "no answer" if op.status != "ok" else repr(op.result)
            return f"{op.call_repr()} by {op.process} got {got} in a run without a fault that could explain it"
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
