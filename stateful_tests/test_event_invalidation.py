"""Simulated event invalidation: two writers, a pub/sub bus, a cache tier, a database.

Writers commit then publish; the bus forwards to the cache if it can reach
it; clients read through the cache.  Faults: a partition around the bus or
the cache (the subscriber disconnects: Redis pub/sub drops what it
publishes meanwhile), dropped or delayed messages, a paused writer (its
event goes out late).  Property: staleness bounded after heal (see
``specs/event_invalidation.py``), with bound = TTL + 100 ms of slack for
message delays and a refill round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from racekit import System, Variant, variant_tests
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
from specs.event_invalidation import (
    FAULTS,
    CachedValue,
    TimedRead,
    quiet_time,
    staleness_after_heal,
)
from systems import event_invalidation
from systems.event_invalidation import BOUNDED, TTL_MS, CacheTier, Database

NODES = ("db", "w1", "w2", "bus", "cache")
BOUND = TTL_MS + 100
HORIZON = 6000
PARTITION_MS = 1000
DELAY_MS = 1000
PAUSE_MS = 1000
LONGEST_FAULT = max(PARTITION_MS, DELAY_MS, PAUSE_MS)


def config(faults: FaultBudget, partitionable: tuple[str, ...] = ("bus", "cache")) -> WorldConfig:
    """Partitions around the bus (a publish is lost: the writer's dual write) or the
    cache (the subscriber is disconnected: pub/sub drops what it misses)."""
    return WorldConfig(
        nodes=NODES,
        horizon=HORIZON,
        faults=faults,
        partitionable=partitionable,
        one_way=True,
        partition_duration=(PARTITION_MS,),
        delay_extra=(DELAY_MS,),
        pause_duration=(PAUSE_MS,),
        crashable=(),
        skewable=(),
    )


def writes(*ops: tuple[str, str, int, int]) -> list[ClientScript]:
    """One client per write: (writer, key, value, at)."""
    return [ClientScript(f"c{i}", (ClientOp(w, "update", (k, v), at=at),), timeout=3000) for i, (w, k, v, at) in enumerate(ops)]


def reader(*times: int, key: str = "a") -> ClientScript:
    return ClientScript("r", tuple(ClientOp("cache", "read", (key,), at=t) for t in times), timeout=3000)


def bounded_staleness(world: World) -> str | None:
    time_of = {e["step"]: e["t"] for e in world.trace}
    commits = [n.t for n in world.notes_of("commit")]
    faults = [e["t"] for e in world.trace if e["what"] in FAULTS]
    quiet = quiet_time(commits, faults, LONGEST_FAULT)
    db = world.node("db")
    cache = world.node("cache")
    assert isinstance(db, Database)
    reads = [
        TimedRead(op.args[0], time_of.get(op.invoke, 0), op.result)
        for op in world.recorder.history()
        if op.name == "read" and op.status == "ok"
    ]
    cached = []
    if isinstance(cache, CacheTier):
        for key, entry in sorted(cache.cache.entries().items()):
            if entry.value is not None:
                cached.append(CachedValue(key, entry.value, entry.expires))
    return staleness_after_heal(quiet, BOUND, world.config.horizon, db.rows, reads, cached)


class Machine(SimMachine):
    system: ClassVar[System] = event_invalidation.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        lost = make_scenario_json(
            config(FaultBudget(partition=1), partitionable=("cache",)),
            [*writes(("w1", "a", 1, 0)), reader(2000, 4000)],
        )
        crossed = make_scenario_json(
            config(FaultBudget()),
            [*writes(("w1", "a", 1, 0), ("w2", "a", 2, 0)), reader(2000, 4000)],
        )
        if variant.name == "fire_and_forget":
            return [lost]
        if variant.name == "unversioned":
            return [crossed]
        both = make_scenario_json(
            config(FaultBudget(partition=1, delay=1, total=1)),
            [*writes(("w1", "a", 1, 0), ("w2", "a", 2, 0)), reader(0, 1500, 2500, 4000)],
        )
        return [lost, crossed, both]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        ops = []
        for _ in range(draw.integer(1, 3)):
            ops.append((draw.pick(["w1", "w2"]), draw.pick(["a", "b"]), draw.integer(1, 3), draw.integer(0, 4) * 100))
        reads = sorted({draw.integer(0, 50) * 100 for _ in range(draw.integer(1, 4))})
        faults = FaultBudget(partition=1, drop=1, delay=1, pause=1, total=draw.integer(0, 2))
        return make_scenario_json(config(faults), [*writes(*ops), reader(*reads, key=draw.pick(["a", "b"]))])

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        return partial(event_invalidation.make_node, variant.factory())

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [Property(BOUNDED, bounded_staleness, when="end", kind="liveness")]


test_event_invalidation = variant_tests(Machine)
