"""Simulated id generator: 3 nodes, clients hitting any node, clock skew, steps back, crashes.

Run: ``pytest stateful_tests/test_id_generator.py``.  Each broken variant must
be caught violating its property; each fixed one must pass the same search
and replay every broken sibling's counterexample clean.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

from racekit import PROFILES, Result, run_scenario, search, System, Variant, variant_tests
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
from specs.id_generator import first_acausal, first_duplicate, first_regression
from systems import id_generator
from systems.id_generator import RESERVE_MS, IdNode, unpack

NODES = ("n1", "n2", "n3")


def issued(world: World) -> list[tuple[str, int]]:
    return [(n.node, int(n.data["id"])) for n in world.notes_of("issued")]


def causal_events(world: World) -> list[tuple[str, str, Any]]:
    return [
        (n.node, n.what, n.data["ms"] if n.what == "heard" else n.data.get("id"))
        for n in world.notes
        if n.what in ("heard", "issued", "started")
    ]


class Machine(SimMachine):
    system: ClassVar[System] = id_generator.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """One client, two ids from n1, one possible backward step of n1's clock, one possible crash of n1.

        The crash matters: what a node promised before it crashed survives only
        through what it fsynced (the reservation), and a clock that stepped back
        during the downtime reissues old timestamps if the promise was lost.
        Random and Hypothesis runs rarely combine the two faults in that order.
        """
        ops = (ClientOp("n1", "next_id"), ClientOp("n1", "next_id", at=5))
        config = WorldConfig(
            nodes=NODES, horizon=50, faults=FaultBudget(skew=1, crash=1), crashable=("n1",), crash_downtime=(5,),
            skewable=("n1",), skew_jumps=(-30,), offsets=(("n1", 10_000),)
        )
        seeds = [make_scenario_json(config, [ClientScript("c0", ops, timeout=20)]), cls._restart_at_reservation()]
        if variant.name == "hlc":
            seeds.append(cls._heard_own_time())
        return seeds

    @staticmethod
    def _restart_at_reservation() -> dict[str, Any]:
        """n2 restarts and issues its first id at its reservation while n3's clock reads that very ms.

        After a restart the sequence of the reserved ms counts as used up: the
        first id must move to the next ms.  An id built from a full sequence
        plus one spills into the node bits (node 2 | 1 = node 3) and equals n3's
        first id.
        """
        ops = (ClientOp("n2", "next_id"), ClientOp("n2", "next_id", at=10))
        config = WorldConfig(
            nodes=NODES, horizon=40, faults=FaultBudget(crash=1), crashable=("n2",), crash_downtime=(5,),
            offsets=(("n1", 10_000), ("n2", 10_000), ("n3", 10_000 + RESERVE_MS - 20)),
        )
        return make_scenario_json(
            config, [ClientScript("c0", ops, timeout=20), ClientScript("c1", (ClientOp("n3", "next_id", at=20),), timeout=20)]
        )

    @staticmethod
    def _heard_own_time() -> dict[str, Any]:
        """n1 and n2 issue in the same ms, n2 hears n1's time (equal to its own last), its clock steps back.

        The HLC merge must then move n2 past the time it heard even though that
        time is not *above* its own: an id in the same ms could sort below n1's.
        """
        ops = (ClientOp("n1", "next_id", at=45), ClientOp("n2", "next_id", at=45), ClientOp("n2", "next_id", at=70))
        config = WorldConfig(
            nodes=NODES, horizon=100, faults=FaultBudget(skew=1), skewable=("n2",), skew_jumps=(-40,),
            offsets=(("n1", 10_000), ("n2", 10_000), ("n3", 10_000)),
        )
        return make_scenario_json(config, [ClientScript("c0", ops[:1], timeout=20), ClientScript("c1", ops[1:], timeout=20)])

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        clients = []
        for c in range(draw.integer(2, 3)):
            ops = [ClientOp(draw.pick(NODES), "next_id", at=draw.integer(0, 40)) for _ in range(draw.integer(2, 6))]
            clients.append(ClientScript(f"c{c}", tuple(sorted(ops, key=lambda o: o.at)), timeout=50, think=draw.integer(0, 10)))
        # wall clocks start near 10 s past the epoch, up to 20 ms apart
        offsets = tuple((n, 10_000 + draw.integer(-20, 20)) for n in NODES)
        config = WorldConfig(
            nodes=NODES,
            horizon=300,
            faults=FaultBudget(skew=2, crash=1, drop=1),
            skew_jumps=(-30, -3, 15),
            drifts_ppm=(-200_000, 200_000),
            crash_downtime=(5, 30),
            offsets=offsets,
        )
        return make_scenario_json(config, clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        generator = variant.factory()
        return lambda nid: IdNode(generator, NODES.index(nid) + 1)

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        props = [
            Property("unique", lambda w: first_duplicate(issued(w)), when="end"),
            Property("monotonic", lambda w: first_regression(issued(w)), when="end"),
        ]
        if variant.name == "hlc":
            props.append(Property("causal", lambda w: first_acausal(causal_events(w), lambda i: unpack(i)[0]), when="end"))
        return props


CI = PROFILES["ci"]
SYSTEM = id_generator.SYSTEM


@cache
def found(variant_name: str) -> Result:
    return search(Machine, variant_name, CI)


def test_timestamp_only_issues_duplicate_ids() -> None:
    outcome = found("timestamp_only")
    assert outcome.failed and outcome.property == "unique", outcome.message


def test_snowflake_unguarded_goes_backwards_after_clock_step() -> None:
    outcome = found("snowflake_unguarded")
    assert outcome.failed and outcome.property == "monotonic", outcome.message
    assert any(e["what"] == "skew" for e in outcome.trace)








def test_replay_reproduces_the_counterexample() -> None:
    outcome = found("snowflake_unguarded")
    again = run_scenario(Machine, "snowflake_unguarded", outcome.scenario, outcome.choices)
    assert (again.failed, again.message, again.trace) == (True, outcome.message, outcome.trace)


# Every variant against its expectation; fixed variants replay the saved
# counterexamples of their broken siblings (counterexamples/id_generator/).
test_id_generator = variant_tests(Machine)
