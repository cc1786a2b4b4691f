"""Shared by the caching benchmarks: a seeded event loop on virtual time where
database answers take time to come back, and a staleness judge.

The catalogue checks *whether* a race can happen (every interleaving, on
tiny seeds); these benchmarks measure *how often* it happens and what it
costs at a production-like rate: Poisson reads and writes over many keys
for minutes of virtual time.  The application code is the catalogue's own
(``systems/write_through.py``, ``systems/read_through.py``, ...), run
outside the scheduler.  Each request runs in a greenlet; the database runs
the statement at once (the real SQLite) and its *answer* comes back after
an exponentially distributed latency - the window in which a caller holds
a value that may already be old, or has committed but not yet touched the
cache.  Cache commands are instantaneous.  Nothing depends on wall-clock
time: the same seed gives the same numbers.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import greenlet

from systems._cache_parts import Database, Rejected


class Loop:
    """A heap of (virtual time, action); requests are greenlets that park on latency."""

    def __init__(self, seed: int) -> None:
        self.now = 0.0
        self.rng = random.Random(seed)
        self._heap: list[tuple[float, int, Callable[[], Any]]] = []
        self._seq = 0
        self._main = greenlet.getcurrent()

    def __call__(self) -> float:  # the clock
        return self.now

    def at(self, t: float, action: Callable[[], Any]) -> None:
        heapq.heappush(self._heap, (t, self._seq, action))
        self._seq += 1

    def spawn(self, t: float, body: Callable[[], Any]) -> None:
        """Run ``body`` in its own greenlet from time ``t``."""
        self.at(t, greenlet.greenlet(body, parent=self._main).switch)

    def park(self, delay: float) -> None:
        """Suspend the calling request for ``delay`` virtual seconds."""
        self.at(self.now + delay, greenlet.getcurrent().switch)
        self._main.switch()

    def run(self) -> None:
        while self._heap:
            self.now, _, action = heapq.heappop(self._heap)
            action()


@dataclass
class LatentDatabase(Database):
    """The catalogue's SQLite database; each answer returns after a random latency."""

    loop: Loop | None = None
    mean_latency: float = 0.005

    def _wait(self) -> None:
        assert self.loop is not None
        if self.mean_latency > 0:
            self.loop.park(self.loop.rng.expovariate(1 / self.mean_latency))

    def read(self, key: str) -> tuple[int, int]:
        row = super().read(key)
        self._wait()
        return row

    def version_of(self, key: str) -> int:
        version = super().version_of(key)
        self._wait()
        return version

    def commit(self, key: str, value: int) -> int:
        try:
            version = super().commit(key, value)
        except Rejected:
            self._wait()
            raise
        self._wait()
        return version


@dataclass
class Judge:
    """Staleness of reads against the database's commit log (values are unique per write).

    A read that started at ``s``, ended at ``e`` and returned ``v`` is fresh
    if ``v`` was the committed value at some instant of ``[s, e]``; else its
    staleness is ``s`` minus the time ``v`` was overwritten.  A value that was
    not committed by the time it was served is counted apart.
    """

    db: Database
    reads: list[tuple[str, float, float, int]] = field(default_factory=list)

    def read(self, key: str, start: float, end: float, value: int) -> None:
        self.reads.append((key, start, end, value))

    def outcome(self) -> tuple[int, int, list[float]]:
        """(reads, never-committed reads, sorted staleness of the others)."""
        spans: dict[tuple[str, int], tuple[float, float]] = {}
        last: dict[str, tuple[int, float]] = {}
        for c in self.db.commits:
            if c.key in last:
                value, since = last[c.key]
                spans[(c.key, value)] = (since, c.at)
            last[c.key] = (c.value, c.at)
        for key, (value, since) in last.items():
            spans[(key, value)] = (since, float("inf"))
        never = 0
        ages: list[float] = []
        for key, start, end, value in self.reads:
            span = spans.get((key, value))
            if span is None:
                never += 1
                continue
            since, until = span
            if since > end:  # served before it was committed (and it might never have been)
                never += 1
                continue
            ages.append(max(0.0, start - until) if until < start else 0.0)
        ages.sort()
        return len(self.reads), never, ages


def poisson(rng: random.Random, rate: float, seconds: float) -> list[float]:
    out: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= seconds:
            return out
        out.append(t)


def workload(seed: int, keys: tuple[str, ...], read_rate: float, write_rate: float, seconds: float,
             rejected: float = 0.0) -> list[tuple[float, str, str, int]]:
    """(time, "read" | "write", key, value): Poisson reads over all keys, writes per key.

    Written values are unique (so a read's value names the write it came
    from); a ``rejected`` fraction of writes is negative, which the
    database's ``CHECK (value >= 0)`` refuses."""
    rng = random.Random(seed)
    events = [(t, "read", rng.choice(keys), 0) for t in poisson(rng, read_rate, seconds)]
    n = 0
    for key in keys:
        for t in poisson(rng, write_rate, seconds):
            n += 1
            events.append((t, "write", key, -n if rng.random() < rejected else n))
    events.sort()
    return events


def drive(loop: Loop, app: Any, db: Database, events: list[tuple[float, str, str, int]],
          keys: tuple[str, ...], cached: bool = True) -> dict[str, float]:
    """Run ``events`` against ``app`` (``read(key)``, ``update(key, value)``) and measure.

    Returns reads, database queries, reads of a value not committed by then
    (``never``), stale reads and the worst staleness, ``left_stale``: how
    often the last operation in flight on a key finished leaving its cache
    entry newly disagreeing with the database (wrong until something else
    touches the key: for good, if nothing does), and
    ``at_end``: keys still wrong when everything has finished.
    """
    judge = Judge(db)
    inflight = dict.fromkeys(keys, 0)
    wrong = dict.fromkeys(keys, False)
    left_stale = 0

    def differs(key: str) -> bool:
        entry = app.cache.entries().get(key)
        return cached and entry is not None and entry.value is not None and entry.value != db.rows()[key][0]

    def request(op: str, key: str, value: int) -> Callable[[], None]:
        def body() -> None:
            nonlocal left_stale
            inflight[key] += 1
            start = loop.now
            if op == "read":
                judge.read(key, start, loop.now, app.read(key))
            else:
                app.update(key, value)
            inflight[key] -= 1
            if inflight[key] == 0:
                now_wrong = differs(key)
                left_stale += now_wrong and not wrong[key]  # a new episode, not one read of an old one
                wrong[key] = now_wrong
        return body

    for t, op, key, value in events:
        loop.spawn(t, request(op, key, value))
    loop.run()
    reads, never, ages = judge.outcome()
    stale = [a for a in ages if a > 0]
    return {"reads": reads, "queries": db.queries, "never": never, "stale": len(stale),
            "worst": max(stale, default=0.0), "left_stale": left_stale, "at_end": sum(map(differs, keys))}


def percentile(ages: list[float], q: float) -> float:
    return ages[int(q * (len(ages) - 1))] if ages else 0.0
