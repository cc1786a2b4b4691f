"""The parts the caching systems are built from: a cache (Redis, or a model of
it) and a database (SQLite).  Not a catalogue system itself (the leading
underscore keeps it out of the registry).

Both parts are *services*: every request announces itself with
``sync.external(service, key, write=...)`` and then runs atomically, as a
Redis command or a SQLite statement does.  That is what lets the thread
scheduler interleave application threads *between* requests (never inside
one), and lets DPOR know that two requests on one key do not commute.  The
application code that calls them (``systems/<id>.py``) is traced opcode by
opcode as usual; this file is deliberately not traced: it stands for code
running inside another process.

* :class:`ModelCache` - an in-process model of the few Redis commands and
  Lua scripts the systems use: fast, so exhaustive search goes far.
* :class:`RedisCache` - the same operations on a real ``redis-server``
  (:func:`racekit.crash.redis.shared`), each compound operation one Lua
  script (Redis runs a script atomically).  The ``*_redis`` variants run
  on it, so the model's counterexamples are replayed against the real
  thing.
* :class:`Database` - SQLite (in memory, one connection: the "server"), a
  table ``item(key, value, version)`` with ``CHECK (value >= 0)``; each
  call is one transaction.  It keeps a ghost log of commits with their
  (virtual) times for the properties; the application never reads it.

Both can keep a :class:`Ledger`: a ghost record of what each lookup found
and which row version each database read got, by which thread - so a
property can tell a read that went to the database although the cache
held a value it could have served (a cache that is correct but useless).

An entry is ``value, version`` plus ``expires`` (a soft TTL on the
application's clock, like ``PEXPIREAT``) and ``lease`` (a memcache-style
lease token: "a reader is filling this key").  ``value is None`` with a
version is a tombstone ("invalidated at version v").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from racekit import sync

KEYS = ("a", "b")
INITIAL = 0  # every row starts as value 0, version 1


@dataclass(frozen=True)
class Entry:
    value: int | None
    version: int = 0
    expires: float | None = None
    lease: int | None = None

    def text(self) -> str:
        if self.lease is not None and self.value is None:
            return f"lease#{self.lease}"
        what = "tombstone" if self.value is None else str(self.value)
        ttl = "" if self.expires is None else f" until {self.expires:g}s"
        return f"{what} (v{self.version}{ttl})"


@dataclass(frozen=True)
class Leased:
    """``lookup_or_lease`` found no value: ``token`` is the lease, ``mine`` if we got it."""

    token: int
    mine: bool


class Rejected(Exception):
    """The database refused the write (a constraint failed); nothing was committed."""


@dataclass(frozen=True)
class Seen:
    """A ghost record of one request: what a cache lookup found, which row version a read got."""

    thread: int
    what: str  # "lookup", "evict" (a delete or a tombstone): cache; "row", "commit": database
    key: str
    entry: Entry | None
    version: int | None
    at: float


class Ledger(list[Seen]):
    """The requests of one run, in order, shared by its cache and database (for properties only:
    the application never reads it)."""

    def note(self, what: str, key: str, entry: Entry | None = None, version: int | None = None) -> None:
        self.append(Seen(sync.thread_id(), what, key, entry, version, sync.monotonic()))


# ---------------------------------------------------------------- the cache
class ModelCache:
    """A dict standing for Redis: same operations, same atomicity."""

    kind = "model"

    def __init__(self, ledger: Ledger | None = None) -> None:
        self.data: dict[str, Entry] = {}
        self.lease_seq = 0
        self.ledger = ledger

    def _found(self, key: str, found: Entry | Leased | None) -> None:
        if self.ledger is not None:
            entry = found if isinstance(found, Entry) or found is None else Entry(None, 0, None, found.token)
            self.ledger.note("lookup", key, entry)

    def _op(self, key: str, write: bool, what: str) -> None:
        sync.external("cache", key, write=write, what=what, depth=2)

    def lookup(self, key: str) -> Entry | None:
        self._op(key, False, f"cache GET {key}")
        found = self.data.get(key)
        self._found(key, found)
        return found

    def store(self, key: str, value: int, version: int = 0, expires: float | None = None) -> None:
        self._op(key, True, f"cache SET {key}={value}")
        self.data[key] = Entry(value, version, expires)

    def evict(self, key: str) -> None:
        self._op(key, True, f"cache DEL {key}")
        self.data.pop(key, None)
        if self.ledger is not None:
            self.ledger.note("evict", key)

    def store_if_newer(
        self, key: str, value: int | None, version: int, expires: float | None = None, *, or_same: bool = False
    ) -> bool:
        """Store unless the cache already holds a newer version - or this same one, unless
        ``or_same`` (a refill replacing an expired entry or a tombstone of its own version).
        One Lua script."""
        self._op(key, True, f"cache SET-IF-NEWER {key}={value} v{version}")
        if value is None and self.ledger is not None:
            self.ledger.note("evict", key, version=version)
        cur = self.data.get(key)
        if cur is not None and cur.lease is None and (cur.version > version or (cur.version == version and not or_same)):
            return False
        self.data[key] = Entry(value, version, expires)
        return True

    def lookup_or_lease(self, key: str) -> Entry | Leased:
        """A hit, or a lease: the first miss gets a fresh token, later ones see it (one Lua script)."""
        self._op("", True, f"cache GET-OR-LEASE {key}")  # the token counter is shared by every key
        cur = self.data.get(key)
        self._found(key, cur)
        if cur is not None and cur.lease is None:
            return cur
        if cur is not None and cur.lease is not None:
            return Leased(cur.lease, False)
        self.lease_seq += 1
        self.data[key] = Entry(None, 0, None, self.lease_seq)
        return Leased(self.lease_seq, True)

    def fill_with_lease(self, key: str, value: int, version: int, token: int) -> bool:
        """Store only while our lease is still there; a delete since then took it away."""
        self._op(key, True, f"cache SET-WITH-LEASE {key}={value} lease#{token}")
        cur = self.data.get(key)
        if cur is None or cur.lease != token:
            return False
        self.data[key] = Entry(value, version)
        return True

    def entries(self) -> dict[str, Entry]:
        """Every entry, for properties (not a request)."""
        return dict(self.data)


_SET = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'version', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'expires', ARGV[3]) end
return 1
"""

