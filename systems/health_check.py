"""Health checking with auto-disable: a load balancer probing a flaky fleet (seed exercise 9).

A health checker (``lb``, the load balancer's control loop) probes four
backends (``b1..b4``) every ``probe_ms``; a probe fails when the backend
answers "unhealthy" (a 503 from its health endpoint) or does not answer
within ``timeout_ms`` (crashed, link cut, message lost or held).  From the
outcomes it decides which backends stay in rotation.  Backends are flaky on
purpose: the scenario gives each one intervals in which it is sick (the
backends are the harness's model of a fleet: ``specs.health_check.Backend``),
and the search adds crashes, lost, duplicated and held messages, partitions
and clock drift.

The probing, the timeouts and the outcome bookkeeping are shared (class
:class:`HealthChecker`); the variants differ only in the decision policy:

* ``one_strike``    - out on one failed probe, back in on one success: a node
  that fails one probe in two flaps in and out of rotation every probe.
* ``never_reenable`` - out after ``fall`` consecutive failures, and then
  forgotten: nobody probes it again, so a node that recovered (a restart, a
  healed link) never serves again and the fleet shrinks for good.
* ``no_floor``      - thresholds, hysteresis and a half-open probe, but no
  floor: when every probe fails at once (the checker's own network blips, a
  shared dependency of the health endpoint is down) it takes the whole fleet
  out of rotation - a self-inflicted total outage.
* ``hysteresis``    - fixed: out after ``fall`` consecutive failures, back
  in after ``rise`` consecutive successes; a disabled node is left alone for
  ``cooldown_ms`` and then gets one half-open probe (a failure starts the
  cooldown again, a success starts the rise); and never fewer than ``keep``
  nodes in rotation (Envoy's "panic threshold": when too many look sick,
  the checker is more likely wrong than the fleet).  A node the floor
  held in goes out at its next failure once the rotation allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.sim import Node

BACKENDS = ("b1", "b2", "b3", "b4")
CHECKER = "lb"


@dataclass(frozen=True)
class Policy:
    """The knobs of the fixed policy (the broken ones use a subset)."""

    probe_ms: int = 100
    timeout_ms: int = 50
    fall: int = 3  # F: consecutive failed probes that take a node out
    rise: int = 2  # R: consecutive successful probes that bring it back
    cooldown_ms: int = 500  # a disabled node's wait before its half-open probe
    keep: int = 2  # k: never fewer nodes in rotation


class HealthChecker(Node):
    """Probing and outcome counting; the policy decides in :meth:`decide`.

    One probe per backend is outstanding at a time (timeout < period); a reply
    to any other probe (late, duplicated) is ignored.  Every outcome and every
    change of rotation is a ghost note: the properties read those, never the
    checker's own counters.
    """

    def __init__(self, policy: Policy, backends: Sequence[str] = BACKENDS) -> None:
        self.policy = policy
        self.backends = tuple(backends)

    def on_start(self) -> None:
        self.enabled = dict.fromkeys(self.backends, True)
        self.fails = dict.fromkeys(self.backends, 0)  # consecutive failed probes
        self.oks = dict.fromkeys(self.backends, 0)  # consecutive successful probes
        self.outstanding: dict[str, int | None] = dict.fromkeys(self.backends, None)
        self.seq = 0
        for b in self.backends:
            self.set_timer(f"probe:{b}", 0)

    # -- probing ---------------------------------------------------------------
    def on_timer(self, name: str) -> None:
        kind, b = name.split(":")
        if kind == "probe":
            self.seq += 1
            self.outstanding[b] = self.seq
            self.send(b, ("probe", self.seq))
            self.set_timer(f"timeout:{b}", self.policy.timeout_ms)
            self.set_timer(f"probe:{b}", self.policy.probe_ms)
        elif kind == "timeout" and self.outstanding[b] is not None:
            probe, self.outstanding[b] = self.outstanding[b], None
            self.outcome(b, False, probe)

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "health" and self.outstanding.get(src) == msg[1]:
            self.outstanding[src] = None
            self.cancel_timer(f"timeout:{src}")
            self.outcome(src, bool(msg[2]), msg[1])

    def outcome(self, b: str, ok: bool, probe: int) -> None:
        self.note("probe", node=b, ok=ok, probe=probe)
        if ok:
            self.oks[b] += 1
            self.fails[b] = 0
        else:
            self.fails[b] += 1
            self.oks[b] = 0
        self.decide(b, ok)

    def set_enabled(self, b: str, on: bool) -> None:
        self.enabled[b] = on
        self.note("enable" if on else "disable", node=b, in_rotation=self.in_rotation())

    def in_rotation(self) -> int:
        return sum(self.enabled.values())

    # -- the policy ------------------------------------------------------------
    def decide(self, b: str, ok: bool) -> None:
        raise NotImplementedError


class OneStrike(HealthChecker):
    """Broken: one failure takes a node out, one success brings it back."""

    def decide(self, b: str, ok: bool) -> None:
        if ok != self.enabled[b]:
            self.set_enabled(b, ok)


class NeverReenable(HealthChecker):
    """Broken: out after ``fall`` failures, then never probed again."""

    def decide(self, b: str, ok: bool) -> None:
        if self.enabled[b] and self.fails[b] >= self.policy.fall:
            self.set_enabled(b, False)
            self.cancel_timer(f"probe:{b}")  # out of rotation, out of mind


class Hysteresis(HealthChecker):
    """Fixed: thresholds both ways, a cooldown then a half-open probe, a floor of ``keep``."""

    def may_disable(self) -> bool:
        return self.in_rotation() > self.policy.keep

    def decide(self, b: str, ok: bool) -> None:
        p = self.policy
        if self.enabled[b]:
            if self.fails[b] >= p.fall and self.may_disable():
                self.set_enabled(b, False)
                self.set_timer(f"probe:{b}", p.cooldown_ms)
            return
        if not ok:
            self.set_timer(f"probe:{b}", p.cooldown_ms)  # half-open probe failed: cool down again
        elif self.oks[b] >= p.rise:
            self.set_enabled(b, True)
        # else: rising - probed at the normal rate until ``rise`` successes


class NoFloor(Hysteresis):
    """Broken: the fixed policy without the floor - it may take every node out."""

    def may_disable(self) -> bool:
        return True


SYSTEM = System(
    name="health_check",
    summary="a health checker taking flaky backends out of rotation and back: thresholds, hysteresis, half-open probe, floor",
    kind="sim",
    variants=[
        Variant(
            "one_strike",
            lambda: OneStrike,
            expect="violation",
            property="flaps_bounded",
            bug="one failed probe takes a node out and one success brings it back: a flaky node flaps in and out every probe",
        ),
        Variant(
            "never_reenable",
            lambda: NeverReenable,
            expect="violation",
            property="back_within",
            bug="a disabled node is never probed again: after it recovers it stays out of rotation for good",
        ),
        Variant(
            "no_floor",
            lambda: NoFloor,
            expect="violation",
            property="keeps_k_enabled",
            bug="no floor on the rotation: when every probe fails at once (the checker's link, a shared dependency) every node is taken out",
        ),
        Variant("hysteresis", lambda: Hysteresis, expect="correct"),
    ],
    properties=("keeps_k_enabled", "hysteresis", "flaps_bounded", "one_outcome_per_probe", "out_within", "back_within"),
)
