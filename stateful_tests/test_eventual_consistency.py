"""Simulated eventually consistent replicas: sticky client sessions writing and
reading a register, a counter and a set on three replicas whose clocks are
skewed; drops, duplicates, a partition, a crash and a clock step or drift.

``converges`` is checked after every step (incrementally); the other
properties once, on the history and on the replicas' final states, when the
run ended settled (nothing changed for the convergence bound).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import pytest

from racekit import (
    PROFILES,
    Operation,
    Phase,
    Plan,
    ProfileSettings,
    System,
    Variant,
    first_failure,
    variant_tests,
)
from racekit.sim import (
    ClientOp,
    ClientScript,
    Draw,
    FaultBudget,
    Node,
    Property,
    SimMachine,
    World,
    WorldConfig,
    make_scenario_json,
)
from specs.eventual_consistency import (
    Snapshot,
    lost_add,
    lost_newer_write,
    missed_own_write,
    resurrected,
    stale_sibling,
    wrong_count,
)
from systems import eventual_consistency
from systems.eventual_consistency import REPLICAS, Design, Replica

GOSSIP_MS = Design(eventual_consistency.Types).gossip_ms
WINDOW = 10
LATENCY = 1
DRIFT_PPM = 100_000
CONVERGE_MS = int(GOSSIP_MS / (1 - DRIFT_PPM / 1e6) + WINDOW + 2 * (LATENCY + WINDOW) + 20)
"""After the last change every replica gossips within one (drifted, late)
period and its state arrives within a message delay; the last change itself
may land a message delay after the row that announced it."""

ACTIVITY = frozenset(
    {"invoke", "return", "timeout", "drop", "dup", "delay", "partition", "heal", "lost", "crash", "restart", "skew", "pause"}
)
"""Trace rows after which replica states may legitimately differ for a while."""


def snapshots(world: World) -> dict[str, Snapshot]:
    out = {}
    for rid in REPLICAS:
        node = world.node(rid)
        if isinstance(node, Replica):
            out[rid] = node.snapshot()
    return out


class Quiet:
    """When the world last changed (incremental over the trace)."""

    def __init__(self) -> None:
        self.seen = 0
        self.last = 0

    def update(self, world: World) -> int:
        for row in world.trace[self.seen :]:
            if row["what"] in ACTIVITY:
                self.last = row["t"]
        self.seen = len(world.trace)
        return self.last


_QUIET: WeakKeyDictionary[World, Quiet] = WeakKeyDictionary()


def last_activity(world: World) -> int:
    return _QUIET.setdefault(world, Quiet()).update(world)


def now(world: World) -> int:
    """The run's time; once nothing is pending before the horizon, the horizon
    (nothing more will happen: a run that went quiet early is judged at its end)."""
    return world.now if world.candidates() else world.config.horizon


def diverged(world: World) -> str | None:
    since = last_activity(world)
    if now(world) < since + CONVERGE_MS:
        return None
    states = snapshots(world)
    if len({repr(s) for s in states.values()}) > 1:
        shown = "; ".join(f"{rid}: {s!r}" for rid, s in sorted(states.items()))
        return f"replicas still differ {now(world) - since} ms after the last change (bound {CONVERGE_MS} ms): {shown}"
    return None


def settled(check: Callable[[list[Operation], dict[str, Snapshot]], str | None]) -> Callable[[World], str | None]:
    """An end-of-run check on the converged replicas; vacuous if the run ended unsettled."""

    def run(world: World) -> str | None:
        if now(world) < last_activity(world) + CONVERGE_MS:
            return None
        return check(world.recorder.history().operations, snapshots(world))

    return run


PROPERTIES = [
    Property("converges", diverged, kind="liveness"),
    Property("newer_write_kept", settled(lost_newer_write), when="end"),
    Property("counter_exact", settled(wrong_count), when="end"),
    Property("no_lost_add", settled(lost_add), when="end"),
    Property("read_your_writes", lambda w: missed_own_write(w.recorder.history().operations), when="end"),
    Property("overwrite_sticks", settled(stale_sibling), when="end"),
    Property("remove_sticks", settled(resurrected), when="end"),
]

OFFSETS = (("r1", 200), ("r2", 0), ("r3", -150))


def world_config(horizon: int, faults: FaultBudget, offsets: tuple[tuple[str, int], ...], **extra: Any) -> WorldConfig:
    return WorldConfig(
        nodes=REPLICAS,
        latency=LATENCY,
        window=WINDOW,
        horizon=horizon,
        faults=faults,
        offsets=offsets,
        one_way=False,
        drifts_ppm=(-DRIFT_PPM, DRIFT_PPM),
        **extra,
    )


class Machine(SimMachine):
    system: ClassVar[System] = eventual_consistency.SYSTEM
    # Hypothesis costs ~5x a seeded random run here (a run is a few hundred
    # decisions); the workload is shrunk by ``shrink`` either way.
    explorers: ClassVar[tuple[str, ...]] = ("random",)
    random_runs: ClassVar[float] = 2.0

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """Fault-free, clocks 350 ms apart: a write at the fast replica then a
        later one at the slow replica, read and overwritten there; two
        increments on two replicas; add, remove, add again; and sessions
        that read right after writing."""
        clients = [
            ClientScript("c1@r1", (ClientOp("r1", "put", ("a",)), ClientOp("r1", "get"), ClientOp("r1", "inc"))),
            ClientScript(
                "c2@r2",
                (
                    ClientOp("r2", "put", ("b",), at=20), ClientOp("r2", "inc"), ClientOp("r2", "count"),
                    ClientOp("r2", "get", at=150), ClientOp("r2", "put", ("c",)),
                ),
            ),
            ClientScript(
                "c3@r3",
                (ClientOp("r3", "add", ("x",)), ClientOp("r3", "remove", ("x",)), ClientOp("r3", "add", ("x",)), ClientOp("r3", "members")),
            ),
        ]
        return [make_scenario_json(world_config(400, FaultBudget(), OFFSETS), clients)]

    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        """The seed gets a hundred runs of prefix DFS (its runs are ~100
        decisions); the generated scenarios with faults get the rest."""
        plan = super().plan(variant, profile)
        return replace(plan, phases=[Phase("bounded", max(1, profile.budget // 20), "seeds"), *plan.phases[1:]])

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        clients = []
        n = 0
        for c in range(draw.integer(2, 4)):
            home = draw.pick(REPLICAS)  # a sticky session
            ops = []
            for _ in range(draw.integer(1, 5)):
                kind = draw.pick(["put", "get", "inc", "count", "add", "remove", "members"])
                n += 1
                if kind == "put":
                    ops.append(ClientOp(home, "put", (f"v{n}",), at=draw.integer(0, 30) * 10))
                elif kind in ("add", "remove"):
                    ops.append(ClientOp(home, kind, (draw.pick(["x", "y"]),), at=draw.integer(0, 30) * 10))
                else:
                    ops.append(ClientOp(home, kind, at=draw.integer(0, 30) * 10))
            clients.append(ClientScript(f"c{c}@{home}", tuple(sorted(ops, key=lambda o: o.at)), timeout=100, think=draw.integer(0, 20)))
        offsets = tuple((r, draw.integer(-30, 30) * 10) for r in REPLICAS)
        faults = FaultBudget(drop=2, dup=1, partition=1, crash=1, skew=1)
        config = world_config(
            1200, faults, offsets,
            crash_downtime=(100, 300),
            partition_duration=(200, 500),
            skew_jumps=(-300, 300),
        )
        return make_scenario_json(config, clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        design = variant.factory()
        return lambda nid: (design.replica or Replica)(design)

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return PROPERTIES


CI = PROFILES["ci"]
SYSTEM = eventual_consistency.SYSTEM

# Every variant against its expectation; the fixed variant replays the saved
# counterexamples of its broken siblings (counterexamples/eventual_consistency/).
test_eventual_consistency = variant_tests(Machine)


# ---------------------------------------------------------------------------
# Planted bugs: copies of the fixed design with one realistic mistake each.
# ---------------------------------------------------------------------------
class SumCounter(eventual_consistency.Types):
    """Merging counters by adding them: not idempotent, every gossip round counts again."""

    def cnt_merge(self, a: Any, b: Any) -> Any:
        return tuple(x + y for x, y in zip(a, b, strict=True))


class RemoveWithoutTombstone(eventual_consistency.Types):
    """Remove deletes the tagged adds it has seen; the next gossip brings them back."""

    def set_remove(self, state: Any, element: str) -> Any:
        return frozenset(p for p in state[0] if p[0] != element), state[1]


class BlindClock(eventual_consistency.Types):
    """A write stamps only its own slot: it forgets what it overwrote."""

    def reg_write(self, state: Any, value: str, wall: int) -> Any:
        own = max((c[self.slot] for _, c in state), default=0) + 1
        return frozenset({(value, tuple(own if i == self.slot else 0 for i in range(self.width)))})


class GossipOnChange(Replica):
    """Sends its state only after it changed since the last round: a lost round is never resent."""

    def on_timer(self, name: str) -> None:
        if getattr(self, "sent", None) != self.state:
            self.sent = self.state
            for peer in self.replicas:
                if peer != self.id:
                    self.send(peer, ("state", self.state))
        self.set_timer("gossip", self.design.gossip_ms)


class NoDedup(Replica):
    """Applies a duplicated request twice."""

    def on_request(self, client: str, request: Any) -> None:
        self.applied = frozenset()
        super().on_request(client, request)


PLANTED: dict[str, tuple[type[eventual_consistency.Types], type[Replica], str]] = {
    "sum_counter": (SumCounter, Replica, "counter_exact"),
    "remove_without_tombstone": (RemoveWithoutTombstone, Replica, "remove_sticks"),
    "blind_clock": (BlindClock, Replica, "overwrite_sticks"),
    "gossip_on_change": (eventual_consistency.Types, GossipOnChange, "converges"),
    "no_dedup": (eventual_consistency.Types, NoDedup, "counter_exact"),
}


class PlantedMachine(Machine):
    system: ClassVar[System] = System(
        name="eventual_consistency",
        summary="planted bugs in the fixed design",
        kind="sim",
        variants=[
            *(Variant(name, (lambda t, r: lambda: Design(t, r))(types, node), expect="violation", property=prop, bug=name)
              for name, (types, node, prop) in PLANTED.items()),
            Variant("crdt", lambda: Design(eventual_consistency.Types), expect="correct"),
        ],
    )


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = first_failure(PlantedMachine, name)
    assert outcome is not None, f"planted bug {name} not caught"
    assert outcome.property == PLANTED[name][2], (outcome.property, outcome.message)
