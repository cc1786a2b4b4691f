"""Distributed per-user rate limiter: several instances, no shared memory (seed 6 + project 1).

Every instance is an app server that receives ``hit(user)`` and answers
True (serve) or False (429).  The limit is ``limit`` requests per user per
``window_ms`` (the seed's 100/min, scaled to 5 per second so a simulated
run crosses several windows in a few hundred events).  Instances do not
share memory; they only exchange messages, and their clocks are skewed and
may step.

* ``local_buckets``  - each instance limits on its own: N instances admit N x limit.
* ``fixed_window``   - one owner per user (single authority) counting per
  fixed wall-clock window: ``limit`` at the end of one window plus ``limit``
  at the start of the next = 2 x limit inside one window's length.
* ``strong``         - one owner per user (``crc32(user) % N``) keeps a
  sliding log of admission times on its *monotonic* clock; the other
  instances forward and fail closed (``unavailable``) on timeout.  After a
  restart the owner refuses for one window (its log was in memory).
* ``approximate``    - every instance admits locally from its own sliding
  log plus the per-user counts its peers gossip every ``gossip_ms``; at most
  ``burst`` local admissions per user between two of its own reports; if a
  peer has been silent for ``stale_ms`` it falls back to its static share
  ``limit // N``; after a restart it admits nothing and claims the whole
  budget in its reports for one window (its log was in memory).  Over-admission is bounded by ``approx_bound`` (derived in
  docs/systems/rate_limiter.md).

The Redis ``INCR``/``EXPIRE`` pair runs against a real redis-server in
``tests/test_rate_limiter_redis.py``.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request


@dataclass(frozen=True)
class Limits:
    limit: int = 5
    window_ms: int = 1000
    forward_timeout_ms: int = 30
    gossip_ms: int = 100
    stale_ms: int = 250
    burst: int = 1


UNAVAILABLE = "unavailable"
"""Refused without a decision (owner unreachable or recovering): a 503, not a 429.
The owner may or may not have counted it, so a history treats it as unknown."""


def owner_of(user: str, instances: tuple[str, ...]) -> str:
    """The single authority for a user: a stable hash, the same on every instance."""
    return instances[zlib.crc32(user.encode()) % len(instances)]


def approx_bound(limits: Limits, n: int, max_delay_ms: int) -> int:
    """The most the approximate variant admits in one window (see the note for the derivation)."""
    missed_reports = -(-(limits.stale_ms + max_delay_ms) // limits.gossip_ms)
    return limits.limit + (n - 1) * limits.burst * (missed_reports + 1)


class SlidingLog:
    """Exact sliding window: admission times within the last ``window_ms``."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.times: deque[int] = deque()

    def count(self, now: int) -> int:
        while self.times and self.times[0] <= now - self.window_ms:
            self.times.popleft()
        return len(self.times)

    def add(self, now: int) -> None:
        self.times.append(now)


class Instance(Node):
    """Common plumbing: instances list, admission notes, client replies."""

    def __init__(self, instances: tuple[str, ...], limits: Limits) -> None:
        self.instances = instances
        self.limits = limits

    def admit_note(self, user: str) -> None:
        self.note("admit", user=user)

    def deny_note(self, user: str) -> None:
        """Ghost note of a 429 where it is decided: the harness checks it was deserved."""
        self.note("deny", user=user)


class LocalBuckets(Instance):
    """Broken: a correct sliding window, but per instance."""

    def on_start(self) -> None:
        self.logs: dict[str, SlidingLog] = {}

    def on_request(self, client: str, request: Request) -> None:
        user = request.args[0]
        log = self.logs.setdefault(user, SlidingLog(self.limits.window_ms))
        admit = log.count(self.monotonic()) < self.limits.limit
        if admit:
            log.add(self.monotonic())
            self.admit_note(user)
        self.reply(client, request, admit)


class Forwarding(Instance):
    """Owner routing: forward ``hit`` to the user's owner, fail closed on timeout."""

    def on_start(self) -> None:
        self.waiting: dict[str, tuple[str, Request]] = {}

    def on_request(self, client: str, request: Request) -> None:
        user = request.args[0]
        owner = owner_of(user, self.instances)
        if owner == self.id:
            self.reply(client, request, self.decide(user))
            return
        key = f"{client}/{request.req}"
        self.waiting[key] = (client, request)
        self.send(owner, ("decide", key, user))
        self.set_timer(key, self.limits.forward_timeout_ms)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "decide":
            self.send(src, ("verdict", msg[1], self.decide(msg[2])))
        elif msg[0] == "verdict" and msg[1] in self.waiting:
            client, request = self.waiting.pop(msg[1])
            self.cancel_timer(msg[1])
            self.reply(client, request, msg[2])

    def on_timer(self, name: str) -> None:
        if name in self.waiting:  # owner unreachable: refuse rather than guess
            client, request = self.waiting.pop(name)
            self.reply(client, request, UNAVAILABLE)

    def decide(self, user: str) -> bool | str:
        raise NotImplementedError