_SET_IF_NEWER = """
local lease = redis.call('HGET', KEYS[1], 'lease')
local cur = redis.call('HGET', KEYS[1], 'version')
if (not lease) and cur then
  local c, v = tonumber(cur), tonumber(ARGV[2])
  if c > v or (c == v and ARGV[4] ~= '1') then return 0 end
end
redis.call('DEL', KEYS[1])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'value', ARGV[1]) end
redis.call('HSET', KEYS[1], 'version', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'expires', ARGV[3]) end
return 1
"""

_GET_OR_LEASE = """
local e = redis.call('HGETALL', KEYS[1])
if #e > 0 then return e end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'lease', token)
return {'lease', tostring(token), 'mine', '1'}
"""

_FILL_WITH_LEASE = """
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'value', ARGV[2], 'version', ARGV[3])
return 1
"""

PREFIX = "cache:"
LEASE_SEQ = "lease-seq"


def _entry(fields: dict[str, str]) -> Entry | None:
    if not fields:
        return None
    return Entry(
        int(fields["value"]) if "value" in fields else None,
        int(fields.get("version", 0)),
        float(fields["expires"]) if "expires" in fields else None,
        int(fields["lease"]) if "lease" in fields else None,
    )


class _Scripts:
    """The Lua scripts, registered once per client (redis-py runs them by SHA)."""

    def __init__(self, client: Any) -> None:
        self.set = client.register_script(_SET)
        self.set_if_newer = client.register_script(_SET_IF_NEWER)
        self.get_or_lease = client.register_script(_GET_OR_LEASE)
        self.fill_with_lease = client.register_script(_FILL_WITH_LEASE)


_connection: tuple[Any, Any, _Scripts] | None = None


def redis_connection() -> tuple[Any, _Scripts]:
    """This process's client of the shared throwaway redis-server, and the scripts.

    Cached per server: if another test stopped the shared server and a new one
    started, a fresh client is made rather than one pointing at a dead socket."""
    global _connection
    from racekit.crash import redis as redis_service

    server = redis_service.shared()
    if _connection is None or _connection[0] is not server:
        client = server.client()
        _connection = (server, client, _Scripts(client))
    return _connection[1], _connection[2]


