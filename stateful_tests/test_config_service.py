"""Simulated config service: a store, three services (``s1`` the canary), an
operator publishing and rolling back, request traffic reading at the
services; lost, duplicated and held messages, a partition, a service crash
and clock drift on the services.

``version_monotonic`` is checked after every step (incrementally); the
others once, on the whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import pytest

from racekit import (
    PROFILES,
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
from specs.config_service import (
    AdminOp,
    Applied,
    MonotonicWatch,
    Releases,
    Target,
    rollback_missed,
    rollback_undone,
    rollout_missed,
    target_missed,
    torn_read,
    unavailable,
    unstaged,
)
from systems import config_service
from systems.config_reload import snapshot_of
from systems.config_service import CANARY, SERVICES, STORE, Design, Service, Store, Timing

TIMING = Timing()
WINDOW = 10
LATENCY = 1
DRIFT_PPM = 100_000
BOUND_MS = int(TIMING.poll_ms / (1 - DRIFT_PPM / 1e6) + WINDOW + 2 * (LATENCY + WINDOW) + 20)
"""A service polls within one (drifted, late) period of any change; the answer
takes a round trip.  Pushes are faster; the poll is the guarantee."""

DISTURBANCES = frozenset({"drop", "dup", "delay", "partition", "heal", "lost", "crash", "restart", "skew"})


# -- what happened ----------------------------------------------------------------
def applied(world: World) -> list[Applied]:
    return [Applied(n.t, n.node, int(n.data["version"]), str(n.data["content"])) for n in world.notes_of("apply")]


def targets(world: World) -> list[Target]:
    return [
        Target(n.t, str(n.data["node"]), int(n.data["version"]), str(n.data["content"]), str(n.data["why"]))
        for n in world.notes_of("target")
    ]


def contents(world: World) -> dict[int, str]:
    out = {1: "c1"}
    for n in world.notes_of("publish"):
        out[int(n.data["version"])] = str(n.data["content"])
    return out


def now(world: World) -> int:
    """The run's time; once nothing is pending before the horizon, the horizon
    (a run that went quiet early is judged at its end)."""
    return world.now if world.candidates() else world.config.horizon


def quiet_from(world: World) -> int:
    return max((row["t"] for row in world.trace if row["what"] in DISTURBANCES), default=0)


def alive_at(world: World) -> Callable[[str, int], bool]:
    """Was a service up at time t (from the world's crash / restart log)?"""
    changes: dict[str, list[tuple[int, bool]]] = {s: [] for s in SERVICES}
    for row in world.trace:
        if row["node"] in changes and row["what"] in ("crash", "restart"):
            changes[row["node"]].append((row["t"], row["what"] == "restart"))

    def alive(node: str, t: int) -> bool:
        up = True
        for when, state in changes[node]:
            if when <= t:
                up = state
        return up

    return alive


# -- properties -----------------------------------------------------------------------
class Watch:
    """``version_monotonic`` fed only the apply notes added since the last step."""

    def __init__(self) -> None:
        self.seen = 0
        self.monotonic = MonotonicWatch()
        self.found: str | None = None

    def update(self, world: World) -> str | None:
        for n in world.notes[self.seen :]:
            if n.what == "apply" and self.found is None:
                self.found = self.monotonic.feed(Applied(n.t, n.node, int(n.data["version"]), str(n.data["content"])))
        self.seen = len(world.notes)
        return self.found


_WATCHES: WeakKeyDictionary[World, Watch] = WeakKeyDictionary()


def version_monotonic(world: World) -> str | None:
    return _WATCHES.setdefault(world, Watch()).update(world)


def whole_version(world: World) -> str | None:
    reads = [(op.process, tuple(op.result)) for op in world.recorder.history() if op.name == "read" and op.status == "ok"]
    return torn_read(reads, contents(world), lambda v, c: snapshot_of(v, c).as_read())


def staged_rollout(world: World) -> str | None:
    return unstaged(applied(world), targets(world), CANARY, TIMING.bake_ms)


def admin_ops(world: World) -> list[AdminOp]:
    """The operator's requests in order, with the time each was invoked."""
    time_of = {row["step"]: row["t"] for row in world.trace}
    ops = []
    for op in world.recorder.history():
        if op.process == "admin":
            version = op.result if op.status == "ok" else None
            ops.append(AdminOp(time_of[op.invoke], op.name, str(op.args[0]) if op.args else "", op.status == "ok", version))
    return ops


def available(world: World) -> str | None:
    ops = [(op.process, f"{op.name}{tuple(op.args)!r}", op.status) for op in world.recorder.history()]
    return unavailable(ops, sum(world.faults_used.values()))


def rollout_completes(world: World) -> str | None:
    return rollout_missed(
        admin_ops(world), applied(world), alive_at(world), SERVICES, quiet_from(world), now(world), TIMING.bake_ms, BOUND_MS,
        lead=LATENCY + WINDOW,
    )


def expected_rollbacks(ops: list[AdminOp]) -> dict[int, set[str]]:
    return Releases(TIMING.bake_ms, slack=2 * (LATENCY + WINDOW)).rollback_contents(ops)


def rollback_sticks(world: World) -> str | None:
    ops = admin_ops(world)
    return rollback_undone(ops, expected_rollbacks(ops), targets(world))


def rollback_reaches_all(world: World) -> str | None:
    ops = admin_ops(world)
    expected = expected_rollbacks(ops)
    return rollback_missed(
        ops, expected, applied(world), alive_at(world), SERVICES, quiet_from(world), now(world), BOUND_MS,
        lead=LATENCY + WINDOW,
    )


def reaches_target(world: World) -> str | None:
    return target_missed(targets(world), applied(world), alive_at(world), quiet_from(world), now(world), BOUND_MS)


PROPERTIES = [
    Property("version_monotonic", version_monotonic),
    Property("whole_version", whole_version, when="end"),
    Property("staged_rollout", staged_rollout, when="end"),
    Property("available", available, when="end"),
    Property("rollback_sticks", rollback_sticks, when="end"),
    Property("rollout_completes", rollout_completes, when="end", kind="liveness"),
    Property("rollback_reaches_all", rollback_reaches_all, when="end", kind="liveness"),
    Property("reaches_target", reaches_target, when="end", kind="liveness"),
]


# -- scenarios -----------------------------------------------------------------------
def world_config(horizon: int, faults: FaultBudget, **extra: Any) -> WorldConfig:
    return WorldConfig(
        nodes=(STORE, *SERVICES),
        latency=LATENCY,
        window=WINDOW,
        horizon=horizon,
        faults=faults,
        crashable=SERVICES,
        skewable=SERVICES,
        partitionable=SERVICES,
        one_way=False,
        drifts_ppm=(-DRIFT_PPM, DRIFT_PPM),
        skew_jumps=(),
        **extra,
    )


class Machine(SimMachine):
    system: ClassVar[System] = config_service.SYSTEM
    # Runs are a few hundred decisions: seeded random runs, not Hypothesis (5x the cost per run).
    explorers: ClassVar[tuple[str, ...]] = ("random",)
    random_runs: ClassVar[float] = 2.0

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """Fault-free: publish ``c2`` at t=0; publish ``c3`` at t=400 (``c2``
        is out everywhere by then); roll back at t=700 - the instant ``c3``'s
        bake ends and its second wave goes out - which must restore ``c2``;
        reads at ``s2`` meanwhile."""
        bake = TIMING.bake_ms
        admin = ClientScript(
            "admin",
            (
                ClientOp(STORE, "publish", ("c2",)),
                ClientOp(STORE, "publish", ("c3",), at=400),
                ClientOp(STORE, "rollback", at=400 + bake),
            ),
        )
        reads = ClientScript("u1@s2", tuple(ClientOp("s2", "read", at=at) for at in (150, 550, 850)))
        return [make_scenario_json(world_config(1000, FaultBudget()), [admin, reads])]

    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        """The seed gets 200 runs of prefix DFS (enough for every single
        reordering of its ~100 decisions); the drawn scenarios the rest."""
        plan = super().plan(variant, profile)
        return replace(plan, phases=[Phase("bounded", max(1, profile.budget // 10), "seeds"), *plan.phases[1:]])

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        ops = []
        at = draw.integer(0, 10) * 20
        for i in range(draw.integer(1, 4)):
            if i and draw.integer(0, 2) == 0:
                ops.append(ClientOp(STORE, "rollback", at=at))
            else:
                ops.append(ClientOp(STORE, "publish", (f"c{i + 2}",), at=at))
            at += draw.pick([50, 150, TIMING.bake_ms, TIMING.bake_ms + 5, 500, 700])
        clients = [ClientScript("admin", tuple(ops), timeout=200)]
        for r in range(draw.integer(1, 2)):
            node = draw.pick(SERVICES)
            reads = tuple(ClientOp(node, "read", at=draw.integer(0, 60) * 20) for _ in range(draw.integer(1, 4)))
            clients.append(ClientScript(f"u{r}@{node}", tuple(sorted(reads, key=lambda o: o.at)), timeout=100))
        config = world_config(
            1600, FaultBudget(drop=2, dup=1, delay=1, partition=1, crash=1, skew=1),
            delay_extra=(150, 400),
            crash_downtime=(100, 400),
            partition_duration=(200, 600),
        )
        return make_scenario_json(config, clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        design = variant.factory()
        return lambda nid: design.store(TIMING) if nid == STORE else design.service(TIMING)

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return PROPERTIES


CI = PROFILES["ci"]
SYSTEM = config_service.SYSTEM

# Every variant against its expectation; the fixed variant replays the saved
# counterexamples of its broken siblings (counterexamples/config_service/).
test_config_service = variant_tests(Machine)


# ---------------------------------------------------------------------------
# Planted bugs: copies of the fixed design with one realistic mistake each.
# ---------------------------------------------------------------------------
class RollbackKeepsWave(Store):
    """The rollback does not cancel the rollout's pending second wave."""

    def on_request(self, client: str, request: Any) -> None:
        if request.name == "rollback":
            rolling = self.rolling
            version = self.rollback_version()
            self.note("rollback", version=version, content=self.contents[version])
            self.retarget(self.services, version, "rollback")
            self.rolling = rolling
            self.reply(client, request, version)
        else:
            super().on_request(client, request)


class RollbackPushOnly(Store):
    """The rollback pushes the new version but leaves the targets polls answer with."""

    def retarget(self, nodes: tuple[str, ...], version: int, why: str) -> None:
        if why != "rollback":
            super().retarget(nodes, version, why)
            return
        for n in nodes:
            self.note("target", node=n, version=version, content=self.contents[version], why=why)
            self.send(n, ("config", version, self.contents[version]))


class ShortBake(Store):
    """The second wave goes out after half the bake time."""

    def set_timer(self, name: str, delay: int) -> None:
        super().set_timer(name, delay // 2)


class NoLocalCache(Service):
    """Keeps the applied config in memory only: a restart starts from the built-in one."""

    def on_start(self) -> None:
        self.disk.delete("config")
        super().on_start()


class PollOnce(Service):
    """Polls when it starts, then relies on pushes alone."""

    def on_timer(self, name: str) -> None:
        if name == "poll":
            self.send(STORE, ("poll", self.current.version))


PLANTED: dict[str, tuple[type[Store], type[Service], str]] = {
    "rollback_keeps_wave": (RollbackKeepsWave, Service, "rollback_sticks"),
    "rollback_push_only": (RollbackPushOnly, Service, "rollback_reaches_all"),
    "short_bake": (ShortBake, Service, "staged_rollout"),
    "no_local_cache": (Store, NoLocalCache, "version_monotonic"),
    "poll_once": (Store, PollOnce, "reaches_target"),
}


class PlantedMachine(Machine):
    system: ClassVar[System] = System(
        name="config_service",
        summary="planted bugs in the fixed design",
        kind="sim",
        variants=[
            *(Variant(name, (lambda s, v: lambda: Design(s, v))(store, service), expect="violation", property=prop, bug=name)
              for name, (store, service, prop) in PLANTED.items()),
            Variant("versioned", lambda: Design(Store, Service), expect="correct"),
        ],
    )


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = first_failure(PlantedMachine, name)
    assert outcome is not None, f"planted bug {name} not caught"
    assert outcome.property == PLANTED[name][2], (outcome.property, outcome.message)
