"""Spec and environment for the cache with a background rebuilder (seed project 3).

Environment:

* :class:`VersionedDB` - the source of truth.  ``write(key)`` makes a new
  version of a key at once; ``load(key)`` reads the current version when it
  starts, then takes ``delays[i % len(delays)]`` seconds (the i-th load:
  by default 0.3 s, 0.1 s, 0.3 s, ... - a cold page, then a warm one), and
  returns ``(key, version)``.  Every load is logged and runs inside
  ``region("load")`` of a :class:`racekit.waits.WaitWatch`.
* :class:`App` - the workload: ``get(key)`` reads through the cache inside
  ``region("read")``; ``update(key)`` writes the DB and tells the cache the
  key is stale as of the new version; ``pause(s)`` is think time.

Spec (``App``'s operations): the DB's versions per key; ``update`` makes the
next one; ``get`` may return any version already written - reads are
eventually consistent, never from the future.  Monotonicity is deliberately
*not* in the spec: "versions never go backwards" is its own invariant below,
checked on the history (a read that returned before another started must
not have seen a newer version).

Invariants: "readers never wait on a load" (the WaitWatch trace check),
"at most one load per key per staleness" (no two loads of one key read the
same DB version), "versions never go backwards".
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from racekit import History, Outcomes, Spec, WaitWatch, sync


@dataclass
class LoadRecord:
    key: str
    version: int
    start: float
    end: float | None = None


class VersionedDB:
    """Versions per key; slow, logged loads."""

    def __init__(self, keys: Iterable[str] = ("a", "b"), delays: Sequence[float] = (0.3, 0.1)) -> None:
        self.versions = {k: 0 for k in keys}
        self.delays = tuple(delays)
        self.loads: list[LoadRecord] = []
        self.watch = WaitWatch(waiter="read", holder="load")
        self._mutex = threading.Lock()  # real threads only; never contended under control

    def write(self, key: str) -> int:
        with self._mutex:
            self.versions[key] += 1
            return self.versions[key]

    def load(self, key: str) -> tuple[str, int]:
        with self.watch.region("load", f"load({key!r})"):
            with self._mutex:
                version = self.versions[key]
                delay = self.delays[len(self.loads) % len(self.delays)]
                record = LoadRecord(key, version, sync.monotonic())
                self.loads.append(record)
            sync.sleep(delay)
            record.end = sync.monotonic()
            return (key, version)


class App:
    """Readers and writers around one cache and its DB."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.db: VersionedDB = cache.db

    def get(self, key: str) -> Any:
        with self.db.watch.region("read", f"get({key!r})"):
            return self.cache.get(key)

    def update(self, key: str) -> None:
        version = self.db.write(key)
        self.cache.invalidate(key, version)

    def pause(self, seconds: float) -> None:
        sync.sleep(seconds)


def bump(state: tuple[tuple[str, int], ...], key: str) -> tuple[tuple[str, int], ...]:
    """The DB after a write of ``key``.

    pre: any(k == key for k, _ in state)
    pre: len({k for k, _ in state}) == len(state)
    post: dict(__return__)[key] == dict(state)[key] + 1
    post: all(v == dict(state)[k] for k, v in __return__ if k != key)
    """
    return tuple((k, v + 1 if k == key else v) for k, v in state)


class EventuallyConsistentCacheSpec(Spec):
    """``get(key) -> (key, v)`` with ``v`` any version written so far; ``update``, ``pause``."""

    name: ClassVar[str] = "eventually-consistent-cache"

    def __init__(self, keys: Iterable[str] = ("a", "b")) -> None:
        self.keys = tuple(sorted(keys))

    def init(self) -> Hashable:
        return tuple((k, 0) for k in self.keys)

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "update":
            return bump(state, args[0]), None
        if name == "pause":
            return state, None
        if name == "get":
            key = args[0]
            return Outcomes(tuple((state, (key, v)) for v in range(dict(state)[key] + 1)))
        raise ValueError(f"cache spec has no operation {name!r}")

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return name in ("get", "pause")


# --------------------------------------------------------------- invariants
def duplicate_loads(loads: Sequence[LoadRecord]) -> str | None:
    """Two loads of one key that read the same version: one staleness, two loads.

    post: __return__ is None or "loaded" in __return__
    """
    seen: dict[tuple[str, int], int] = {}
    for r in loads:
        seen[r.key, r.version] = seen.get((r.key, r.version), 0) + 1
    dups = sorted((k, v, n) for (k, v), n in seen.items() if n > 1)
    if not dups:
        return None
    return "; ".join(f"version {v} of {k!r} loaded {n} times" for k, v, n in dups)


def versions_backwards(history: History) -> str | None:
    """A read that returned before another read of the same key began, and saw a newer version."""
    gets = [op for op in history if op.name == "get" and op.status == "ok" and isinstance(op.result, tuple)]
    for a in gets:
        for b in gets:
            if a.args == b.args and a.precedes(b) and b.result[1] < a.result[1]:
                return (
                    f"get({a.args[0]!r}) returned version {a.result[1]}, then a later "
                    f"get({b.args[0]!r}) returned version {b.result[1]}"
                )
    return None
