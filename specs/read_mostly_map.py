"""Sequential spec of a map with consistent snapshots.

State: a frozenset of ``(key, value)`` pairs.  ``get(k)`` returns the value
or ``None``; ``put(k, v)`` and ``remove(k)`` return ``None``; ``items()``
returns every pair, sorted - one consistent version, which is what a
copy-on-write snapshot promises and what "no lost write" is checked on (the
final ``items()`` after every operation returned).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from racekit import Spec

Pairs = frozenset[tuple[str, int]]


def map_put(state: Pairs, key: str, value: int) -> Pairs:
    """post: (key, value) in __return__
    post: all(k != key for k, _ in __return__ - {(key, value)})
    post: {p for p in state if p[0] != key} == {p for p in __return__ if p[0] != key}
    """
    return frozenset({p for p in state if p[0] != key} | {(key, value)})


def map_remove(state: Pairs, key: str) -> Pairs:
    """post: all(k != key for k, _ in __return__)
    post: __return__ <= state
    """
    return frozenset(p for p in state if p[0] != key)


def snapshot(state: Pairs) -> tuple[tuple[str, int], ...]:
    """post: len(__return__) == len(state)
    post: list(__return__) == sorted(__return__)
    """
    return tuple(sorted(state))


class SnapshotMapSpec(Spec):
    """``get``, ``put``, ``remove``, ``items`` (sorted snapshot)."""

    name: ClassVar[str] = "snapshot-map"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "get":
            return state, dict(state).get(args[0])
        if name == "items":
            return state, snapshot(state)
        if name == "put":
            return map_put(state, args[0], args[1]), None
        if name == "remove":
            return map_remove(state, args[0]), None
        raise ValueError(f"map spec has no operation {name!r}")

    def describe_state(self, state: Hashable) -> str:
        assert isinstance(state, frozenset)
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sorted(state)) + "}"

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return name in ("get", "items")
