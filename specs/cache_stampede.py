"""Spec and environment for the cache stampede.

The environment: :class:`SlowOrigin`, the slow backend every cache variant
fronts.  ``load(key)`` takes ``delay`` seconds (``racekit.sync.sleep``: virtual
time under the scheduler, real time in benchmarks) and returns ``(key, n)``,
the n-th version of the key.  It records every call's start and end, which is
what the property "one loader call per key per expiry" is checked on.  It
lives here, outside the traced system module, because it is the test's
window on the world, not code under test.

The spec: ``get(key)`` returns *some* version of that key - a value, never
``None`` or an error ("every reader gets a value") - and versions of a key
never go backwards in linearization order.  The state maps each key to the
highest version returned so far; a step may return any version from there
up to ``MAX_VERSION`` (nondeterministic: loads happen inside gets and the
spec does not model when).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from racekit import Outcomes, Spec, sync

MAX_VERSION = 8


@dataclass
class Load:
    key: str
    start: float
    end: float | None = None


class SlowOrigin:
    """A backend whose loads are slow and counted."""

    def __init__(self, delay: float = 0.1, connections: int | None = None) -> None:
        self.delay = delay
        # A backend serves at most ``connections`` loads at a time (a DB pool);
        # the benchmark sets it, the model-checking tests do not need it.
        self.pool = sync.Semaphore(connections) if connections else None
        self.loads: list[Load] = []
        self.versions: dict[str, int] = {}
        self._mutex = threading.Lock()  # real-thread benchmarks only; never blocks under control

    def load(self, key: str) -> tuple[str, int]:
        record = Load(key, sync.monotonic())
        with self._mutex:
            self.loads.append(record)
        if self.pool is not None:
            with self.pool:
                sync.sleep(self.delay)
        else:
            sync.sleep(self.delay)
        with self._mutex:
            n = self.versions[key] = self.versions.get(key, 0) + 1
            record.end = sync.monotonic()
        return (key, n)

    def calls(self, key: str | None = None) -> int:
        return sum(1 for r in self.loads if key is None or r.key == key)


def with_version(seen: tuple[tuple[str, int], ...], key: str, version: int) -> tuple[tuple[str, int], ...]:
    """The highest-version map after ``key`` was read at ``version``.

    pre: all(k != key or v <= version for k, v in seen)
    post: (key, version) in __return__
    post: len(__return__) == len({k for k, _ in seen} | {key})
    """
    out = dict(seen)
    out[key] = version
    return tuple(sorted(out.items()))


class CacheSpec(Spec):
    """``get(key) -> (key, version)``, versions per key never decreasing."""

    name: ClassVar[str] = "read-through-cache"

    def __init__(self, warm: Sequence[str] = ()) -> None:
        self.warm = tuple(sorted(warm))

    def init(self) -> Hashable:
        return tuple((k, 0) for k in self.warm)

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return name == "pause"

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "pause":
            return state, None
        if name != "get":
            raise ValueError(f"cache spec has no operation {name!r}")
        key = args[0]
        floor = dict(state).get(key, 0 if key in self.warm else 1)
        return Outcomes(tuple((with_version(state, key, v), (key, v)) for v in range(floor, MAX_VERSION + 1)))


def too_many_loads(loads: Sequence[Load], ttl: float, early_window: float) -> str | None:
    """At most one load per key per expiry, judged on the origin's call log.

    A load of a key may start only once the previous load of that key has
    finished *and* the value it produced could have expired: ``ttl`` after
    it ended, minus the variant's early-refresh window.  Two overlapping loads
    are a stampede; a second load right after the first is a wasted one.
    """
    by_key: dict[str, list[Load]] = {}
    for r in loads:
        by_key.setdefault(r.key, []).append(r)
    for key, rs in sorted(by_key.items()):
        rs.sort(key=lambda r: r.start)
        for prev, nxt in zip(rs, rs[1:], strict=False):
            if prev.end is None or nxt.start < prev.end:
                return (
                    f"{len(rs)} loads of {key!r}: one started at t={nxt.start:.2f}s while another "
                    f"(started t={prev.start:.2f}s) was still running"
                )
            if nxt.start < prev.end + ttl - early_window:
                return (
                    f"{len(rs)} loads of {key!r}: the value loaded at t={prev.end:.2f}s (ttl {ttl}s) "
                    f"was loaded again at t={nxt.start:.2f}s, before it could expire"
                )
    return None


class Reader:
    """The workload side of a test run: reads through the cache, and pauses.

    ``pause(seconds)`` is a reader's think time (``sync.sleep``): without it
    virtual time would only move while a load runs, and a loaded value would
    never get old enough to expire again, refresh early, or be served stale.
    """

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def get(self, key: str) -> Any:
        return self.cache.get(key)

    def pause(self, seconds: float) -> None:
        sync.sleep(seconds)
