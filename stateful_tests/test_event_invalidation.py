"""Simulated event invalidation: two writers, a pub/sub bus, a cache tier, a database.

Writers commit then publish; the bus forwards to the cache if it can reach
it; clients read through the cache.  Faults: a partition around the bus or
the cache (the subscriber disconnects: Redis pub/sub drops what it
publishes meanwhile), dropped or delayed messages, a paused writer (its
event goes out late).  Properties (``specs/event_invalidation.py``):
staleness bounded after heal - within ``SLACK`` = 100 ms of the last write
when nothing failed (events, at most a few 11 ms hops, are how changes
arrive), within TTL + ``SLACK`` of the end of the last fault otherwise -
every request answered when nothing fails, and a refilled entry served
until it expires.
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
    behind_events,
    forgotten_refill,
    latest_commits,
    quiet_time,
    staleness_after_heal,
    unanswered,
)
from systems import event_invalidation
from systems._cache_parts import INITIAL, KEYS
from systems.event_invalidation import ANSWERED, BOUNDED, REFILL, TTL_MS, CacheTier

NODES = ("db", "w1", "w2", "bus", "cache")
SLACK = 100
BOUND = TTL_MS + SLACK
HORIZON = 6000
PARTITION_MS = 1000
DELAY_MS = 1000
PAUSE_MS = 1000
LONGEST_FAULT = max(PARTITION_MS, DELAY_MS, PAUSE_MS)


def config(
    faults: FaultBudget, partitionable: tuple[str, ...] = ("bus", "cache"), jitter: tuple[int, ...] = (0,)
) -> WorldConfig:
    """Partitions around the bus (a publish is lost: the writer's dual write) or the
    cache (the subscriber is disconnected: pub/sub drops what it misses); ``jitter``:
    extra delays a message may get (each send a choice)."""
    return WorldConfig(
        nodes=NODES,
        horizon=HORIZON,
        jitter=jitter,
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
    commits = world.notes_of("commit")
    faults = [e["t"] for e in world.trace if e["what"] in FAULTS]
    quiet = quiet_time([n.t for n in commits], faults, LONGEST_FAULT)
    rows = latest_commits(
        [(n.data["key"], n.data["value"], n.data["version"]) for n in commits], {k: (INITIAL, 1) for k in KEYS}
    )
    cache = world.node("cache")
    reads = [
        TimedRead(op.args[0], time_of.get(op.invoke, 0), op.result, op.status == "ok")
        for op in world.recorder.history()
        if op.name == "read"
    ]
    cached = []
    if isinstance(cache, CacheTier):
        for key, entry in sorted(cache.cache.entries().items()):
            if entry.value is not None:
                cached.append(CachedValue(key, entry.value, entry.expires))
    if not faults:
        timed = [(n.t, n.data["key"], n.data["value"], n.data["version"]) for n in commits]
        problem = behind_events(reads, timed, SLACK)
        if problem:
            return problem
    return staleness_after_heal(quiet, BOUND if faults else SLACK, world.config.horizon, rows, reads, cached)


def refills_kept(world: World) -> str | None:
    if sum(world.faults_used.values()):
        return None  # a dropped or cut refill is allowed to be lost
    commits: dict[str, list[int]] = {}
    for n in world.notes_of("commit"):
        commits.setdefault(n.data["key"], []).append(n.t)
    misses = [(n.t, n.data["key"]) for n in world.notes_of("miss")]
    return forgotten_refill(misses, commits, TTL_MS, SLACK)


def all_answered(world: World) -> str | None:
    return unanswered(world.recorder.history(), sum(world.faults_used.values()))


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
        # Fixed variant: the same two shapes with reads inside the TTL, and a
        # refill racing a later write.
        lost_read = make_scenario_json(
            config(FaultBudget(partition=1)),
            [*writes(("w1", "a", 1, 0)), reader(500, 1400, 2300, 4000)],
        )
        crossed_read = make_scenario_json(
            config(FaultBudget()),
            [*writes(("w1", "a", 1, 0), ("w2", "a", 2, 0)), reader(500, 2000)],
        )
        refill = make_scenario_json(  # a slow answer (5 ms jitter) lets the events overtake the refill
            config(FaultBudget(), jitter=(0, 5)),
            [*writes(("w1", "a", 1, 1500), ("w2", "a", 2, 1500)), reader(1500, 2000)],
        )
        return [lost_read, crossed_read, refill]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        ops = []
        for _ in range(draw.integer(1, 3)):
            ops.append((draw.pick(["w1", "w2"]), draw.pick(["a", "b"]), draw.integer(1, 3), draw.integer(0, 20) * 100))
        reads = sorted({draw.integer(0, 50) * 100 for _ in range(draw.integer(1, 4))})
        faults = FaultBudget(partition=1, drop=1, delay=1, pause=1, total=draw.integer(0, 2))
        return make_scenario_json(config(faults), [*writes(*ops), reader(*reads, key=draw.pick(["a", "b"]))])

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        return partial(event_invalidation.make_node, variant.factory())

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [
            Property(BOUNDED, bounded_staleness, when="end", kind="liveness"),
            Property(ANSWERED, all_answered, when="end", kind="liveness"),
            Property(REFILL, refills_kept, when="end"),
        ]


test_event_invalidation = variant_tests(Machine)
