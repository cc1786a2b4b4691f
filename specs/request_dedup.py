"""Sequential model of request deduplication with a window, and the checks on the durable state.

Sequentially, ``handle(id, t)`` (``t``: the server's clock) processes the
request - one effect - unless the same id was processed less than a window
ago, measured on the server's clock, in which case it answers "duplicate".
Once the window has passed, the store *may* have forgotten the id (process
again) or not yet (a store that expires lazily, or on its own clock, like
Redis): both answers are allowed.  The window is symmetric - ``|t - t0| <
window`` - because concurrent instances do not handle requests in the order
of their timestamps.

Under concurrency the observable consequences, checked on the effects table
and the store:

* ``effect-per-request`` - every effect is that of a request: the id, the
  instance that handled it, and its server time;
* ``processed-once-in-window`` - no two effects of one id less than a window apart;
* ``no-request-lost`` - every id that was sent has at least one effect (a
  "duplicate" answer is only right if someone processed it);
* ``memory-bounded`` - the store holds only entries of the last window
  (SQLite: rows; Redis: every key carries an expiry of at most the window);
* ``linearizability`` - the answers, in real time, are those of this model.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, ClassVar, NamedTuple

from racekit import Outcomes, Spec


class Effect(NamedTuple):
    request_id: str
    instance: str
    at_ms: int


class DedupSpec(Spec):
    """Per request id (a partition): the tuple of server times at which it was processed."""

    name: ClassVar[str] = "request-dedup"

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms

    def init(self) -> Hashable:
        return ()

    def partition_key(self, name: str, args: tuple[Any, ...]) -> Hashable | None:
        return args[0]

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name != "handle":
            raise ValueError(f"dedup spec has no operation {name!r}")
        _, t = args
        processed = (*state, t)
        if any(abs(t - t0) < self.window_ms for t0 in state):
            return state, "duplicate"
        if state:  # seen, but longer ago than the window: forgotten or not yet
            return Outcomes(((processed, "processed"), (state, "duplicate")))
        return processed, "processed"


def processed_twice(effects: Sequence[Effect], window_ms: int) -> str | None:
    """Two effects of one id less than a window apart.

    post: __return__ is None or 'processed twice' in __return__
    """
    by_id: dict[str, list[Effect]] = {}
    for e in effects:
        by_id.setdefault(e.request_id, []).append(e)
    for rid in sorted(by_id):
        times = sorted(by_id[rid], key=lambda e: e.at_ms)
        for a, b in zip(times, times[1:], strict=False):
            if b.at_ms - a.at_ms < window_ms:
                return (
                    f"request {rid} was processed twice within the window: by {a.instance} at t={a.at_ms} ms "
                    f"and by {b.instance} at t={b.at_ms} ms ({(b.at_ms - a.at_ms) / 1000:g} s apart)"
                )
    return None


def unmatched(sent: Iterable[tuple[str, str, int]], effects: Sequence[Effect]) -> str | None:
    """An effect no request explains: (instance, id, server time) of every effect must be one that was sent."""
    requests = set(sent)
    for e in effects:
        if (e.instance, e.request_id, e.at_ms) not in requests:
            return f"an effect of {e.request_id} by {e.instance} at t={e.at_ms} ms matches no request that instance handled"
    return None


def lost(sent: Iterable[str], effects: Sequence[Effect]) -> str | None:
    done = {e.request_id for e in effects}
    missing = sorted(set(sent) - done)
    if missing:
        return f"request {missing[0]} was answered but never processed"
    return None


def rows_over_bound(rows: Sequence[tuple[str, int]], effects: Sequence[Effect], last_ms: int, window_ms: int) -> str | None:
    """SQLite store after the last request (server time ``last_ms``): only ids processed in the last window.

    Every request purges what expired by its own clock, so after one at
    ``last_ms`` nothing older than a window may be left.
    """
    live = {e.request_id for e in effects if last_ms - e.at_ms < window_ms}
    stale = sorted({rid for rid, _ in rows} - live)
    if stale:
        expiries = {rid: exp for rid, exp in rows}
        return (
            f"the store still holds {stale[0]} (expires at t={expiries[stale[0]]} ms) at t={last_ms} ms, "
            f"more than a window after it was processed: {len(rows)} entries for {len(live)} ids of the last window"
        )
    if len(rows) > len(live):
        return f"the store holds {len(rows)} entries for {len(live)} ids of the last window"
    return None


def ttl_over_bound(ttls: dict[str, int], window_ms: int) -> str | None:
    """Redis: every key expires, within the window (PTTL -1 = never, -2 = gone)."""
    for key in sorted(ttls):
        ttl = ttls[key]
        if ttl == -1:
            return f"{key} never expires (no TTL): the store grows without bound"
        if ttl > window_ms:
            return f"{key} expires in {ttl} ms, more than the {window_ms} ms window"
    return None


def check_effects(
    sent: Sequence[tuple[str, str, int]], effects: Sequence[Effect], window_ms: int
) -> tuple[str, str] | None:
    """(property, why) of the first property the effects break, or None.

    ``sent``: (instance, request id, server time) of every request handled.
    """
    for prop, why in (
        ("effect-per-request", unmatched(sent, effects)),
        ("processed-once-in-window", processed_twice(effects, window_ms)),
        ("no-request-lost", lost((rid for _, rid, _ in sent), effects)),
    ):
        if why:
            return prop, why
    return None
