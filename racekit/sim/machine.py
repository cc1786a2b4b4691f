"""``SimMachine``: the simulator's Engine (see :mod:`racekit.engine`).

A catalogue system run on the simulator subclasses :class:`SimMachine` and
gives:

* ``system``: its :class:`~racekit.declarations.System` declaration;
* ``draw(variant, draw)``: a JSON-able scenario (world config and client
  workload) built from a :class:`~racekit.choice.Draw`, so the same
  generator serves Hypothesis, random search and defaults;
* ``node_factory(variant, scenario)`` (or ``build_world``): the node code;
* ``properties(variant)``: named :class:`Property` checks;
* optionally ``seed_scenarios(variant)``: small scenarios enumerated first,
  and ``shrink(variant, scenario)`` (default: drop one client operation).

The search (:func:`racekit.search.search`) runs the plan - seed scenarios
by iterative bounding, then Hypothesis and random runs, a third of each
without faults first so a bug that needs none is reported without
incidental ones - and minimizes what it finds.

Why a choice sequence and not rules: the world asks its chooser at every
decision, so one ``list[int]`` is the whole schedule.  That list is what
the store saves, what the exhaustive explorer enumerates, what replays on a
fixed variant, and what the thread scheduler also produces.  A Hypothesis
``RuleBasedStateMachine`` drives the same world through ``stateful.py``
for users who prefer rules; it cannot enumerate or replay from a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from racekit.choice import Chooser, Draw, MinimalDraw, Result
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.history import History
from racekit.profiles import ProfileSettings
from racekit.sim.config import ClientScript, WorldConfig
from racekit.sim.node import Node
from racekit.sim.result import Violation
from racekit.sim.world import Check, World
from racekit.spec import Spec


@dataclass(frozen=True)
class Property:
    """A named check.  ``check(world)`` returns None when it holds, else one line of why.

    ``when="always"`` checks after every step (cheap safety invariants: the
    run stops at the first bad state, so traces stay short); ``"end"``
    checks once after the run (history checks, liveness bounds).
    """

    name: str
    check: Callable[[World], str | None]
    when: Literal["always", "end"] = "always"
    kind: str = "invariant"


def linearizable(
    spec: Callable[[], Spec],
    name: str = "linearizable",
    *,
    ops: Sequence[str] | None = None,
    timeout: float = 5.0,
) -> Property:
    """An end-of-run property: the client history is linearizable w.r.t. ``spec``.

    ``ops`` keeps only those operation names (admin operations such as a
    membership change are not part of the data spec).  A checker timeout
    ("unknown") is not reported as a violation.
    """
    from racekit import linearizability

    def check(world: World) -> str | None:
        history = world.recorder.history()
        if ops is not None:
            history = History([op for op in history if op.name in ops])
        result = linearizability.check(history, spec(), timeout=timeout)
        if result.verdict == "violation":
            return result.message or "history is not linearizable"
        return None

    return Property(name, check, when="end", kind="linearizability")


def make_scenario_json(
    config: WorldConfig, clients: Sequence[ClientScript] = (), **params: Any
) -> dict[str, Any]:
    """The standard scenario shape: ``{"world": ..., "clients": [...], "params": {...}}``."""
    return {"world": config.to_json(), "clients": [c.to_json() for c in clients], "params": dict(params)}


class SimMachine:
    """Base of every simulated system's ``Machine`` (the simulator Engine)."""

    system: ClassVar[System]
    engine: ClassVar[str] = "sim"
    inner: ClassVar[str] = "dfs"
    unit: ClassVar[str] = "deviations"
    explorers: ClassVar[tuple[str, ...]] = ("hypothesis", "random")
    fault_rate: ClassVar[float] = 1 / 16
    minimize_budget: ClassVar[int] = 200
    random_runs: ClassVar[float] = 1.0  # random runs = this x profile.max_examples

    # ------------------------------------------------------------------
    # What a system provides
    # ------------------------------------------------------------------
    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        raise NotImplementedError(f"{cls.__name__} must define draw(variant, draw)")

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """Small scenarios to enumerate completely, shallow first (default: none)."""
        return []

    @classmethod
    def build_world(cls, variant: Variant, scenario: dict[str, Any]) -> World:
        """Default: a standard scenario (see :func:`make_scenario_json`) and ``node_factory``."""
        config = WorldConfig.from_json(scenario["world"])
        clients = [ClientScript.from_json(c) for c in scenario.get("clients", [])]
        return World(config, cls.node_factory(variant, scenario), clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        raise NotImplementedError(f"{cls.__name__} must define node_factory or build_world")

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        raise NotImplementedError(f"{cls.__name__} must define properties(variant)")

    @classmethod
    def default_scenario(cls, variant: Variant) -> dict[str, Any]:
        return cls.draw(variant, MinimalDraw())

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        """Smaller workloads to try: drop one client operation at a time (last first).

        Override for scenarios that are not ``{"clients": [{"ops": [...]}, ...]}``.
        """
        clients = scenario.get("clients") if isinstance(scenario, dict) else None
        if not isinstance(clients, list):
            return
        for ci in range(len(clients) - 1, -1, -1):
            ops = clients[ci].get("ops", [])
            for oi in range(len(ops) - 1, -1, -1):
                new_clients = [dict(c) for c in clients]
                new_clients[ci]["ops"] = ops[:oi] + ops[oi + 1 :]
                yield {**scenario, "clients": new_clients}

    @classmethod
    def size(cls, scenario: Any) -> int:
        clients = scenario.get("clients", []) if isinstance(scenario, dict) else []
        return sum(len(c.get("ops", [])) for c in clients if isinstance(c, dict))

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        return None

    # ------------------------------------------------------------------
    # Checks
    # ------------------------------------------------------------------
    @classmethod
    def checked_properties(cls, variant: Variant) -> list[Property]:
        """A broken variant is searched for its declared property only (so the
        finding is the bug it documents); a fixed one must satisfy them all."""
        props = cls.properties(variant)
        if variant.expect == "violation" and variant.property:
            props = [p for p in props if p.name == variant.property]
        return props

    @classmethod
    def checker(cls, variant: Variant) -> Check:
        props = cls.checked_properties(variant)
        always = [p for p in props if p.when == "always"]
        end = [p for p in props if p.when == "end"]

        def check(world: World, final: bool) -> Violation | None:
            for prop in end if final else always:
                message = prop.check(world)
                if message is not None:
                    return Violation(prop.name, prop.kind, message)
            if final:  # "always" properties also hold in the final state
                for prop in always:
                    message = prop.check(world)
                    if message is not None:
                        return Violation(prop.name, prop.kind, message)
            return None

        return check

    # ------------------------------------------------------------------
    # The engine
    # ------------------------------------------------------------------
    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        """Seed scenarios first (if any), then per explorer a third of the runs
        without faults and the rest with them: fewest faults first."""
        phases = [Phase("bounded", profile.budget, "seeds")]
        for name in cls.explorers:
            if name == "exhaustive":
                continue
            runs = profile.max_examples
            if name == "random":
                runs = max(1, int(runs * cls.random_runs))
            phases += [
                Phase(name, max(1, runs // 3), "drawn", faults=False),
                Phase(name, runs - runs // 3, "drawn"),
            ]
        return Plan(
            phases=phases,
            shrink_replays=True,
            fewest_runs=0,
            choice_replays=cls.minimize_budget,
            cross="lenient",
            rare=frozenset({"fault"}),
            rare_rate=cls.fault_rate,
        )

    @classmethod
    def session(cls, variant: Variant) -> AbstractContextManager[SimSession]:
        return nullcontext(SimSession(cls, variant))


class SimSession:
    """Runs of one simulated variant: build the world, run it under the chooser."""

    def __init__(self, machine: type[SimMachine], variant: Variant) -> None:
        self.machine = machine
        self.variant = variant
        self.check = machine.checker(variant)

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        world = self.machine.build_world(self.variant, scenario)
        r = world.run(chooser, self.check)
        v = r.violation
        return Result(
            failed=v is not None,
            kind=v.kind if v else None,
            property=v.property if v else None,
            message=v.message if v else "",
            engine=self.machine.engine,
            scenario=scenario,
            trace=r.trace,
            history=r.history.to_json(),
            stats={"runs": 1, "states": r.steps, "faults": r.faults},
            steps=r.steps,
        )
