"""Leader election with leases, heartbeats and fencing tokens (seed project 5).

Three candidates (``n1..n3``) compete for a lease held by a lock service
(``lock``: the one strongly consistent piece, the role ZooKeeper/etcd play)
and the leader runs a periodic task whose result it writes to a resource
(``res``, a storage service).  Every candidate sends ``acquire`` every
``renew_ms`` (a heartbeat: the holder renews, the others try to take over);
the lock grants a lease of ``lease_ms`` on *its* clock and a fencing token
that grows with every new holder.

* ``unfenced``      - leases done right, but the resource accepts any write.
  The task is "check leadership, work for ``work_ms``, write": a leader
  paused (GC, stalled VM) during the work wakes up after a new leader has
  written, and its stale write is accepted.
* ``drift_unaware`` - the lease is measured on the candidate's wall clock
  from when the grant *arrived*, for the full ``lease_ms``: network delay,
  a slow clock or a clock step make it believe it still leads after the
  lock service gave the lease to someone else.
* ``fenced``        - the lease is measured on the monotonic clock from when
  the request was *sent*, shortened for the worst drift ``rho`` and a safety
  margin, and the resource rejects writes whose token is below the highest
  it has seen.  The resource also keeps at most one result per period:
  the task is **at most once** per period (a period in which the leader
  dies is skipped, not retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.sim import Node


@dataclass(frozen=True)
class Timing:
    lease_ms: int = 1000
    renew_ms: int = 250
    period_ms: int = 500
    work_ms: int = 200
    rho: float = 0.1  # the drift the design tolerates (fraction)
    margin_ms: int = 50


CANDIDATES = ("n1", "n2", "n3")


class LockService(Node):
    """Grants leases and fencing tokens.  Its own clock decides expiry."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing

    def on_start(self) -> None:
        self.holder: str | None = None
        self.token = 0
        self.expires = 0

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] != "acquire":
            return
        now = self.monotonic()
        if self.holder is None or now >= self.expires or self.holder == src:
            if self.holder != src or now >= self.expires:
                self.token += 1
                self.holder = src
                self.note("grant", holder=src, token=self.token)
            self.expires = now + self.timing.lease_ms
            self.send(src, ("granted", msg[1], self.token))
        else:
            self.send(src, ("denied", msg[1], self.holder))

    def vacant_for(self) -> int:
        """How long the lease has been expired without a new holder (ghost, for properties)."""
        return max(0, self.monotonic() - self.expires) if self.holder is not None else self.monotonic()


class Resource(Node):
    """Storage the leader writes the periodic task's result to."""

    def on_start(self) -> None:
        self.highest = 0
        self.done: dict[int, int] = {}  # period -> token that did it

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] != "write":
            return
        _, token, period = msg
        if self.accepts(token) and period not in self.done:
            self.highest = max(self.highest, token)
            self.done[period] = token
            self.note("accept", writer=src, token=token, period=period)
        else:
            self.note("reject", writer=src, token=token, period=period)

    def accepts(self, token: int) -> bool:
        return token >= self.highest  # fencing: a token below one already seen is stale


class UnfencedResource(Resource):
    """Broken: trusts whoever writes."""

    def accepts(self, token: int) -> bool:
        return True


class Candidate(Node):
    """Campaigns, renews, and runs the periodic task while it believes it leads."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing

    def on_start(self) -> None:
        self.lease_until: int | None = None
        self.token = 0
        self.sent: dict[int, int] = {}  # request number -> local time it was sent
        self.requests = 0
        self.last_period = -1
        self.set_timer("heartbeat", 0)
        self.set_timer("tick", self.timing.period_ms // 5)

    # -- leadership -----------------------------------------------------------
    def local_time(self) -> int:
        return self.monotonic()

    def is_leader(self) -> bool:
        return self.lease_until is not None and self.local_time() < self.lease_until

    def lease_end(self, sent_at: int) -> int:
        """Until when (local clock) a lease granted for a request sent at ``sent_at`` is ours.

        The lock's lease started no earlier than the send; our clock may run
        slower than the lock's by up to rho: shorten by (1-rho)/(1+rho), then a margin.
        """
        t = self.timing
        return sent_at + int(t.lease_ms * (1 - t.rho) / (1 + t.rho)) - t.margin_ms

    def on_timer(self, name: str) -> None:
        if name == "heartbeat":
            self.requests += 1
            self.sent[self.requests] = self.local_time()
            self.send("lock", ("acquire", self.requests))
            self.set_timer("heartbeat", self.timing.renew_ms)
        elif name == "tick":
            period = self.now() // self.timing.period_ms
            if self.is_leader() and period > self.last_period:
                self.last_period = period
                self.pending = (self.token, period)
                self.set_timer("work", self.timing.work_ms)  # the task takes a while
            self.set_timer("tick", self.timing.period_ms // 5)
        elif name == "work":
            token, period = self.pending
            self.send("res", ("write", token, period))  # no re-check: fencing's job

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "granted":
            sent_at = self.sent.pop(msg[1], None)
            if sent_at is None:
                return
            if msg[2] != self.token:
                self.note("lead", token=msg[2])
            self.token = msg[2]
            self.lease_until = max(self.lease_until or 0, self.lease_end(sent_at))


class DriftUnawareCandidate(Candidate):
    """Broken: the lease runs on the wall clock from the grant's arrival, for the full length."""

    def local_time(self) -> int:
        return self.now()

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "granted" and self.sent.pop(msg[1], None) is not None:
            if msg[2] != self.token:
                self.note("lead", token=msg[2])
            self.token = msg[2]
            self.lease_until = self.now() + self.timing.lease_ms


@dataclass(frozen=True)
class Implementation:
    candidate: type[Candidate]
    resource: type[Resource]


SYSTEM = System(
    name="leader_election",
    summary="one leader at a time via leases, heartbeats and fencing tokens; a periodic task at most once per period",
    kind="sim",
    variants=[
        Variant(
            "unfenced",
            lambda: Implementation(Candidate, UnfencedResource),
            expect="violation",
            property="no_stale_write",
            bug="the resource does not check fencing tokens: a leader paused mid-task writes after its successor",
        ),
        Variant(
            "drift_unaware",
            lambda: Implementation(DriftUnawareCandidate, Resource),
            expect="violation",
            property="single_leader",
            bug="lease measured on the wall clock from the grant's arrival, full length: delay, drift or a clock step make two leaders",
        ),
        Variant("fenced", lambda: Implementation(Candidate, Resource), expect="correct"),
    ],
    properties=("no_stale_write", "single_leader", "failover", "task_at_most_once"),
)
