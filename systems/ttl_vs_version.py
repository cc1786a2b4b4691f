"""TTL vs version-based invalidation (seed exercise 20): two ways to stop serving old data.

A cache-aside reader: ``read(key)`` answers from the cache (Redis) while
the entry is fresh, else reads the row from the database (SQLite, whose
answers take ``LATENCY`` seconds to come back) and caches it.
``update(key, value)`` only commits: neither design invalidates on write.

* **TTL** - an entry is served until it expires, ``TTL`` seconds after the
  row was *read*.  Reads are cheap (no database at all on a hit) and may be
  stale - by less than ``TTL``, which is its whole promise.
* **Version check** - every read asks the database for the row's version
  (a cheap query) and serves the cached value only if the versions match.
  Never stale, and never cheap: one database round trip per read.

Variants - one design can be held to two promises, so the TTL code is
declared twice, once per promise (see docs/systems/ttl_vs_version.md):

* ``ttl_vs_never_stale`` - the TTL cache judged against "never stale":
  broken, as it must be (a read after an update returns the old value).
* ``ttl`` (fixed) - the same code judged against its own promise,
  "stale by at most TTL".
* ``ttl_from_fill`` - a TTL cache that counts the TTL from when it *stores*
  the entry (what ``SET key value PX ttl`` does) instead of from when it
  read the row: a slow answer adds its latency to the staleness, past TTL.
* ``version_check`` (fixed) - judged against both promises.

The soft expiry is stored with the entry as an absolute time on the
application's clock (``PEXPIREAT`` semantics; virtual time under the
scheduler).  The ``*_redis`` variants run on a real redis-server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from racekit import System, Variant, sync
from systems._cache_parts import KEYS, Database, Ledger, ModelCache, Rejected, make_cache

TTL = 1.0  # seconds
LATENCY = 0.2  # seconds for a database answer to come back


@dataclass
class TtlCache:
    """Serve an entry until TTL after its row was read; writes never touch the cache."""

    cache: ModelCache
    db: Database
    ttl: float = TTL
    clock: Callable[[], float] = sync.monotonic

    def read(self, key: str) -> int:
        entry = self.cache.lookup(key)
        now = self.clock()
        if entry is not None and entry.value is not None and entry.expires is not None and now < entry.expires:
            return entry.value
        value, version = self.db.read(key)  # the row as of `now`; the answer arrives LATENCY later
        self.cache.store(key, value, version, expires=now + self.ttl)
        return value

    def update(self, key: str, value: int) -> str:
        try:
            self.db.commit(key, value)
        except Rejected:
            return "rejected"
        return "ok"  # no invalidation: the TTL is how a change reaches readers


class TtlFromFill(TtlCache):
    """Broken (against its own promise): the TTL starts when the entry is stored."""

    def read(self, key: str) -> int:
        entry = self.cache.lookup(key)
        if entry is not None and entry.value is not None and entry.expires is not None and self.clock() < entry.expires:
            return entry.value
        value, version = self.db.read(key)
        self.cache.store(key, value, version, expires=self.clock() + self.ttl)  # SET ... PX ttl: from now, not from the read
        return value


class VersionCheck(TtlCache):
    """Fixed: ask the database for the row's version on every read; serve only a match."""

    def read(self, key: str) -> int:
        entry = self.cache.lookup(key)
        current = self.db.version_of(key)
        if entry is not None and entry.value is not None and entry.version == current:
            return entry.value
        value, version = self.db.read(key)
        self.cache.store_if_newer(key, value, version)  # a slow reader must not put an older row back
        return value


def factory(cls: type[TtlCache], cache: str = "model") -> Callable[[], TtlCache]:
    def build() -> TtlCache:
        ledger = Ledger()
        return cls(make_cache(cache, ledger), Database(read_latency=LATENCY, keys=KEYS, ledger=ledger))

    build.__name__ = f"build_{cls.__name__}_{cache}"
    return build


NEVER_STALE = "never stale"
WITHIN_TTL = "stale by at most TTL"
LINEARIZABILITY = "linearizability"
HIT = "a cache hit never reads the database"
TAGGED = "every cached value carries its committed version"
KEPT = "a fill is kept: the next read of the key hits"
TTL_PROMISE = {"judged": (WITHIN_TTL, HIT, TAGGED, KEPT)}
VERSION_PROMISE = {"judged": (LINEARIZABILITY, NEVER_STALE, WITHIN_TTL, HIT, TAGGED, KEPT)}

SYSTEM = System(
    name="ttl_vs_version",
    summary="TTL vs version-checked cache over SQLite (model or real Redis): each against 'never stale' and 'stale <= TTL'",
    kind="thr",
    properties=(NEVER_STALE, WITHIN_TTL, LINEARIZABILITY, HIT, TAGGED, KEPT),
    variants=[
        Variant("ttl_vs_never_stale", factory(TtlCache), expect="violation", property=NEVER_STALE,
                bug="a TTL cache serves the old value after an update until the entry expires: it never promised otherwise"),
        Variant("ttl", factory(TtlCache), expect="correct", params=TTL_PROMISE),
        Variant("ttl_from_fill", factory(TtlFromFill), expect="violation", property=WITHIN_TTL,
                bug="the TTL is counted from when the entry is stored, not from when the row was read: a slow answer adds its latency to the staleness"),
        Variant("version_check", factory(VersionCheck), expect="correct", params=VERSION_PROMISE),
        Variant("ttl_redis", factory(TtlCache, "redis"), expect="correct", params={**TTL_PROMISE, "cache": "redis"}),
        Variant("version_check_redis", factory(VersionCheck, "redis"), expect="correct",
                params={**VERSION_PROMISE, "cache": "redis"}),
    ],
)