class Owner(Forwarding):
    """The single authority for its users.  Its counts are volatile, so after a
    restart it refuses (``unavailable``) for one window rather than forget."""

    def on_start(self) -> None:
        super().on_start()
        self.quiet_until = self.monotonic() + self.limits.window_ms if self.ctx.incarnation > 1 else 0

    def decide(self, user: str) -> bool | str:
        if self.monotonic() < self.quiet_until:
            return UNAVAILABLE
        admitted = self.admit(user)
        if admitted:
            self.admit_note(user)
        else:
            self.deny_note(user)
        return admitted

    def admit(self, user: str) -> bool:
        raise NotImplementedError


class FixedWindowOwner(Owner):
    """Broken: counts per fixed window ``now // window``; the count resets at the boundary."""

    def on_start(self) -> None:
        super().on_start()
        self.counts: dict[str, tuple[int, int]] = {}

    def admit(self, user: str) -> bool:
        window = self.now() // self.limits.window_ms
        current, count = self.counts.get(user, (window, 0))
        if current != window:
            count = 0
        if count >= self.limits.limit:
            return False
        self.counts[user] = (window, count + 1)
        return True


class SlidingOwner(Owner):
    """Fixed (strong): an exact sliding log on the owner's monotonic clock."""

    def on_start(self) -> None:
        super().on_start()
        self.logs: dict[str, SlidingLog] = {}

    def admit(self, user: str) -> bool:
        now = self.monotonic()
        log = self.logs.setdefault(user, SlidingLog(self.limits.window_ms))
        if log.count(now) >= self.limits.limit:
            return False
        log.add(now)
        return True


class GossipSliding(Instance):
    """Fixed (approximate): local sliding logs plus gossiped peer counts, with a safe fallback."""

    def on_start(self) -> None:
        self.logs: dict[str, SlidingLog] = {}
        self.since_report: dict[str, int] = {}
        self.reports: dict[str, tuple[int, dict[str, int]]] = {}  # peer -> (received at, counts)
        self.started_at = self.monotonic()
        self.set_timer("gossip", self.limits.gossip_ms)

    def peer_estimate(self, user: str, now: int) -> int | None:
        """Sum of fresh peer counts, or None when some peer is stale (fallback mode)."""
        total = 0
        for peer in self.ctx.peers:
            report = self.reports.get(peer)
            received = report[0] if report else self.started_at
            if now - received > self.limits.stale_ms:
                return None
            total += report[1].get(user, report[1].get("*", 0)) if report else 0
        return total

    def on_request(self, client: str, request: Request) -> None:
        user = request.args[0]
        now = self.monotonic()
        log = self.logs.setdefault(user, SlidingLog(self.limits.window_ms))
        own = log.count(now)
        peers = self.peer_estimate(user, now)
        if self.recovering(now):
            peers, own = None, self.limits.limit  # own log lost in a crash: admit nothing for a window
        if peers is None:
            admit = own < self.limits.limit // len(self.instances)
        else:
            admit = own + peers < self.limits.limit
        admit = admit and self.since_report.get(user, 0) < self.limits.burst
        if admit:
            log.add(now)
            self.since_report[user] = self.since_report.get(user, 0) + 1
            self.admit_note(user)
        else:
            self.deny_note(user)
        self.reply(client, request, admit)

    def recovering(self, now: int) -> bool:
        return self.ctx.incarnation > 1 and now - self.started_at < self.limits.window_ms

    def on_timer(self, name: str) -> None:
        now = self.monotonic()
        counts = {user: log.count(now) for user, log in sorted(self.logs.items())}
        if self.recovering(now):  # claim the whole budget: peers must not trust a count of 0
            counts = {"*": self.limits.limit}
        for peer in self.ctx.peers:
            self.send(peer, ("counts", tuple(sorted(counts.items()))))
        self.since_report.clear()
        self.set_timer("gossip", self.limits.gossip_ms)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "counts":
            self.reports[src] = (self.monotonic(), dict(msg[1]))


SYSTEM = System(
    name="rate_limiter",
    summary="per-user N requests per window across several instances without shared memory, under clock skew",
    kind="sim",
    variants=[
        Variant(
            "local_buckets",
            lambda: LocalBuckets,
            expect="violation",
            property="window_limit",
            bug="each instance keeps its own window: with N instances a user gets up to N x the limit",
        ),
        Variant(
            "fixed_window",
            lambda: FixedWindowOwner,
            expect="violation",
            property="window_limit",
            bug="fixed windows reset at the boundary: a burst at the end of one window and the start of the next admits 2 x the limit within one window length",
        ),
        Variant("strong", lambda: SlidingOwner, expect="correct"),
        Variant("approximate", lambda: GossipSliding, expect="correct", params={"approximate": True}),
    ],
    properties=("window_limit", "approx_limit", "justified_deny", "all_answered"),
)
