"""Toy protocols for the simulator's own tests, and the tests that each explorer catches them.

``AsyncReplica`` is a known-broken replicated register: it acknowledges a
write before replicating it, so a read at another replica can miss an
acknowledged write (stale read).  ``SyncReplica`` waits for every peer's
ack first.  ``ToyMachine`` is a small SimMachine over them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from racekit import PROFILES, System, Variant, run_scenario, search
from racekit.portfolio import explore
from racekit.sim import (
    ClientOp,
    ClientScript,
    Draw,
    FaultBudget,
    Node,
    Property,
    Request,
    SimMachine,
    World,
    WorldConfig,
)

NODES = ("a", "b")


class AsyncReplica(Node):
    """Broken: replies to a put at once and replicates in the background."""

    def __init__(self) -> None:
        self.value = 0

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if msg.name == "put":
                self.value = msg.args[0]
                for peer in self.ctx.peers:
                    self.send(peer, ("replicate", msg.args[0]))
                self.reply(src, msg, None)
            else:
                self.reply(src, msg, self.value)
        elif msg[0] == "replicate":
            self.value = max(self.value, msg[1])


class SyncReplica(Node):
    """Fixed: replies to a put only after every peer acknowledged it."""

    def __init__(self) -> None:
        self.value = 0
        self.waiting: dict[int, tuple[str, Request, set[str]]] = {}

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if msg.name == "put":
                self.value = max(self.value, msg.args[0])
                self.waiting[msg.req] = (src, msg, set(self.ctx.peers))
                for peer in self.ctx.peers:
                    self.send(peer, ("replicate", msg.req, msg.args[0]))
            else:
                self.reply(src, msg, self.value)
        elif msg[0] == "replicate":
            self.value = max(self.value, msg[2])
            self.send(src, ("ack", msg[1]))
        elif msg[0] == "ack" and msg[1] in self.waiting:
            client, request, pending = self.waiting[msg[1]]
            pending.discard(src)
            if not pending:
                del self.waiting[msg[1]]
                self.reply(client, request, None)


def no_stale_read(world: World) -> str | None:
    """Values written only grow, so a read must see at least the last write acked before it."""
    ops = world.recorder.history().operations
    for read in ops:
        if read.name != "get" or read.status != "ok":
            continue
        acked = [
            w.args[0]
            for w in ops
            if w.name == "put" and w.status == "ok" and w.ret is not None and w.ret < read.invoke
        ]
        if acked and read.result < max(acked):
            return f"get #{read.id} returned {read.result} after put({max(acked)}) was acknowledged"
    return None


SYSTEM = System(
    name="toy_register",
    summary="a two-replica register (simulator self-test)",
    kind="sim",
    variants=[
        Variant(
            "async",
            lambda: AsyncReplica,
            expect="violation",
            property="no_stale_read",
            bug="acks before replicating",
        ),
        Variant("sync", lambda: SyncReplica, expect="correct"),
    ],
)


class ToyMachine(SimMachine):
    system: ClassVar[System] = SYSTEM

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        # a put at one replica then a get at the other, plus random extras
        ops = [ClientOp("a", "put", (1,)), ClientOp("b", "get")]
        for i in range(1, draw.integer(1, 3)):
            node = draw.pick(NODES)
            ops.append(ClientOp(node, "put", (i + 1,)) if draw.boolean() else ClientOp(node, "get"))
        config = WorldConfig(nodes=NODES, horizon=500, faults=FaultBudget(drop=1))
        return {
            "world": config.to_json(),
            "clients": [ClientScript("c1", tuple(ops), timeout=100).to_json()],
        }

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        ops = (ClientOp("a", "put", (1,)), ClientOp("b", "get"))
        config = WorldConfig(nodes=NODES, horizon=500)
        return [{"world": config.to_json(), "clients": [ClientScript("c1", ops, timeout=100).to_json()]}]

    @classmethod
    def build_world(cls, variant: Variant, scenario: dict[str, Any]) -> World:
        node_cls = variant.factory()
        config = WorldConfig.from_json(scenario["world"])
        clients = [ClientScript.from_json(c) for c in scenario["clients"]]
        return World(config, lambda nid: node_cls(), clients)

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [Property("no_stale_read", no_stale_read)]


CI = PROFILES["ci"]


# ---------------------------------------------------------------------------
# Each explorer catches the broken toy; none flags the fixed one.

import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from racekit.sim.stateful import rule_based  # noqa: E402

ASYNC, SYNC = SYSTEM.variant("async"), SYSTEM.variant("sync")


@pytest.mark.parametrize("explorer", ["random", "hypothesis", "dfs", "bounded"])
def test_each_explorer_catches_async_replica(explorer: str) -> None:
    report = explore(ToyMachine, ASYNC, explorer, 300)
    assert report.found is not None, f"{explorer} missed the stale read in {report.runs} runs"
    assert report.found.property == "no_stale_read"


@pytest.mark.parametrize("explorer", ["random", "hypothesis"])
def test_explorers_find_nothing_on_sync_replica(explorer: str) -> None:
    assert explore(ToyMachine, SYNC, explorer, 100).found is None


def test_exhaustive_covers_sync_replica_completely() -> None:
    report = explore(ToyMachine, SYNC, "dfs", 5000)
    assert report.found is None and report.coverage.exhaustive


def test_dpor_is_refused_on_the_simulator_in_one_sentence() -> None:
    from racekit.choice.strategy import UnknownStrategy

    with pytest.raises(UnknownStrategy, match="only thread systems"):
        explore(ToyMachine, SYNC, "dpor", 10)


def test_search_minimizes_and_replay_reproduces_the_outcome() -> None:
    outcome = search(ToyMachine, ASYNC, CI)
    assert outcome.failed and outcome.property == "no_stale_read" and outcome.engine == "sim"
    assert outcome.choices == [] or outcome.choices[-1] != 0
    again = run_scenario(ToyMachine, ASYNC, outcome.scenario, outcome.choices)
    assert (again.failed, again.property, again.message) == (
        True,
        outcome.property,
        outcome.message,
    )
    assert again.trace == outcome.trace and again.history == outcome.history
    # every trace entry has the documented fields
    assert all({"step", "t", "node", "what", "detail"} <= set(e) for e in outcome.trace)


def test_async_counterexample_replays_clean_on_sync() -> None:
    from racekit.portfolio import replay_all

    outcome = search(ToyMachine, ASYNC, CI)
    assert not replay_all(ToyMachine, SYNC, outcome.scenario, outcome.choices).failed


def test_rule_based_wrapper_catches_async_replica() -> None:
    rules = rule_based(ToyMachine, ASYNC, ToyMachine.seed_scenarios(ASYNC)[0])
    with pytest.raises(AssertionError, match="no_stale_read"):
        run_state_machine_as_test(
            rules,
            settings=settings(
                max_examples=300,
                database=None,
                derandomize=True,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            ),
        )


def test_rule_based_wrapper_passes_sync_replica() -> None:
    rules = rule_based(ToyMachine, SYNC, ToyMachine.seed_scenarios(SYNC)[0])
    run_state_machine_as_test(
        rules,
        settings=settings(
            max_examples=50,
            database=None,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
