"""Cache stampede: many readers, one expired key, a slow loader (seed exercise 4).

Each cache fronts a :class:`specs.cache_stampede.SlowOrigin` (``load(key)``
takes ``delay`` seconds) and keeps entries for ``ttl`` seconds of
``racekit.sync.monotonic`` time - virtual under the scheduler, so TTLs expire
without anyone sleeping for real.  Keys listed in ``warm`` start with an
already expired version 0 (the moment of the stampede).

Variants:

* ``naive`` - get-or-compute: every reader that finds the key missing or
  expired calls the loader.  N readers, N loads of the same value.
* ``unlocked_check`` - single-flight, but the freshness check runs before the
  lock: a reader that saw the old entry becomes a second leader right after
  the first one has published.
* ``single_flight`` (fixed) - under one lock: a fresh entry is returned; the
  first reader of an expired key becomes the leader and loads *outside* the
  lock; the others wait on a condition and re-check when it publishes.
* ``stale_while_revalidate`` (fixed) - an expired entry is served at once and
  one background thread (``racekit.sync.Thread``) refreshes it; only a key
  with no entry at all makes readers wait (single-flight).
* ``early_refresh`` (fixed) - probabilistic early refresh (XFetch, Vattani
  et al., VLDB 2015): a reader refreshes a still-fresh entry with a
  probability that grows as expiry nears, so hot keys are usually reloaded
  before they expire; single-flight covers the rest.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from racekit import sync, System, Variant
from specs.cache_stampede import SlowOrigin

TTL = 0.25
DELAY = 0.1


@dataclass(frozen=True)
class Entry:
    value: Any
    expires: float
    cost: float = 0.0  # how long the load took (XFetch's delta)


class NaiveCache:
    """Get-or-compute with no coordination."""

    early_window = 0.0

    def __init__(self, origin: SlowOrigin, ttl: float = TTL, warm: Sequence[str] = ()) -> None:
        self.origin = origin
        self.ttl = ttl
        self.entries: dict[str, Entry] = {k: Entry((k, 0), 0.0) for k in warm}

    def get(self, key: str) -> Any:
        entry = self.entries.get(key)
        if entry is not None and sync.monotonic() < entry.expires:
            return entry.value
        value = self.origin.load(key)
        self.entries[key] = Entry(value, sync.monotonic() + self.ttl)
        return value


class SingleFlightCache(NaiveCache):
    """One loader per key; the other readers wait for it and re-check."""

    def __init__(self, origin: SlowOrigin, ttl: float = TTL, warm: Sequence[str] = ()) -> None:
        super().__init__(origin, ttl, warm)
        self.loading: set[str] = set()
        self.lock = sync.Lock()
        self.published = sync.Condition(self.lock)

    def get(self, key: str) -> Any:
        with self.lock:
            while True:
                entry = self.entries.get(key)
                if entry is not None and sync.monotonic() < entry.expires:
                    return entry.value
                if key not in self.loading:
                    break
                self.published.wait()  # a leader is loading this key: wait, then re-check
            self.loading.add(key)  # this reader leads
        return self._load(key)

    def _load(self, key: str) -> Any:
        started = sync.monotonic()
        value: Any = None
        try:
            value = self.origin.load(key)
        finally:
            with self.lock:
                self.loading.discard(key)
                if value is not None:
                    now = sync.monotonic()
                    self.entries[key] = Entry(value, now + self.ttl, now - started)
                self.published.notify_all()  # on failure too: a waiter becomes the next leader
        return value


class UnlockedCheckCache(SingleFlightCache):
    """Bug: "is it fresh?" is asked before taking the lock."""

    def get(self, key: str) -> Any:
        entry = self.entries.get(key)  # fast path without the lock
        if entry is not None and sync.monotonic() < entry.expires:
            return entry.value
        with self.lock:
            while key in self.loading:
                self.published.wait()
                entry = self.entries.get(key)
                if entry is not None and sync.monotonic() < entry.expires:
                    return entry.value
            self.loading.add(key)  # nobody is loading: lead (the entry may be fresh by now)
        return self._load(key)


class StaleWhileRevalidateCache(SingleFlightCache):
    """Serve the expired entry, refresh it once in the background."""

    def get(self, key: str) -> Any:
        with self.lock:
            while True:
                entry = self.entries.get(key)
                if entry is not None and sync.monotonic() < entry.expires:
                    return entry.value
                if entry is not None:  # stale: answer now, revalidate once
                    if key not in self.loading:
                        self.loading.add(key)
                        sync.Thread(target=self._load, args=(key,), name=f"refresh {key}").start()
                    return entry.value
                if key not in self.loading:
                    break
                self.published.wait()  # nothing to serve yet: wait for the first load
            self.loading.add(key)
        return self._load(key)


class EarlyRefreshCache(SingleFlightCache):
    """XFetch: refresh early with probability rising towards expiry."""

    def __init__(
        self,
        origin: SlowOrigin,
        ttl: float = TTL,
        warm: Sequence[str] = (),
        beta: float = 1.0,
        seed: int = 7,
    ) -> None:
        super().__init__(origin, ttl, warm)
        self.beta = beta
        self.early_window = ttl / 2  # never refresh earlier than this before expiry
        self.rng = random.Random(seed)

    def get(self, key: str) -> Any:
        with self.lock:
            while True:
                entry = self.entries.get(key)
                now = sync.monotonic()
                if entry is not None and now < entry.expires:
                    # XFetch: -delta * beta * ln(u) is how early this reader acts
                    early = min(-entry.cost * self.beta * math.log(1.0 - self.rng.random()), self.early_window)
                    if now + early < entry.expires or key in self.loading:
                        return entry.value
                    break  # refresh early; this reader pays for it, the others keep reading
                if key not in self.loading:
                    break
                self.published.wait()
            self.loading.add(key)
        return self._load(key)


def _factory(cls: type[NaiveCache]) -> Any:
    def build() -> NaiveCache:
        return cls(SlowOrigin(DELAY), TTL, warm=("a",))

    build.__name__ = f"build_{cls.__name__}"
    return build


SYSTEM = System(
    name="cache_stampede",
    summary="Many readers on one expired key: naive get-or-compute vs single-flight, stale-while-revalidate, XFetch",
    kind="thr",
    properties=("one loader call per key per expiry", "linearizability", "deadlock"),
    variants=[
        Variant(
            "naive",
            _factory(NaiveCache),
            expect="violation",
            property="one loader call per key per expiry",
            bug="every reader that finds the key expired calls the loader itself: N concurrent readers, N loads of the same value",
        ),
        Variant(
            "unlocked_check",
            _factory(UnlockedCheckCache),
            expect="violation",
            property="one loader call per key per expiry",
            bug="the freshness check runs before the lock: a reader that saw the expired entry becomes leader again right after the first leader published",
        ),
        Variant("single_flight", _factory(SingleFlightCache), expect="correct"),
        Variant("stale_while_revalidate", _factory(StaleWhileRevalidateCache), expect="correct"),
        Variant("early_refresh", _factory(EarlyRefreshCache), expect="correct"),
    ],
)
