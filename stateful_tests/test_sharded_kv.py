"""Simulated sharded KV: a router, storage s1..s3 (+ s4 to join), clients writing and
reading while an admin joins and removes nodes; drops, duplicates, delays, a partition.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

from racekit import PROFILES, KVSpec, Result, search, System, Variant, variant_tests
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
    linearizable,
    make_scenario_json,
)
from specs.sharded_kv import as_moves, extra_movement, lost_write
from systems import sharded_kv
from systems.sharded_kv import Router, Storage

STORAGE = ("s1", "s2", "s3", "s4")
INITIAL = ("s1", "s2", "s3")
KEYS = tuple(f"k{i}" for i in range(8))


def final_value(world: World, key: str) -> str | None:
    router = world.node("r")
    assert isinstance(router, Router)
    node = world.node(router.ring.owner(key))
    if not isinstance(node, Storage) or key not in node.data:
        return None
    return node.data[key][1]


def no_lost_write(world: World) -> str | None:
    return lost_write(world.recorder.history().operations, lambda key: final_value(world, key))


def minimal_movement(world: World) -> str | None:
    changes = {n.data["epoch"]: (n.data["op"], n.data["node"]) for n in world.notes_of("change")}
    return extra_movement(changes, as_moves(world.notes_of("moved")))


class Machine(SimMachine):
    system: ClassVar[System] = sharded_kv.SYSTEM

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        writes = [ClientOp("r", "put", (k, f"{k}.1")) for k in KEYS if draw.integer(0, 3)]
        mixed = []
        for i in range(draw.integer(2, 8)):
            key = draw.pick(KEYS)
            mixed.append(ClientOp("r", "put", (key, f"{key}.{i + 2}")) if draw.boolean() else ClientOp("r", "get", (key,)))
        leaver = draw.pick(INITIAL)
        plan = draw.pick([("join",), ("leave",), ("join", "leave"), ("leave", "join")])
        admin = [
            ClientOp("r", op, ("s4" if op == "join" else leaver,), at=draw.integer(5, 60) * (j + 1))
            for j, op in enumerate(plan)
        ]
        final = [ClientOp("r", "get", (k,), at=1500) for k in KEYS]
        clients = [
            ClientScript("w", tuple(writes), timeout=300),
            ClientScript("x", tuple(mixed), timeout=300, think=draw.integer(0, 30)),
            ClientScript("admin", tuple(admin), timeout=1400),
            ClientScript("f", tuple(final), timeout=300),
        ]
        config = WorldConfig(
            nodes=("r", *STORAGE),
            window=10,
            horizon=2500,
            faults=FaultBudget(drop=2, dup=1, delay=1, partition=1),
            delay_extra=(300,),
            partitionable=STORAGE,
            one_way=False,
            partition_duration=(300,),
        )
        return make_scenario_json(config, clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        ring_cls, handoff_on_leave = variant.factory()
        return lambda nid: Router(ring_cls, INITIAL, handoff_on_leave) if nid == "r" else Storage(ring_cls)

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [
            Property("minimal_movement", minimal_movement, when="end"),
            Property("no_lost_write", no_lost_write, when="end"),
            linearizable(KVSpec, "linearizable", ops=("get", "put")),
        ]


CI = PROFILES["ci"]
SYSTEM = sharded_kv.SYSTEM


@cache
def found(variant_name: str) -> Result:
    return search(Machine, variant_name, CI)


def test_modulo_moves_keys_between_nodes_that_stayed() -> None:
    outcome = found("modulo")
    assert outcome.failed and outcome.property == "minimal_movement", outcome.message


def test_leave_no_handoff_loses_acknowledged_writes() -> None:
    outcome = found("leave_no_handoff")
    assert outcome.failed and outcome.property == "no_lost_write", outcome.message


# Every variant against its expectation; fixed variants replay the saved
# counterexamples of their broken siblings (counterexamples/sharded_kv/).
test_sharded_kv = variant_tests(Machine)