class RedisCache(ModelCache):
    """The same operations on a real redis-server: a hash per key, Lua for compound steps."""

    kind = "redis"

    def __init__(self, ledger: Ledger | None = None) -> None:
        self.r, self.scripts = redis_connection()
        self.r.flushdb()  # every run starts from an empty cache
        self.ledger = ledger

    def lookup(self, key: str) -> Entry | None:
        self._op(key, False, f"redis HGETALL {key}")
        found = _entry(self.r.hgetall(PREFIX + key))
        self._found(key, found)
        return found

    def store(self, key: str, value: int, version: int = 0, expires: float | None = None) -> None:
        self._op(key, True, f"redis SET {key}={value}")
        self.scripts.set(keys=[PREFIX + key], args=[value, version, "" if expires is None else repr(expires)])

    def evict(self, key: str) -> None:
        self._op(key, True, f"redis DEL {key}")
        self.r.delete(PREFIX + key)
        if self.ledger is not None:
            self.ledger.note("evict", key)

    def store_if_newer(
        self, key: str, value: int | None, version: int, expires: float | None = None, *, or_same: bool = False
    ) -> bool:
        self._op(key, True, f"redis SET-IF-NEWER {key}={value} v{version}")
        if value is None and self.ledger is not None:
            self.ledger.note("evict", key, version=version)
        args = ["" if value is None else value, version, "" if expires is None else repr(expires), "1" if or_same else "0"]
        return bool(self.scripts.set_if_newer(keys=[PREFIX + key], args=args))

    def lookup_or_lease(self, key: str) -> Entry | Leased:
        self._op("", True, f"redis GET-OR-LEASE {key}")
        flat = self.scripts.get_or_lease(keys=[PREFIX + key, LEASE_SEQ])
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        if "mine" in fields:
            self._found(key, None)
            return Leased(int(fields["lease"]), True)
        entry = _entry(fields)
        assert entry is not None
        self._found(key, entry)
        if entry.value is None and entry.lease is not None:
            return Leased(entry.lease, False)
        return entry

    def fill_with_lease(self, key: str, value: int, version: int, token: int) -> bool:
        self._op(key, True, f"redis SET-WITH-LEASE {key}={value} lease#{token}")
        return bool(self.scripts.fill_with_lease(keys=[PREFIX + key], args=[token, value, version]))

    def entries(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for name in sorted(self.r.scan_iter(match=PREFIX + "*")):
            entry = _entry(self.r.hgetall(name))
            if entry is not None:
                out[name[len(PREFIX):]] = entry
        return out


def make_cache(kind: str, ledger: Ledger | None = None) -> ModelCache:
    return RedisCache(ledger) if kind == "redis" else ModelCache(ledger)


# ------------------------------------------------------------- the database
@dataclass(frozen=True)
class Commit:
    key: str
    value: int
    version: int
    at: float  # virtual seconds


@dataclass
class Database:
    """SQLite with one row per key; every call is one transaction.

    ``read_latency`` (virtual seconds) is how long a read's answer takes to
    come back *after* the row was read: a slow network or a busy replica,
    the window in which a reader holds a value that may already be old.
    ``queries`` counts reads (row or version), the load the cache exists to
    save; ``row_reads`` counts the row reads among them.  ``clock`` stamps
    commits (virtual time under the scheduler).
    """

    read_latency: float = 0.0
    keys: tuple[str, ...] = KEYS
    clock: Callable[[], float] = sync.monotonic
    ledger: Ledger | None = None
    commits: list[Commit] = field(default_factory=list)
    queries: int = 0
    row_reads: int = 0

    def __post_init__(self) -> None:
        self.con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.con.execute(
            "CREATE TABLE item (key TEXT PRIMARY KEY, value INTEGER NOT NULL CHECK (value >= 0), version INTEGER NOT NULL)"
        )
        self.con.executemany("INSERT INTO item VALUES (?, ?, 1)", [(k, INITIAL) for k in self.keys])
        self.commits = [Commit(k, INITIAL, 1, 0.0) for k in self.keys]

    def read(self, key: str) -> tuple[int, int]:
        """``(value, version)`` of the row, as of now."""
        sync.external("db", key, write=False, what=f"db SELECT {key}", depth=1)
        self.queries += 1
        self.row_reads += 1
        value, version = self.con.execute("SELECT value, version FROM item WHERE key = ?", (key,)).fetchone()
        if self.ledger is not None:
            self.ledger.note("row", key, version=int(version))
        if self.read_latency:
            sync.sleep(self.read_latency)
        return int(value), int(version)

    def version_of(self, key: str) -> int:
        """Only the version: the cheap query a version check makes on every read."""
        sync.external("db", key, write=False, what=f"db SELECT version {key}", depth=1)
        self.queries += 1
        (version,) = self.con.execute("SELECT version FROM item WHERE key = ?", (key,)).fetchone()
        if self.read_latency:
            sync.sleep(self.read_latency)
        return int(version)

    def commit(self, key: str, value: int) -> int:
        """Write the row in one transaction; its new version, or :class:`Rejected`."""
        sync.external("db", key, write=True, what=f"db UPDATE {key}={value}", depth=1)
        try:
            self.con.execute("BEGIN IMMEDIATE")
            self.con.execute("UPDATE item SET value = ?, version = version + 1 WHERE key = ?", (value, key))
            (version,) = self.con.execute("SELECT version FROM item WHERE key = ?", (key,)).fetchone()
            self.con.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            self.con.execute("ROLLBACK")
            raise Rejected(str(exc)) from None
        self.commits.append(Commit(key, value, int(version), self.clock()))
        if self.ledger is not None:
            self.ledger.note("commit", key, version=int(version))
        return int(version)

    def rows(self) -> dict[str, tuple[int, int]]:
        """Every row, for properties (not a request)."""
        return {k: (int(v), int(ver)) for k, v, ver in self.con.execute("SELECT key, value, version FROM item ORDER BY key")}

    def close(self) -> None:
        self.con.close()
