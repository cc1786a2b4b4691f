"""Sequential model of the log aggregator, and the checks on what it stored.

The model: an append-only multiset of lines ``(source, seq, service, ts,
text)``, each at most once; ``query(service, since, until)`` returns the
lines of that service with ``since <= ts <= until``, ordered by ``(ts,
source, seq)``.  A source's timestamps never go down, so a query keeps each
source's order.

Under crashes the store holds every *acked* line and possibly some lines
that were written but not acked yet (a crash after the fsync, before the
ack - the source re-sends them, and they must not be stored twice).  The
checks compare what a reader finds after every writer has recovered:

* ``no-torn-line`` - every stored line is, byte for byte, a line its source sent;
* ``no-acked-line-lost`` - every acked line is stored;
* ``query-exact`` - no line stored twice, and each query returns exactly the
  model's answer over the stored lines (nothing missing, nothing extra);
* ``per-source-order`` - a source's lines come in the order it sent them,
  in the store and in every query;
* ``every-line-acked`` (liveness) - once the writers have run to their end,
  through any crashes and restarts, every line sent has been acked (a
  writer that stores but never acks would make its source re-send forever).

Each check is a pure function returning None when the property holds, else
one line saying why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from systems.log_aggregator import Line

Key = tuple[str, int]  # (source, seq)
Sent = Mapping[Key, tuple[str, int, str]]  # (source, seq) -> (service, ts, text)


def show(line: Line) -> str:
    return f"{line.source}#{line.seq} [{line.service} t={line.ts}] {line.text!r}"


def torn(stored: Sequence[Line], sent: Sent) -> str | None:
    for ln in stored:
        if ln.torn:
            return f"a stored line does not decode: {ln.torn!r}"
        want = sent.get((ln.source, ln.seq))
        if want is None:
            return f"stored {show(ln)} was never sent"
        if (ln.service, ln.ts, ln.text) != want:
            return f"stored {show(ln)}, but {ln.source} sent #{ln.seq} as [{want[0]} t={want[1]}] {want[2]!r}"
    return None


def lost(stored: Sequence[Line], acked: Iterable[Key]) -> str | None:
    have = {(ln.source, ln.seq) for ln in stored}
    for key in sorted(acked):
        if key not in have:
            return f"acked line {key[0]}#{key[1]} is not stored"
    return None


def duplicated(stored: Sequence[Line]) -> str | None:
    seen: set[Key] = set()
    for ln in stored:
        key = (ln.source, ln.seq)
        if key in seen:
            return f"{ln.source}#{ln.seq} is stored twice"
        seen.add(key)
    return None


def expected(stored: Sequence[Line], service: str, since: int, until: int) -> list[Line]:
    """The model's answer to a query over ``stored``."""
    found = [ln for ln in stored if not ln.torn and ln.service == service and since <= ln.ts <= until]
    return sorted(found, key=lambda ln: (ln.ts, ln.source, ln.seq))


def inexact(got: Sequence[Line], stored: Sequence[Line], service: str, since: int, until: int) -> str | None:
    want = expected(stored, service, since, until)
    if list(got) == want:
        return None
    missing = [show(ln) for ln in want if ln not in got]
    extra = [show(ln) for ln in got if ln not in want]
    what = f"query({service!r}, {since}..{until})"
    if missing:
        return f"{what} misses {missing[0]}"
    if extra:
        return f"{what} returns {extra[0]}, which is not a stored line of that service and range"
    return f"{what} returns the right lines in the wrong order: {', '.join(show(ln) for ln in got)}"


def out_of_order(lines: Sequence[Line], where: str) -> str | None:
    last: dict[str, int] = {}
    for ln in lines:
        if ln.torn:
            continue
        if ln.source in last and ln.seq <= last[ln.source]:
            return f"{where}: {ln.source}#{ln.seq} comes after {ln.source}#{last[ln.source]}"
        last[ln.source] = ln.seq
    return None


def unacked(sent: Iterable[Key], acked: Iterable[Key]) -> str | None:
    missing = sorted(set(sent) - set(acked))
    if missing:
        return f"line {missing[0][0]}#{missing[0][1]} was never acked ({len(missing)} of the lines sent)"
    return None
