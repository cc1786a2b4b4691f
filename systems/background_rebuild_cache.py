"""In-memory cache with a background rebuilder (seed project 3).

Read-heavy: ``get(key)`` must stay fast.  When the source changes the
writer calls ``invalidate(key, version)`` ("``key`` is stale until you have
version >= ``version``"), and the cache must rebuild the entry without
making readers wait and without a thundering herd of rebuilds.  Each cache
reads from a :class:`specs.background_rebuild_cache.VersionedDB`, whose
``load`` is slow.

Variants:

* ``rcu`` (fixed) - read-copy-update: readers load ``self.snapshot`` (an
  immutable dict, one attribute load, no lock) and index it.  Invalidations
  are recorded under a lock and wake one refresher thread (started on
  demand, it exits when nothing is stale); it loads outside the lock, then
  copies the snapshot, replaces the entry and publishes the copy by
  assigning the reference.  One refresher, loads in order: versions only
  move forward.
* ``blocking_refresh`` - a reader that finds its key stale reloads it under
  the cache lock: it waits for the load, and so does every reader behind it.
* ``herd`` - readers do not wait (a background thread refreshes), but every
  reader that sees the key stale starts its own refresh.
* ``older_over_newer`` - one background refresh per invalidation, each
  publishing whatever it loaded: a slow refresh of version 1 that finishes
  after a fast refresh of version 2 puts version 1 back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from racekit import sync, System, Variant
from specs.background_rebuild_cache import VersionedDB

Value = tuple[str, int]  # (key, version)


class RcuCache:
    """Immutable snapshots swapped by one refresher."""

    def __init__(self, db: VersionedDB, keys: Iterable[str] = ("a", "b")) -> None:
        self.db = db
        self.snapshot: dict[str, Value] = {k: (k, 0) for k in keys}  # never mutated once published
        self.wanted: dict[str, int] = {}  # key -> version the snapshot must reach
        self.refreshing = False
        self.lock = sync.Lock()

    def get(self, key: str) -> Value:
        return self.snapshot[key]  # one load of the reference: no lock, no wait

    def invalidate(self, key: str, version: int) -> None:
        with self.lock:
            if version <= self.wanted.get(key, 0):
                return
            self.wanted[key] = version
            if self.refreshing:
                return  # the running refresher will see it
            self.refreshing = True
        sync.Thread(target=self._refresher, name="refresher").start()

    def _stale(self) -> str | None:
        for key, version in sorted(self.wanted.items()):
            if self.snapshot[key][1] < version:
                return key
        return None

    def _refresher(self) -> None:
        while True:
            with self.lock:
                key = self._stale()
                if key is None:
                    self.refreshing = False
                    return
            value = self.db.load(key)  # slow, and no lock held: readers keep reading the old snapshot
            with self.lock:
                if value[1] > self.snapshot[key][1]:
                    fresh = dict(self.snapshot)  # copy ...
                    fresh[key] = value  # ... update ...
                    self.snapshot = fresh  # ... publish: one reference assignment


class BlockingRefreshCache(RcuCache):
    """Bug: the reader that finds the key stale reloads it, holding the lock."""

    def get(self, key: str) -> Value:
        with self.lock:
            if self.snapshot[key][1] < self.wanted.get(key, 0):
                fresh = dict(self.snapshot)
                fresh[key] = self.db.load(key)  # every reader queues behind this load
                self.snapshot = fresh
            return self.snapshot[key]

    def invalidate(self, key: str, version: int) -> None:
        with self.lock:
            self.wanted[key] = max(version, self.wanted.get(key, 0))


class HerdCache(RcuCache):
    """Bug: each reader that sees staleness starts its own background refresh."""

    def get(self, key: str) -> Value:
        value = self.snapshot[key]
        if value[1] < self.wanted.get(key, 0):
            sync.Thread(target=self._refresh_one, args=(key,), name=f"refresh {key}").start()
        return value

    def invalidate(self, key: str, version: int) -> None:
        with self.lock:
            self.wanted[key] = max(version, self.wanted.get(key, 0))

    def _refresh_one(self, key: str) -> None:
        value = self.db.load(key)
        with self.lock:
            if value[1] > self.snapshot[key][1]:
                fresh = dict(self.snapshot)
                fresh[key] = value
                self.snapshot = fresh


class OlderOverNewerCache(RcuCache):
    """Bug: one refresh per invalidation, publishing without a version check."""

    def invalidate(self, key: str, version: int) -> None:
        with self.lock:
            self.wanted[key] = max(version, self.wanted.get(key, 0))
        sync.Thread(target=self._refresh_one, args=(key,), name=f"refresh {key}@{version}").start()

    def _refresh_one(self, key: str) -> None:
        value = self.db.load(key)
        with self.lock:
            fresh = dict(self.snapshot)
            fresh[key] = value  # whatever this load saw, even if a newer one was published meanwhile
            self.snapshot = fresh


def _factory(cls: type[RcuCache]) -> Any:
    def build() -> RcuCache:
        return cls(VersionedDB(("a", "b"), delays=(0.3, 0.1)), ("a", "b"))

    build.__name__ = f"build_{cls.__name__}"
    return build


SYSTEM = System(
    name="background_rebuild_cache",
    summary="Read-heavy cache rebuilt in the background: RCU snapshots vs blocking, herd, out-of-order publish",
    kind="thr",
    properties=(
        "readers never wait on a load",
        "at most one load per key per staleness",
        "versions never go backwards",
        "linearizability",
    ),
    variants=[
        Variant("rcu", _factory(RcuCache), expect="correct"),
        Variant(
            "blocking_refresh",
            _factory(BlockingRefreshCache),
            expect="violation",
            property="readers never wait on a load",
            bug="a reader that finds its key stale reloads it while holding the cache lock: it waits for the load, and every reader behind it waits too",
        ),
        Variant(
            "herd",
            _factory(HerdCache),
            expect="violation",
            property="at most one load per key per staleness",
            bug="every reader that sees the key stale starts its own background refresh: N readers, N loads of one version",
        ),
        Variant(
            "older_over_newer",
            _factory(OlderOverNewerCache),
            expect="violation",
            property="versions never go backwards",
            bug="each invalidation starts its own refresh and publishes what it loaded: a slow load of version 1 lands after a fast load of version 2",
        ),
    ],
)
