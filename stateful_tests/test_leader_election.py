"""Simulated leader election: 3 candidates, a lock service, a resource; pauses, partitions,
crashes, drift and clock steps on the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

from racekit import PROFILES, Result, search, System, Variant, variant_tests
from racekit.sim import (
    Draw,
    FaultBudget,
    Node,
    Property,
    SimMachine,
    World,
    WorldConfig,
    make_scenario_json,
)
from specs.leader_election import duplicate_period, stale_write, two_leaders
from systems import leader_election
from systems.leader_election import CANDIDATES, Candidate, LockService, Timing

TIMING = Timing()
WINDOW = 10
FAILOVER_SLACK = TIMING.renew_ms * 11 // 10 + 2 * (1 + WINDOW) + 20
"""After the lease expires, the next heartbeat of a live candidate (<= renew_ms, +10% drift)
plus a round trip (each <= latency + window) gets a grant."""


def accepted(world: World) -> list[tuple[int, int, str]]:
    return [(n.data["token"], n.data["period"], n.data["writer"]) for n in world.notes_of("accept")]


def believers(world: World) -> list[str]:
    out = []
    for nid in CANDIDATES:
        node = world.node(nid)
        if isinstance(node, Candidate) and node.is_leader():
            out.append(nid)
    return out


def slow_failover(world: World) -> str | None:
    if any(world.faults_used[k] for k in ("partition", "pause", "drop", "delay", "dup")):
        return None
    if not any(world.alive(n) for n in CANDIDATES):
        return None
    lock = world.node("lock")
    assert isinstance(lock, LockService)
    if lock.vacant_for() > FAILOVER_SLACK:
        return f"no leader for {lock.vacant_for()} ms after the lease expired (bound {FAILOVER_SLACK} ms)"
    return None


class Machine(SimMachine):
    system: ClassVar[System] = leader_election.SYSTEM

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        offsets = tuple((n, 100_000 + draw.integer(-300, 300)) for n in CANDIDATES)
        config = WorldConfig(
            nodes=("lock", "res", *CANDIDATES),
            window=WINDOW,
            horizon=draw.integer(3, 5) * 1000,
            faults=FaultBudget(pause=1, partition=1, crash=1, skew=1, drop=1),
            crashable=CANDIDATES,
            skewable=CANDIDATES,
            partitionable=CANDIDATES,
            one_way=False,
            crash_downtime=(500, 3000),
            partition_duration=(1500,),
            pause_duration=(1500,),
            skew_jumps=(-400, 400),
            drifts_ppm=(-100_000, 100_000),  # within the design's rho = 10 %
            offsets=offsets,
        )
        return make_scenario_json(config)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        impl = variant.factory()

        def make(nid: str) -> Node:
            if nid == "lock":
                return LockService(TIMING)
            if nid == "res":
                return impl.resource()
            return impl.candidate(TIMING)

        return make

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [
            Property("no_stale_write", lambda w: stale_write(accepted(w))),
            Property("single_leader", lambda w: two_leaders(believers(w))),
            Property("failover", slow_failover),
            Property("task_at_most_once", lambda w: duplicate_period(accepted(w))),
        ]


CI = PROFILES["ci"]
SYSTEM = leader_election.SYSTEM


@cache
def found(variant_name: str) -> Result:
    return search(Machine, variant_name, CI)


def test_unfenced_accepts_a_paused_leaders_stale_write() -> None:
    outcome = found("unfenced")
    assert outcome.failed and outcome.property == "no_stale_write", outcome.message


def test_drift_unaware_has_two_leaders() -> None:
    outcome = found("drift_unaware")
    assert outcome.failed and outcome.property == "single_leader", outcome.message


# Every variant against its expectation; fixed variants replay the saved
# counterexamples of their broken siblings (counterexamples/leader_election/).
test_leader_election = variant_tests(Machine)
