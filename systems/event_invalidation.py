"""Cache invalidation by event (seed exercise 19): writers publish, the cache subscribes.

Simulated nodes (virtual time, every message order and fault a choice):

* ``db`` - the database: one row per key, a version per row.
* ``w1``, ``w2`` - application servers.  ``update(key, value)`` commits to
  ``db`` and then publishes a change event ``(key, value, version)`` to the
  bus; only then does the client get its ``ok``.
* ``bus`` - Redis pub/sub: it forwards each message to the subscribers it
  can reach *now* and forgets it.  A subscriber that is disconnected (a cut
  link, here) misses the message for good - Redis pub/sub is at-most-once
  and keeps no backlog.
* ``cache`` - the cache tier (Redis plus the subscriber that maintains it),
  warm at start.  It applies each change event to its entry and answers
  clients' ``read(key)``; a miss (an expired entry) reads ``db`` and fills.

Change events carry the new value rather than just "delete": a pure delete
would send the next read to the database and its fill back into
read_through's stale-fill race; here the events *are* the fills.

Variants:

* ``fire_and_forget`` - versioned events (an older one never overwrites a
  newer one), no TTL: an event lost while the cache was disconnected leaves
  the entry stale forever.
* ``unversioned`` - events are applied in arrival order, no TTL: two
  writers' events cross on the way, the older lands last, stale forever.
* ``versioned_ttl`` (fixed) - versioned events *and* a TTL backstop: every
  entry expires ``TTL_MS`` after it was written; the next read refills from
  the database (counting the TTL from when it *asked*, see
  ``ttl_vs_version``).  A lost event costs at most a TTL of staleness.

The event handling is plain functions over a cache (:func:`apply_event`,
:func:`fill`, :func:`fresh_value`), so ``tests/test_event_invalidation_redis.py`` runs
the same code against a real redis-server's pub/sub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request
from systems._cache_parts import INITIAL, KEYS, ModelCache

TTL_MS = 1000
SUBSCRIBERS = ("cache",)


@dataclass(frozen=True)
class Policy:
    versioned: bool
    ttl_ms: int | None


def apply_event(cache: ModelCache, policy: Policy, key: str, value: int, version: int, now: float) -> bool:
    """Apply one change event to the cache; False if it was ignored as older."""
    expires = None if policy.ttl_ms is None else now + policy.ttl_ms
    if policy.versioned:
        return cache.store_if_newer(key, value, version, expires)
    cache.store(key, value, version, expires)
    return True


def fill(cache: ModelCache, policy: Policy, key: str, value: int, version: int, asked: float) -> None:
    """After a miss: store the row read from the database, expiring TTL after it was *asked* for."""
    if policy.ttl_ms is not None:
        cache.store_if_newer(key, value, version, asked + policy.ttl_ms, or_same=True)  # renews an expired entry


def fresh_value(cache: ModelCache, key: str, now: float) -> int | None:
    """The cached value if it is there and not expired, else None (a miss)."""
    entry = cache.lookup(key)
    if entry is None or entry.value is None:
        return None
    if entry.expires is not None and now >= entry.expires:
        return None
    return entry.value


class Database(Node):
    """Rows and versions; ``("write", k, v)`` -> ``("written", k, version)``, ``("read", k)`` -> ``("row", ...)``."""

    def on_start(self) -> None:
        self.rows = {k: (INITIAL, 1) for k in KEYS}

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "write":
            _, token, key, value = msg
            version = self.rows[key][1] + 1
            self.rows[key] = (value, version)
            self.note("commit", key=key, value=value, version=version)
            self.send(src, ("written", token, key, version))
        elif msg[0] == "read":
            _, token, key = msg
            value, version = self.rows[key]
            self.send(src, ("row", token, key, value, version))


class Writer(Node):
    """An application server: commit, then publish, then answer the client."""

    def on_start(self) -> None:
        self.waiting: dict[int, tuple[str, Request]] = {}

    def on_request(self, client: str, request: Request) -> None:
        key, value = request.args
        self.waiting[request.req] = (client, request)
        self.send("db", ("write", request.req, key, value))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "written" and msg[1] in self.waiting:
            _, token, key, version = msg
            client, request = self.waiting.pop(token)
            self.send("bus", ("publish", key, request.args[1], version))
            self.reply(client, request, "ok")


class Bus(Node):
    """Redis pub/sub: forward to whoever is reachable now; keep nothing."""

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "publish":
            for sub in SUBSCRIBERS:
                self.send(sub, ("event", *msg[1:]))  # lost if the link is cut: at most once


class CacheTier(Node):
    """Redis and its subscriber: apply change events, answer reads, fill misses."""

    policy: Policy

    def on_start(self) -> None:
        self.cache = ModelCache()
        for key in KEYS:  # warm: loaded with the database's initial rows
            apply_event(self.cache, self.policy, key, INITIAL, 1, self.monotonic())
        self.waiting: dict[int, tuple[str, Request, float]] = {}

    def on_request(self, client: str, request: Request) -> None:
        (key,) = request.args
        value = fresh_value(self.cache, key, self.monotonic())
        if value is not None:
            self.reply(client, request, value)
            return
        self.note("miss", key=key)
        self.waiting[request.req] = (client, request, self.monotonic())  # the TTL counts from the ask
        self.send("db", ("read", request.req, key))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "event":
            _, key, value, version = msg
            applied = apply_event(self.cache, self.policy, key, value, version, self.monotonic())
            self.note("event", key=key, value=value, version=version, applied=applied)
        elif msg[0] == "row" and msg[1] in self.waiting:
            _, token, key, value, version = msg
            client, request, asked = self.waiting.pop(token)
            fill(self.cache, self.policy, key, value, version, asked)
            self.reply(client, request, value)

    def fingerprint(self) -> str:
        return repr((sorted(self.cache.entries().items()), sorted(self.waiting.items())))


def make_node(policy: Policy, nid: str) -> Node:
    if nid == "db":
        return Database()
    if nid == "bus":
        return Bus()
    if nid == "cache":
        node = CacheTier()
        node.policy = policy
        return node
    return Writer()


POLICIES = {
    "fire_and_forget": Policy(versioned=True, ttl_ms=None),
    "unversioned": Policy(versioned=False, ttl_ms=None),
    "versioned_ttl": Policy(versioned=True, ttl_ms=TTL_MS),
}

BOUNDED = "staleness bounded after heal"
ANSWERED = "every request is answered when nothing fails"
REFILL = "a refilled entry is served until it expires"

SYSTEM = System(
    name="event_invalidation",
    summary="Cache kept fresh by change events over Redis-style pub/sub: lost and reordered events vs versioned events + TTL backstop",
    kind="sim",
    properties=(BOUNDED, ANSWERED, REFILL),
    variants=[
        Variant("fire_and_forget", lambda: POLICIES["fire_and_forget"], expect="violation", property=BOUNDED,
                bug="the bus delivers each event at most once, to subscribers connected at that moment: an event published while the cache was cut off is never applied, and with no TTL the entry stays stale forever"),
        Variant("unversioned", lambda: POLICIES["unversioned"], expect="violation", property=BOUNDED,
                bug="events are applied in arrival order: two writers' events cross on the way, the older one lands last and the entry stays stale forever"),
        Variant("versioned_ttl", lambda: POLICIES["versioned_ttl"], expect="correct"),
    ],
)
