"""Sequential model of the write-behind cache, and what its database may look like.

The model is a key-value map: ``put(k, v)`` then ``get(k) == v``.  The
database behind it lags: at any instant - in particular right after a
crash - it must equal the model after some *prefix* of the writes, in the
order they were issued (acknowledged ones, plus the one in flight).  After
recovery nothing acknowledged may be missing.

A write is ``(seq, key, value, acked)``; a database row is
``key -> (value, seq)``.  The checks are pure functions returning ``None``
when the property holds, else one line saying why.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from racekit import Spec


class Write(NamedTuple):
    seq: int
    key: str
    value: str
    acked: bool


Rows = Mapping[str, tuple[str, int]]


class KVSpec(Spec):
    """``put(k, v) -> None``, ``get(k) -> v | None`` over a frozen mapping."""

    name: ClassVar[str] = "write-behind-kv"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        current = dict(state)
        if name == "put":
            current[args[0]] = args[1]
            return frozenset(current.items()), None
        if name == "get":
            return state, current.get(args[0])
        raise ValueError(f"write-behind spec has no operation {name!r}")


def apply_prefix(writes: Sequence[Write], upto: int) -> dict[str, Write]:
    """The latest write per key among those with ``seq <= upto``.

    post: all(w.seq <= upto for w in __return__.values())
    """
    state: dict[str, Write] = {}
    for w in sorted(writes, key=lambda w: w.seq):
        if w.seq <= upto:
            state[w.key] = w
    return state


def torn(rows: Rows, writes: Sequence[Write]) -> str | None:
    """Every row is one whole write: its value and its sequence number belong together."""
    by_seq = {w.seq: w for w in writes}
    for key, (value, seq) in sorted(rows.items()):
        w = by_seq.get(seq)
        if w is None or w.key != key or w.value != value:
            origin = next((f"write #{x.seq} ({x.key}={x.value})" for x in writes if x.key == key and x.value == value), "no write")
            return (
                f"row {key}={value!r} carries sequence number {seq} but its value comes from {origin}: "
                f"a torn record"
            )
    return None


def not_prefix(rows: Rows, writes: Sequence[Write]) -> str | None:
    """The rows equal the state after some prefix of the writes (by sequence number)."""
    upto = max((seq for _, seq in rows.values()), default=0)
    expect = apply_prefix(writes, upto)
    for key in sorted(set(expect) | set(rows)):
        want = expect.get(key)
        got = rows.get(key)
        if want is None and got is not None:
            return f"row {key}={got[0]!r} (#{got[1]}) exists but no write to {key} comes before #{upto}"
        if want is not None and (got is None or got[1] != want.seq):
            have = "nothing" if got is None else f"{key}={got[0]!r} (#{got[1]})"
            newest = next(w for w in writes if w.seq == upto)
            return (
                f"the database holds write #{upto} ({newest.key}={newest.value}) but has {have} "
                f"instead of the earlier write #{want.seq} ({key}={want.value}): not a prefix of the writes"
            )
    return None


def lost(rows: Rows, writes: Sequence[Write]) -> str | None:
    """Every acknowledged write is in the database or overwritten by a later write."""
    latest: dict[str, Write] = {}
    for w in sorted(writes, key=lambda w: w.seq):
        if w.acked:
            latest[w.key] = w
    for key, w in sorted(latest.items()):
        got = rows.get(key)
        if got is None or got[1] < w.seq:
            have = "no row" if got is None else f"{key}={got[0]!r} (#{got[1]})"
            return f"acknowledged write #{w.seq} ({key}={w.value}) is lost: the database has {have}"
    return None


def stale_read(key: str, got: str | None, writes: Sequence[Write]) -> str | None:
    """A get returns the newest write to its key (acknowledged or retried in flight), or None if none."""
    newest = max((w for w in writes if w.key == key), key=lambda w: w.seq, default=None)
    want = None if newest is None else newest.value
    if got != want:
        return f"get({key}) returned {got!r} but the newest write to {key} is {want!r}" + (
            f" (#{newest.seq})" if newest else ""
        )
    return None
