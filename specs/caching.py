"""What the caching systems share in their specs: the register a cache fronts,
and the checks on what the cache holds.

The sequential model is the database's: one register per key (initially 0),
``update(k, v)`` sets it - or, for ``v < 0``, is ``"rejected"`` by the
database's CHECK constraint and changes nothing - and ``read(k)`` returns
it.  A cache in front is *correct* when reads through it are linearizable
against this model: the cache is invisible.  Some caches promise less (a TTL
cache: at most T seconds stale) and say so in their own spec.

The checks are pure functions returning ``None`` when the property holds,
else one line saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from racekit import History, Spec


class EntryLike(Protocol):
    value: int | None
    version: int


class CommitLike(Protocol):
    key: str
    value: int
    version: int
    at: float


INITIAL = 0


class CachedRegisterSpec(Spec):
    """Per key: ``update(k, v) -> "ok" | "rejected"`` (v < 0), ``read(k) -> v``."""

    name: ClassVar[str] = "cached-register"

    def init(self) -> Hashable:
        return INITIAL

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "update":
            value = args[1]
            return (state, "rejected") if value < 0 else (value, "ok")
        if name == "read":
            return state, state
        if name == "pause":
            return state, None
        raise ValueError(f"cached-register spec has no operation {name!r}")

    def partition_key(self, name: str, args: tuple[Any, ...]) -> Hashable | None:
        return args[0] if name in ("update", "read") else None

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return name in ("read", "pause") or (name == "update" and args[1] < 0)


class ReadsUncheckedSpec(CachedRegisterSpec):
    """The same register, but any read *value* matches: linearizability is not
    what this run is judged on.  A broken variant is searched for its own
    declared property only (as the simulator does), so the counterexample
    shows the bug the variant documents rather than the first symptom; a TTL
    cache is judged on its own staleness bound instead.  A read that raised
    still fails: no promise of a cache allows a crash."""

    name: ClassVar[str] = "cached-register (read values unchecked)"

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        if name == "read":
            return not (isinstance(observed, tuple) and observed[:1] == ("error",))
        return bool(expected == observed)


def committed_values(commits: Iterable[CommitLike]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for c in commits:
        out.setdefault(c.key, set()).add(c.value)
    return out


def never_committed_read(history: History, commits: Sequence[CommitLike]) -> str | None:
    """Every read returned a value the database committed (or started with) for that key."""
    ok = committed_values(commits)
    for op in history:
        if op.name != "read" or op.status != "ok" or not isinstance(op.result, int):
            continue
        if op.result not in ok.get(op.args[0], set()):
            seen = sorted(ok.get(op.args[0], set()))
            return (
                f"read({op.args[0]!r}) returned {op.result}, which the database never committed "
                f"(committed values of {op.args[0]!r}: {seen})"
            )
    return None


def cache_disagrees(entries: Mapping[str, EntryLike], rows: Mapping[str, tuple[int, int]]) -> str | None:
    """Every value the cache holds is the database's current value of that key."""
    for key, entry in sorted(entries.items()):
        if entry.value is None:
            continue  # a tombstone or a lease: no value to serve
        value, version = rows[key]
        if entry.value != value:
            return (
                f"the cache holds {key}={entry.value} but the database has {key}={value} (v{version}), "
                f"and no operation is left to fix it"
            )
    return None


HIT = "a cache hit never reads the database"


def holds_value(entry: Any, at: float, row_version: int | None) -> bool:
    """A value to serve (not a tombstone, not a lease)."""
    return entry.value is not None and entry.lease is None


def unexpired(entry: Any, at: float, row_version: int | None) -> bool:
    """A value whose TTL had not run out when it was looked up."""
    return holds_value(entry, at, row_version) and entry.expires is not None and at < entry.expires


def current(entry: Any, at: float, row_version: int | None) -> bool:
    """A value of the very row version the database then returned: the read could have used it."""
    return holds_value(entry, at, row_version) and entry.version == row_version


def wasted_read(ledger: Iterable[Any], servable: Callable[[Any, float, int | None], bool]) -> str | None:
    """No read goes to the database when the lookup just before it (same thread, same key)
    found an entry it could serve: the cache exists to save exactly those reads.
    A cache that is always bypassed is correct and useless; this is what says so."""
    last: dict[tuple[int, str], Any] = {}
    for seen in ledger:
        if seen.what == "lookup":
            last[seen.thread, seen.key] = seen
        elif seen.what == "row":
            found = last.pop((seen.thread, seen.key), None)
            if found is not None and found.entry is not None and servable(found.entry, found.at, seen.version):
                return (
                    f"a read of {seen.key!r} found {found.entry.text()} in the cache at {found.at:g}s, "
                    f"could have served it, and read the database anyway"
                )
    return None


TAGGED = "every cached value carries its committed version"


def mistagged(entries: Mapping[str, Any], commits: Iterable[CommitLike]) -> str | None:
    """Every cached value is tagged with the version the database committed it as.

    The version is what every ordering decision rests on (set-if-newer, a
    version check, a tombstone); an entry tagged with the wrong one is
    either never served again or overwrites newer data.  Entries of designs
    that keep no versions (tag 0) are exempt only in the broken variants,
    which are not judged on this.
    """
    committed = {(c.key, c.value, c.version) for c in commits}
    for key, entry in sorted(entries.items()):
        if entry.value is None:
            continue
        if (key, entry.value, entry.version) not in committed:
            return f"the cache holds {key}={entry.value} tagged v{entry.version}, but the database never committed that value as that version"
    return None


KEPT = "a fill is kept: the next read of the key hits"


def forgotten_fill(ledger: Iterable[Any]) -> str | None:
    """A reader that missed, read the row and (holding no one else's lease) filled the cache
    must find a value at its next lookup of that key, unless the key was written or
    invalidated after the lookup that started the fill (a lease or a version may then
    refuse it).

    (An expired value still counts as found: expiry is the TTL's business, not
    this check's.)  Catches a fill that never sticks - refused by a tombstone
    or an entry of its own version - which leaves every later read a miss:
    correct, and a cache in name only.
    """
    seen_list = list(ledger)
    last_lookup: dict[tuple[int, str], int] = {}
    pending: dict[tuple[int, str], tuple[int, Any]] = {}  # -> (index of the starting lookup, the row read)
    for i, seen in enumerate(seen_list):
        where = (seen.thread, seen.key)
        if seen.what == "row":
            j = last_lookup.get(where)
            before = seen_list[j] if j is not None else None
            others_lease = before is not None and before.entry is not None and before.entry.lease is not None
            if j is not None and not others_lease:
                pending[where] = (j, seen)
        elif seen.what == "lookup":
            last_lookup[where] = i
            started = pending.pop(where, None)
            if started is None or (seen.entry is not None and seen.entry.value is not None):
                continue
            j, row = started
            if any(s.what in ("commit", "evict") and s.key == seen.key for s in seen_list[j:i]):
                continue
            found = "nothing" if seen.entry is None else seen.entry.text()
            return (
                f"a read of {seen.key!r} filled the cache with v{row.version} at {row.at:g}s, but the same "
                f"thread's next lookup found {found} at {seen.at:g}s with no write since: the fill was not kept"
            )
    return None
