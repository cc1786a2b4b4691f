"""Spec of event-driven invalidation: how long the cache may disagree with the database.

The model is the database's register per key (``specs.caching``), but a
cache kept fresh by asynchronous events is not linearizable and does not
claim to be: between a commit and the arrival of its event, reads are
stale.  What it must promise is that staleness *ends*:

**staleness bounded after heal** (a bounded-liveness property).  Let the
*quiet time* Q be the later of the last commit and the moment the last
fault's effect is over (a partition healed, a delayed message delivered, a
paused node running again).  Then every read that starts at or after
``Q + bound`` returns the last committed value, and at the end of the run
no unexpired cache entry disagrees with it.  The bound is the event path's
delivery slack when nothing failed (events are *the* way changes arrive;
a cache that only ever catches up by expiry is not event-invalidated) and
TTL + slack after a fault (the TTL is the backstop).  A variant whose
staleness can last forever (no TTL, and an event that never arrives or
arrives out of order) fails it in a finite run: the run ends long after Q
and the entry is still wrong - a lasso, since nothing is left that could
ever change it.  "The last committed value" comes from the database's
commit log (what writers were told was committed), not from its rows, so a
database that loses a write is caught too.

Without faults the bound applies to every commit, not just the last: a
read that starts ``slack`` ms after a commit sees it or something newer
(:func:`behind_events`).

**every request is answered when nothing fails**: in a run without faults
every client operation returns (reads and updates alike); with faults,
operations may time out.

**a refilled entry is served until it expires**: without faults, two
reads of one key that both miss must be at least a TTL apart (less the
slack a refill takes to land) unless a commit of that key came between -
otherwise the cache threw its refill away or never kept it, and is
correct only because it is useless.

All three are checked at the end of the run over virtual time (the world's trace
gives every step's time), until the spec layer's liveness properties land.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FAULTS = ("drop", "dup", "delay", "partition", "crash", "pause", "skew")


@dataclass(frozen=True)
class TimedRead:
    key: str
    at: int
    value: Any
    answered: bool = True


@dataclass(frozen=True)
class CachedValue:
    key: str
    value: int
    expires: float | None


def quiet_time(commit_times: Iterable[int], fault_times: Iterable[int], longest_fault: int) -> int:
    """The later of the last commit and the end of the last fault's effect.

    post: __return__ >= 0
    """
    last_commit = max(commit_times, default=0)
    last_fault = max((t + longest_fault for t in fault_times), default=0)
    return max(0, last_commit, last_fault)


def latest_commits(commits: Iterable[tuple[str, int, int]], initial: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Per key, the ``(value, version)`` of the last commit (in commit order) or the initial row."""
    rows = dict(initial)
    for key, value, version in commits:
        rows[key] = (value, version)
    return rows


def staleness_after_heal(
    quiet: int,
    bound: int,
    end: int,
    rows: Mapping[str, tuple[int, int]],
    reads: Sequence[TimedRead],
    cached: Sequence[CachedValue],
) -> str | None:
    """Reads from ``quiet + bound`` on return the last committed value, and every live entry holds it at ``end``."""
    settled = quiet + bound
    for r in reads:
        if r.at >= settled and r.answered and r.value != rows[r.key][0]:
            return (
                f"read({r.key!r}) at {r.at} ms returned {r.value} but the database has "
                f"{r.key}={rows[r.key][0]} (v{rows[r.key][1]}): still stale {r.at - quiet} ms after the "
                f"last write and the last fault were over (at {quiet} ms; bound {bound} ms)"
            )
    if end < settled:
        return None  # the run ended too soon after the last fault to judge the cache
    for c in cached:
        if (c.expires is None or c.expires > end) and c.value != rows[c.key][0]:
            until = "forever (no TTL)" if c.expires is None else f"until {c.expires:g} ms"
            return (
                f"at {end} ms the cache holds {c.key}={c.value} {until} but the database has "
                f"{c.key}={rows[c.key][0]} (v{rows[c.key][1]}): still stale {end - quiet} ms after the "
                f"last write and the last fault were over (at {quiet} ms; bound {bound} ms)"
            )
    return None


def behind_events(reads: Sequence[TimedRead], commits: Sequence[tuple[int, str, int, int]], slack: int) -> str | None:
    """Without faults, every read sees every commit made ``slack`` ms or more before it began.

    ``commits`` are ``(time, key, value, version)``.  A read passes if it
    returned the value of that commit or of any later one.
    """
    for r in reads:
        if not r.answered:
            continue
        mine = [c for c in commits if c[1] == r.key]
        due = [c for c in mine if c[0] <= r.at - slack]
        if not due:
            continue
        need = max(due, key=lambda c: c[3])
        if r.value not in {c[2] for c in mine if c[3] >= need[3]}:
            return (
                f"read({r.key!r}) at {r.at} ms returned {r.value}, but {r.key}={need[2]} (v{need[3]}) was "
                f"committed at {need[0]} ms: its event should have arrived within {slack} ms, and nothing failed"
            )
    return None


def forgotten_refill(misses: Sequence[tuple[int, str]], commit_times: Mapping[str, Sequence[int]], ttl: int, slack: int) -> str | None:
    """Two misses of one key, ``slack`` to ``ttl`` apart, no commit of it between: a lost refill.

    ``misses`` are ``(time, key)`` in time order.
    """
    last: dict[str, int] = {}
    for at, key in misses:
        before = last.get(key)
        last[key] = at
        if before is None or not before + slack <= at < before + ttl:
            continue
        if any(before <= c <= at for c in commit_times.get(key, ())):
            continue
        return (
            f"read({key!r}) missed at {before} ms and again at {at} ms, {at - before} ms later - within the "
            f"{ttl} ms TTL of the first miss's refill, with no write between: the refill was not kept"
        )
    return None


def unanswered(operations: Iterable[Any], faults: int) -> str | None:
    """In a run without faults every operation returned; ``operations`` are history operations."""
    if faults:
        return None
    for op in operations:
        if op.status != "ok":
            return f"{op.call_repr()} by {op.process} was never answered, in a run without a single fault"
    return None
