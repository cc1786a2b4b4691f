"""Read-through cache (seed exercise 18): a miss reads the database and fills the cache.

``read(key)`` answers from the cache (Redis); on a miss it reads the row
from the database (SQLite) and stores it in the cache for the next reader.
``update(key, value)`` commits to the database and then deletes the cache
entry ("invalidate on write").  The cache starts cold.

The trap is the fill.  A reader misses, reads the row - and before it
stores what it read, an update commits a new value and deletes the entry.
The reader then stores the *old* value, and since nothing deletes it again,
every later read is stale, forever.

Variants (the same application code runs on a model of Redis, or on a real
``redis-server`` in the ``*_redis`` variants):

* ``stale_fill`` - fills with a plain SET: the race above.
* ``lease`` (fixed) - memcache leases ("Scaling Memcache at Facebook",
  NSDI 2013, section 3.2.1): a miss atomically installs a lease token in
  the entry; the fill stores only while that token is still there (one Lua
  script); the update's delete removes the token, so a fill that raced an
  update is refused.  A reader that finds another reader's lease reads the
  database without filling (memcache makes it wait and retry, which also
  stops a thundering herd: that is ``cache_stampede``'s subject).  Tokens
  come from one counter that survives deletes - a per-entry counter would
  hand the same token out again after the delete (ABA).
* ``version_tokens`` (fixed) - the database numbers each row's versions;
  the update replaces the entry with a *tombstone* carrying the new version
  instead of deleting it, and a fill stores only if it is newer than what
  the entry holds, or replaces the tombstone of its own version (one Lua
  script).  No lease to hold, but tombstones stay until overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from racekit import System, Variant
from systems._cache_parts import KEYS, Database, Entry, Ledger, ModelCache, Rejected, make_cache


@dataclass
class StaleFillCache:
    """Broken: fill with whatever was read, whenever the fill happens to run."""

    cache: ModelCache
    db: Database

    def read(self, key: str) -> int:
        entry = self.cache.lookup(key)
        if entry is not None and entry.value is not None:
            return entry.value
        value, version = self.db.read(key)
        self.cache.store(key, value, version)  # an update may have committed since the read
        return value

    def update(self, key: str, value: int) -> str:
        try:
            self.db.commit(key, value)
        except Rejected:
            return "rejected"
        self.cache.evict(key)
        return "ok"


class LeaseCache(StaleFillCache):
    """Fixed: a miss takes a lease; the fill needs the lease still to be there."""

    def read(self, key: str) -> int:
        got = self.cache.lookup_or_lease(key)
        if isinstance(got, Entry) and got.value is not None:
            return got.value
        value, version = self.db.read(key)
        if not isinstance(got, Entry) and got.mine:
            self.cache.fill_with_lease(key, value, version, got.token)  # refused if an update deleted it
        return value


class VersionTokenCache(StaleFillCache):
    """Fixed: updates leave a versioned tombstone; fills must be newer than the entry."""

    def read(self, key: str) -> int:
        entry = self.cache.lookup(key)
        if entry is not None and entry.value is not None:
            return entry.value
        value, version = self.db.read(key)
        self.cache.store_if_newer(key, value, version, or_same=True)  # refused if a newer write left its tombstone
        return value

    def update(self, key: str, value: int) -> str:
        try:
            version = self.db.commit(key, value)
        except Rejected:
            return "rejected"
        self.cache.store_if_newer(key, None, version)  # tombstone: "invalid below version `version`"
        return "ok"


def factory(cls: type[StaleFillCache], cache: str = "model") -> Callable[[], StaleFillCache]:
    def build() -> StaleFillCache:
        ledger = Ledger()
        return cls(make_cache(cache, ledger), Database(keys=KEYS, ledger=ledger))

    build.__name__ = f"build_{cls.__name__}_{cache}"
    return build


STALE = "no permanently stale entry"
BUG = (
    "a reader misses and reads the old row; an update commits and deletes the entry; the reader then "
    "stores the old value, and nothing will ever delete it: every later read is stale"
)

SYSTEM = System(
    name="read_through",
    summary="Read-through cache over SQLite (model or real Redis): the stale-fill race vs memcache leases and version tokens",
    kind="thr",
    properties=(STALE, "linearizability", "a cache hit never reads the database",
                "every cached value carries its committed version", "a fill is kept: the next read of the key hits"),
    variants=[
        Variant("stale_fill", factory(StaleFillCache), expect="violation", property=STALE, bug=BUG),
        Variant("lease", factory(LeaseCache), expect="correct"),
        Variant("version_tokens", factory(VersionTokenCache), expect="correct"),
        Variant("stale_fill_redis", factory(StaleFillCache, "redis"), expect="violation", property=STALE,
                bug=BUG + " (real Redis)", params={"cache": "redis"}),
        Variant("lease_redis", factory(LeaseCache, "redis"), expect="correct", params={"cache": "redis"}),
    ],
)
