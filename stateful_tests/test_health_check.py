"""Simulated health checking: a checker probing four flaky backends; drops, held
messages, a partition, a backend crash and drift of the checker's clock.

The scenario gives each backend its sick intervals (flaky, dying, a blip, a
recovery, or all at once: a shared dependency of the health endpoint); the
search adds the faults.  Properties: ``keeps_k_enabled``, ``hysteresis`` and
``one_outcome_per_probe`` after every step; ``flaps_bounded``, ``out_within`` and ``back_within`` on
the whole run.
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
    Draw,
    FaultBudget,
    Node,
    Property,
    SimMachine,
    World,
    WorldConfig,
    make_scenario_json,
)
from specs.health_check import (
    Backend,
    Bounds,
    Event,
    FlapWatch,
    HysteresisWatch,
    Interval,
    OutcomeWatch,
    Rotation,
    below_floor,
    bounds,
    complement,
    late_back,
    late_out,
    merge,
)
from systems import health_check
from systems.health_check import BACKENDS, CHECKER, HealthChecker, Policy

POLICY = Policy()
WINDOW = 10
LATENCY = 1
DRIFT_PPM = 100_000
BOUNDS: Bounds = bounds(
    POLICY.probe_ms, POLICY.timeout_ms, POLICY.fall, POLICY.rise, POLICY.cooldown_ms,
    drift=DRIFT_PPM / 1e6, window=WINDOW, latency=LATENCY, flap_window_ms=2000,
)
NO_FAULTS = FaultBudget()
DISTURBANCES = ("drop", "dup", "delay", "lost", "partition", "heal")


# -- what happened --------------------------------------------------------------
def events(world: World) -> list[Event]:
    out: list[Event] = []
    for n in world.notes:
        if n.what == "probe":
            out.append((n.t, "probe", n.data["node"], bool(n.data["ok"])))
        elif n.what in ("enable", "disable"):
            out.append((n.t, n.what, n.data["node"], n.what == "enable"))
    return out


def rotation(world: World) -> Rotation:
    return Rotation(BACKENDS, [(t, node, on) for t, kind, node, on in events(world) if kind != "probe"])


def sickness(scenario: dict[str, Any]) -> dict[str, tuple[Interval, ...]]:
    raw = scenario["params"]["sickness"]
    return {b: tuple((int(s), int(e)) for s, e in raw.get(b, ())) for b in BACKENDS}


def unhealthy(world: World) -> dict[str, list[Interval]]:
    """Sick intervals (each backend's ``sickness`` note at t=0) plus crash
    downtime (from the world's own log)."""
    horizon = world.config.horizon
    down: dict[str, list[Interval]] = {b: [] for b in BACKENDS}
    for n in world.notes_of("sickness"):
        down[n.node] += [tuple(i) for i in n.data["intervals"]]
    crashed: dict[str, int] = {}
    for row in world.trace:
        if row["node"] in down and row["what"] == "crash":
            crashed[row["node"]] = row["t"]
        elif row["node"] in crashed and row["what"] == "restart":
            down[row["node"]].append((crashed.pop(row["node"]), row["t"]))
    for b, t in crashed.items():
        down[b].append((t, horizon))
    return {b: merge((s, min(e, horizon)) for s, e in down[b]) for b in BACKENDS}


def disturbed(world: World) -> dict[str, list[int]]:
    """When the network touched each backend's probes (lost, held, duplicated, cut)."""
    marks: dict[str, list[int]] = {b: [] for b in BACKENDS}
    for row in world.trace:
        if row["what"] in DISTURBANCES:
            hit = BACKENDS if row["node"] in ("-", CHECKER) else (row["node"],) if row["node"] in marks else ()
            for b in hit:
                marks[b].append(row["t"])
    return marks


# -- properties -------------------------------------------------------------------
class Watches:
    """The step-by-step checks of one world, fed only the notes added since
    the last step (a run has ~300 steps and ~150 notes: rescanning every
    note at every step would dominate the run)."""

    def __init__(self) -> None:
        self.seen = 0
        self.hysteresis = HysteresisWatch(POLICY.fall, POLICY.rise)
        self.flaps = FlapWatch(BOUNDS.flap_window_ms, BOUNDS.max_flaps)
        self.outcomes = OutcomeWatch()
        self.found: dict[str, str] = {}

    def update(self, world: World) -> None:
        for n in world.notes[self.seen :]:
            if n.what == "probe":
                self.hysteresis.feed((n.t, "probe", n.data["node"], bool(n.data["ok"])))
                problem = self.outcomes.feed(n.t, n.data["node"], int(n.data["probe"]))
                if problem and "one_outcome_per_probe" not in self.found:
                    self.found["one_outcome_per_probe"] = problem
            elif n.what in ("enable", "disable"):
                event = (n.t, n.what, n.data["node"], n.what == "enable")
                for name, problem in (
                    ("hysteresis", self.hysteresis.feed(event)),
                    ("flaps_bounded", self.flaps.feed(n.t, n.data["node"])),
                ):
                    if problem and name not in self.found:
                        self.found[name] = problem
        self.seen = len(world.notes)


_WATCHES: WeakKeyDictionary[World, Watches] = WeakKeyDictionary()


def watched(name: str) -> Callable[[World], str | None]:
    def check(world: World) -> str | None:
        watches = _WATCHES.setdefault(world, Watches())
        watches.update(world)
        return watches.found.get(name)

    return check


def checker(world: World) -> HealthChecker:
    node = world.node(CHECKER)
    assert isinstance(node, HealthChecker)
    return node


def out_within(w: World) -> str | None:
    return late_out(unhealthy(w), rotation(w), BOUNDS.out_ms, BOUNDS.hold_ms, POLICY.keep)


def back_within(w: World) -> str | None:
    healthy = {b: complement(iv, w.config.horizon) for b, iv in unhealthy(w).items()}
    return late_back(healthy, disturbed(w), rotation(w), BOUNDS.back_ms)


PROPERTIES = [
    Property("keeps_k_enabled", lambda w: below_floor(checker(w).in_rotation(), len(BACKENDS), POLICY.keep)),
    Property("hysteresis", watched("hysteresis")),
    Property("flaps_bounded", watched("flaps_bounded")),
    Property("one_outcome_per_probe", watched("one_outcome_per_probe")),
    Property("out_within", out_within, when="end", kind="liveness"),
    Property("back_within", back_within, when="end", kind="liveness"),
]


# -- scenarios ----------------------------------------------------------------------
def flaky(start: int, period: int, sick_ms: int, until: int) -> list[list[int]]:
    return [[t, t + sick_ms] for t in range(start, until, period)]


def scenario(
    sick: dict[str, list[list[int]]], horizon: int, faults: FaultBudget = NO_FAULTS, **world: Any
) -> dict[str, Any]:
    config = WorldConfig(
        nodes=(CHECKER, *BACKENDS),
        latency=LATENCY,
        window=WINDOW,
        horizon=horizon,
        faults=faults,
        crashable=BACKENDS,
        skewable=(CHECKER,),
        partitionable=(CHECKER, *BACKENDS),
        one_way=False,
        drifts_ppm=(-DRIFT_PPM, DRIFT_PPM),
        skew_jumps=(),
        **world,
    )
    return make_scenario_json(config, sickness={b: sick.get(b, []) for b in BACKENDS})


class Machine(SimMachine):
    system: ClassVar[System] = health_check.SYSTEM
    # A run is ~300 decisions and the scenario has no client workload to
    # shrink: Hypothesis costs ~10x more per decision than a seeded random
    # draw and buys nothing here, so the random explorer gets its runs.
    explorers: ClassVar[tuple[str, ...]] = ("random",)
    random_runs: ClassVar[float] = 2.0

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """The shapes of trouble in one fault-free run: ``b1`` flaky
        throughout (one or two failed probes at a time), ``b3`` sick just
        long enough to be taken out and healthy just long enough to come
        back, ``b2`` sick for 300 ms then healthy, and a shared outage
        (every health endpoint sick for 800 ms) later on."""
        sick = {b: [[1500, 2300]] for b in BACKENDS}
        sick["b1"] += flaky(100, 250, 120, 3000)
        sick["b2"] += [[200, 500]]
        sick["b3"] += flaky(0, 500, 300, 1500)
        return [scenario(sick, 3000)]

    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        """Runs are long (3 s of probing, ~300 events): prefix DFS over one seed
        spends a large budget on deviations near its end, so the seed gets a
        few dozen runs and the drawn scenarios (with faults) the rest."""
        plan = super().plan(variant, profile)
        seeds = Phase("bounded", max(1, profile.budget // 40), "seeds")
        return replace(plan, phases=[seeds, *plan.phases[1:]])

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        horizon = draw.integer(25, 40) * 100
        sick: dict[str, list[list[int]]] = {}
        shared = draw.integer(0, 3) == 0
        start = draw.integer(0, 15) * 100
        for b in BACKENDS:
            shape = draw.pick(["healthy", "healthy", "flaky", "dies", "blip", "recovers"])
            at = draw.integer(0, 20) * 100
            if shape == "flaky":  # sick for a few probes, healthy for a few, again and again
                sick_ms, well_ms = draw.integer(1, 4) * POLICY.probe_ms, draw.integer(1, 4) * POLICY.probe_ms
                sick[b] = flaky(at, sick_ms + well_ms + draw.integer(-20, 20), sick_ms, horizon)
            elif shape == "dies":
                sick[b] = [[at, horizon]]
            elif shape == "blip":
                sick[b] = [[at, at + draw.pick([150, 250, 400, 900])]]
            elif shape == "recovers":
                sick[b] = [[0, at + 300]]
            if shared:
                sick.setdefault(b, []).append([start, start + draw.pick([300, 800, 1500])])
        faults = FaultBudget(drop=2, dup=1, delay=1, partition=1, crash=1, skew=1)
        return scenario(
            sick, horizon, faults,
            crash_downtime=(400, 100_000),
            partition_duration=(300, 1000),
            delay_extra=(70, 200),
        )

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        checker_cls = variant.factory()
        sick = sickness(scenario)
        return lambda nid: checker_cls(POLICY) if nid == CHECKER else Backend(sick[nid])

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return PROPERTIES


CI = PROFILES["ci"]
SYSTEM = health_check.SYSTEM


# Every variant against its expectation; the fixed variant replays the saved
# counterexamples of its broken siblings (counterexamples/health_check/).
test_health_check = variant_tests(Machine)


# ---------------------------------------------------------------------------
# Planted bugs: copies of the fixed policy with one realistic mistake each.
# Each must be caught by the property it breaks (so no property is decorative).
# ---------------------------------------------------------------------------
class FallMinusOne(health_check.Hysteresis):
    def decide(self, b: str, ok: bool) -> None:
        if self.enabled[b] and self.fails[b] == self.policy.fall - 1 and self.may_disable():
            self.set_enabled(b, False)
            self.set_timer(f"probe:{b}", self.policy.cooldown_ms)
            return
        super().decide(b, ok)


class NoCooldown(health_check.Hysteresis):
    """A failed half-open probe does not restart the cooldown: probed at full rate."""

    def set_timer(self, name: str, delay: int) -> None:
        super().set_timer(name, min(delay, self.policy.probe_ms))


class TimeoutIsNotFailure(health_check.Hysteresis):
    """Only an explicit "unhealthy" answer counts; silence (crash, cut link) is ignored."""

    def on_timer(self, name: str) -> None:
        if name.startswith("timeout:"):
            self.outstanding[name.split(":")[1]] = None
            return
        super().on_timer(name)


class FloorOffByOne(health_check.Hysteresis):
    def may_disable(self) -> bool:
        return self.in_rotation() >= self.policy.keep


class RiseOfOne(health_check.Hysteresis):
    def decide(self, b: str, ok: bool) -> None:
        if not self.enabled[b] and ok:
            self.set_enabled(b, True)
            return
        super().decide(b, ok)


PLANTED = {
    "fall_minus_one": (FallMinusOne, "hysteresis"),
    "rise_of_one": (RiseOfOne, "hysteresis"),
    "no_cooldown": (NoCooldown, "flaps_bounded"),
    "timeout_is_not_failure": (TimeoutIsNotFailure, "out_within"),
    "floor_off_by_one": (FloorOffByOne, "keeps_k_enabled"),
}


class PlantedMachine(Machine):
    system: ClassVar[System] = System(
        name="health_check",
        summary="planted bugs in the fixed policy",
        kind="sim",
        variants=[
            *(Variant(name, (lambda c: lambda: c)(cls), expect="violation", property=prop, bug=name)
              for name, (cls, prop) in PLANTED.items()),
            Variant("hysteresis", lambda: health_check.Hysteresis, expect="correct"),
        ],
    )


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = first_failure(PlantedMachine, name)
    assert outcome is not None, f"planted bug {name} not caught"
    assert outcome.property == PLANTED[name][1], (outcome.property, outcome.message)
