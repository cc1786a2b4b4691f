"""Write-through cache (seed exercise 16): every write goes to the database and the cache.

An application server holds a cache (Redis) in front of a database
(SQLite, ``CHECK (value >= 0)``: the database, not the application, is
where validation lives).  ``update(key, value)`` must leave both agreeing;
``read(key)`` answers from the cache, and on a miss from the database
(without filling the cache: filling on a miss is the read-through cache's
problem, and its stale-fill race, in ``systems/read_through.py``).  The
cache starts warm: every row is cached.

Variants (the same application code runs on a model of Redis, or on a real
``redis-server`` in the ``*_redis`` variants):

* ``cache_first`` - sets the cache, then commits; when the database rejects
  the write it deletes the entry again.  In between, a reader gets a value
  that was never committed (and two writers can leave the cache holding the
  loser's value).
* ``db_then_set`` - commits, then sets the cache.  Two writers commit in one
  order and set the cache in the other: cache and database disagree, and
  nothing will ever fix it.
* ``invalidate`` (fixed) - commits, then deletes the entry: the next read
  goes to the database.  Two deletes commute.
* ``versioned`` (fixed) - commits, getting the row's new version, then
  sets the cache only if it holds an older version (one Lua script): the
  newest commit wins whatever order the sets arrive in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from systems._cache_parts import KEYS, Database, Ledger, ModelCache, Rejected, make_cache


@dataclass
class CacheFirst:
    """Broken: cache, then database; undo the cache when the database says no."""

    cache: ModelCache
    db: Database

    def update(self, key: str, value: int) -> str:
        self.cache.store(key, value)
        try:
            self.db.commit(key, value)
        except Rejected:
            self.cache.evict(key)  # too late: readers may have seen it
            return "rejected"
        return "ok"

    def read(self, key: str) -> int:
        entry = self.cache.lookup(key)
        if entry is not None and entry.value is not None:
            return entry.value
        return self.db.read(key)[0]


class DbThenSet(CacheFirst):
    """Broken: database, then cache - two writers can set in the other order."""

    def update(self, key: str, value: int) -> str:
        try:
            self.db.commit(key, value)
        except Rejected:
            return "rejected"
        self.cache.store(key, value)
        return "ok"


class DbThenInvalidate(CacheFirst):
    """Fixed: database, then delete the entry; the next read goes to the database."""

    def update(self, key: str, value: int) -> str:
        try:
            self.db.commit(key, value)
        except Rejected:
            return "rejected"
        self.cache.evict(key)
        return "ok"


class Versioned(CacheFirst):
    """Fixed: database (which numbers the row's versions), then set only if newer."""

    def update(self, key: str, value: int) -> str:
        try:
            version = self.db.commit(key, value)
        except Rejected:
            return "rejected"
        self.cache.store_if_newer(key, value, version)
        return "ok"


def warm(app: Any) -> Any:
    """Cache every row, as a write-through cache is after its initial load."""
    for key, (value, version) in app.db.rows().items():
        app.cache.store(key, value, version)
    return app


def factory(cls: type[CacheFirst], cache: str = "model") -> Callable[[], CacheFirst]:
    def build() -> CacheFirst:
        ledger = Ledger()
        return warm(cls(make_cache(cache, ledger), Database(keys=KEYS, ledger=ledger)))  # type: ignore[no-any-return]

    build.__name__ = f"build_{cls.__name__}_{cache}"
    return build


BUGS = {
    "cache_first": "the cache is set before the database commit; when the commit fails the entry is deleted again, but a reader in between got a value that was never committed",
    "db_then_set": "two writers commit in one order and set the cache in the other: the cache keeps the older value while the database has the newer one, for good",
}

SYSTEM = System(
    name="write_through",
    summary="Write-through cache over SQLite (model or real Redis): cache-first and unordered sets vs invalidate and versioned sets",
    kind="thr",
    properties=("no read returns a never-committed value", "at quiescence the cache equals the database", "linearizability",
                "a cache hit never reads the database", "every cached value carries its committed version"),
    variants=[
        Variant("cache_first", factory(CacheFirst), expect="violation",
                property="no read returns a never-committed value", bug=BUGS["cache_first"]),
        Variant("db_then_set", factory(DbThenSet), expect="violation",
                property="at quiescence the cache equals the database", bug=BUGS["db_then_set"]),
        Variant("invalidate", factory(DbThenInvalidate), expect="correct"),
        Variant("versioned", factory(Versioned), expect="correct"),
        Variant("db_then_set_redis", factory(DbThenSet, "redis"), expect="violation",
                property="at quiescence the cache equals the database", bug=BUGS["db_then_set"] + " (real Redis)",
                params={"cache": "redis"}),
        Variant("versioned_redis", factory(Versioned, "redis"), expect="correct", params={"cache": "redis"}),
    ],
)
