"""Specs of TTL vs version-checked caches: two promises about how old a read may be.

Both are about *staleness*, measured on virtual time.  A read of ``key``
that started at ``start``, ended at ``end`` and returned ``v`` is fresh if
``v`` was the row's committed value at some instant of ``[start, end]``.
Otherwise it was already overwritten: ``v``'s last commit was current
during ``[committed, overwritten)`` with ``overwritten <= start``, and the
read's staleness is ``start - overwritten`` (the smallest over every commit
of ``v``).  A value never committed by then is infinitely stale.

* **never stale**: every read's staleness is 0 - for one register, the
  per-read half of linearizability (the version check is also checked for
  linearizability against :class:`specs.caching.CachedRegisterSpec`);
* **stale by at most TTL**: every read's staleness is ``<= TTL``.  This is
  a bounded-liveness property - "after a write, every read that starts TTL
  later sees it (or something newer)" - checked as an end-of-run property
  over the timed log, as the catalogue does until the spec layer's
  freshness properties land.

Both are also held to **a cache hit never reads the database**
(:func:`specs.caching.wasted_read`): a TTL cache serves an unexpired entry,
a version check serves an entry of the version the database then holds;
**every cached value carries its committed version**; and **a fill is
kept** (the reader's next read of the key finds a value).

The reads are timed by :class:`Timed`, a thin driver around the cache (the
scheduler's clock, outside the traced code).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit import sync
from specs.caching import (
    HIT,
    KEPT,
    TAGGED,
    CachedRegisterSpec,
    CommitLike,
    ReadsUncheckedSpec,
    current,
    forgotten_fill,
    mistagged,
    unexpired,
    wasted_read,
)


@dataclass(frozen=True)
class TimedRead:
    key: str
    start: float
    end: float
    value: int


@dataclass
class Timed:
    """The workload's view: ``read``/``update`` through the cache, timed; ``pause`` = think time."""

    app: Any
    reads: list[TimedRead] = field(default_factory=list)

    @property
    def cache(self) -> Any:
        return self.app.cache

    @property
    def db(self) -> Any:
        return self.app.db

    def read(self, key: str) -> int:
        start = sync.monotonic()
        value: int = self.app.read(key)
        self.reads.append(TimedRead(key, start, sync.monotonic(), value))
        return value

    def update(self, key: str, value: int) -> str:
        result: str = self.app.update(key, value)
        return result

    def pause(self, seconds: float) -> None:
        sync.sleep(seconds)


def staleness(read: TimedRead, commits: Sequence[CommitLike]) -> float:
    """How long before the read started its value had already been overwritten (0: fresh).

    post: __return__ >= 0
    """
    return _age(read, commits)[0]


def _age(read: TimedRead, commits: Sequence[CommitLike]) -> tuple[float, CommitLike | None]:
    """The read's staleness, and the commit that first overwrote the value it returned."""
    mine = sorted((c for c in commits if c.key == read.key), key=lambda c: c.version)
    best: tuple[float, CommitLike | None] = (math.inf, None)
    for i, c in enumerate(mine):
        if c.value != read.value or c.at > read.end:
            continue
        nxt = mine[i + 1] if i + 1 < len(mine) else None
        age = max(0.0, read.start - nxt.at) if nxt is not None else 0.0
        if age < best[0]:
            best = (age, nxt if age > 0 else None)
    return best


def stalest(reads: Sequence[TimedRead], commits: Sequence[CommitLike]) -> tuple[float, TimedRead | None]:
    """The stalest read (None when every read was fresh)."""
    worst: tuple[float, TimedRead | None] = (0.0, None)
    for r in reads:
        age = staleness(r, commits)
        if age > worst[0]:
            worst = (age, r)
    return worst


def _describe(read: TimedRead, commits: Sequence[CommitLike]) -> str:
    age, by = _age(read, commits)
    if math.isinf(age):
        return f"read({read.key!r}) at {read.start:g}s returned {read.value}, which was never committed"
    over = f": {read.key}={by.value} was committed at {by.at:g}s" if by is not None else ""
    return f"read({read.key!r}) at {read.start:g}s returned {read.value}, {age:g}s stale{over}"


def stale_read(reads: Sequence[TimedRead], commits: Sequence[CommitLike]) -> str | None:
    """Never stale: every read returned a value current at some instant of the read."""
    _, read = stalest(reads, commits)
    return None if read is None else _describe(read, commits)


def older_than(ttl: float, reads: Sequence[TimedRead], commits: Sequence[CommitLike]) -> str | None:
    """Stale by at most ``ttl``: every read saw a value overwritten no more than ``ttl`` before it began."""
    age, read = stalest(reads, commits)
    if read is None or age <= ttl:
        return None
    return _describe(read, commits) + f" - more than the TTL of {ttl:g}s"


__all__ = [
    "HIT",
    "KEPT",
    "TAGGED",
    "CachedRegisterSpec",
    "ReadsUncheckedSpec",
    "Timed",
    "TimedRead",
    "current",
    "forgotten_fill",
    "mistagged",
    "older_than",
    "stale_read",
    "staleness",
    "unexpired",
    "wasted_read",
]
