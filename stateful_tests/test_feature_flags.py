"""Simulated feature_flags: evaluations at every node while percentages change and the kill switch is thrown."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from racekit import Variant, variant_tests
from racekit.sim import (
    ClientOp,
    ClientScript,
    Draw,
    Node,
    Property,
    SimMachine,
    World,
    WorldConfig,
    make_scenario_json,
)
from systems import feature_flags

NODES = ("a", "b", "c")
USERS = ("u1", "u2", "u3")
# Boundary percentages: each user's own bucket (on at bucket + 1, off at bucket), 0 and 100.
PERCENTS = tuple(sorted({0, 100} | {feature_flags.bucket(feature_flags.FLAG, u) + d for u in USERS for d in (0, 1)}))


def sticky_per_version(world: World) -> str | None:
    """Safety: one user, one flag version -> one answer, at every node."""
    seen: dict[tuple[str, tuple[Any, ...]], tuple[int, bool]] = {}
    for op in world.recorder.history().operations:
        if op.name != "eval" or op.status != "ok":
            continue
        version, on = op.result
        key = (op.args[0], tuple(version))
        if key in seen and seen[key][1] != on:
            return (f"eval #{op.id} gave {op.args[0]} {on} at version {version}, "
                    f"eval #{seen[key][0]} gave {seen[key][1]}")
        seen.setdefault(key, (op.id, on))
    return None


def kill_reaches_every_node(world: World) -> str | None:
    """Bound: once a kill is acknowledged, no node serves the feature (the bound is the ack)."""
    ops = world.recorder.history().operations
    acked = [k.ret for k in ops if k.name == "kill" and k.status == "ok" and k.ret is not None]
    if not acked:
        return None
    for op in ops:
        if op.name == "eval" and op.status == "ok" and op.invoke > min(acked) and op.result[1]:
            return f"eval #{op.id} at t={op.invoke} served the feature after the kill was acknowledged at t={min(acked)}"
    return None


def fresh_after_ack(world: World) -> str | None:
    """Freshness: once a set/kill is acknowledged, every later eval is at that version or newer."""
    ops = world.recorder.history().operations
    for change in ops:
        if change.name not in ("set", "kill") or change.status != "ok" or change.ret is None:
            continue
        for op in ops:
            if op.name == "eval" and op.status == "ok" and op.invoke > change.ret and tuple(op.result[0]) < tuple(change.result):
                return f"eval #{op.id} saw version {op.result[0]} after #{change.id} acknowledged {change.result}"
    return None


def expected_on(user: str, percent: int) -> bool:
    """The rollout rule, written out here so a bug in the system's copy cannot hide itself."""
    return zlib.crc32(f"{feature_flags.FLAG}:{user}".encode()) % 100 < percent


def changes_acknowledged(world: World) -> str | None:
    """Liveness: with every node up and no drops, every set/kill is acknowledged before its timeout."""
    for op in world.recorder.history().operations:
        # ret is None: the run stopped (pruned or at its horizon) with the change still open.
        if op.name in ("set", "kill") and op.status != "ok" and op.ret is not None:
            return f"{op.name} #{op.id} timed out unacknowledged (status {op.status})"
    return None


def follows_rule(world: World) -> str | None:
    """Safety: an answer is the sticky rule at its version's percentage (off once killed)."""
    ops = world.recorder.history().operations
    percent: dict[tuple[Any, ...], int] = {(0, ""): 50}
    kills = [op for op in ops if op.name == "kill"]
    for op in ops:
        if op.name == "set" and op.status == "ok":
            percent[tuple(op.result)] = op.args[0]
    for op in ops:
        if op.name != "eval" or op.status != "ok" or tuple(op.result[0]) not in percent:
            continue
        want = expected_on(op.args[0], percent[tuple(op.result[0])])
        maybe_killed = any(k.invoke < (op.ret or 0) for k in kills)
        if op.result[1] and not want or (not maybe_killed and op.result[1] != want):
            return f"eval #{op.id} gave {op.args[0]} {op.result[1]} at version {op.result[0]}, the rule says {want}"
    return None


def script(name: str, ops: list[ClientOp]) -> ClientScript:
    return ClientScript(name, tuple(ops), timeout=100)


class Machine(SimMachine):
    system = feature_flags.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """One user asks three nodes twice each at one version; then a kill and one more ask."""
        evals = [ClientOp(n, "eval", ("u1",)) for n in NODES for _ in range(2)]
        b = feature_flags.bucket(feature_flags.FLAG, "u1")
        change = [ClientOp("a", "set", (b,)), ClientOp("b", "eval", ("u1",)), ClientOp("c", "set", (b + 1,)),
                  ClientOp("b", "eval", ("u1",)), ClientOp("a", "kill"), ClientOp("c", "eval", ("u1",))]
        return [make_scenario_json(WorldConfig(nodes=NODES, horizon=500),
                                   [script("c1", evals), script("c2", [ClientOp("a", "kill"), ClientOp("b", "eval", ("u2",))])]),
                make_scenario_json(WorldConfig(nodes=NODES, horizon=500), [script("c1", change)])]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        clients = []
        for c in range(draw.integer(1, 3)):
            ops = []
            for _ in range(draw.integer(1, 4)):
                node = draw.pick(NODES)
                kind = draw.integer(0, 5)
                if kind == 0:
                    ops.append(ClientOp(node, "kill"))
                elif kind == 1:
                    ops.append(ClientOp(node, "set", (draw.pick(PERCENTS),)))
                else:
                    ops.append(ClientOp(node, "eval", (draw.pick(USERS),)))
            clients.append(script(f"c{c}", ops))
        return make_scenario_json(WorldConfig(nodes=NODES, horizon=500), clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        node_cls = variant.factory()
        return lambda nid: node_cls()

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [Property("sticky_per_version", sticky_per_version),
                Property("kill_reaches_every_node", kill_reaches_every_node),
                Property("fresh_after_ack", fresh_after_ack),
                Property("follows_rule", follows_rule),
                Property("changes_acknowledged", changes_acknowledged)]


test_feature_flags = variant_tests(Machine)


@given(st.text(min_size=1, max_size=12), st.integers(0, 100), st.integers(0, 100))
def test_raising_the_percentage_never_turns_a_user_off(user: str, low: int, high: int) -> None:
    """Monotone rollout: on at p implies on at every p' >= p (sticky hashing, Hypothesis)."""
    low, high = min(low, high), max(low, high)
    if feature_flags.sticky_on(feature_flags.FLAG, user, low):
        assert feature_flags.sticky_on(feature_flags.FLAG, user, high)
    assert not feature_flags.sticky_on(feature_flags.FLAG, user, 0)
    assert feature_flags.sticky_on(feature_flags.FLAG, user, 100)
