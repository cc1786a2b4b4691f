"""``SimMachine``: the Engine (see ``racekit.catalogue``) for simulated systems.

A catalogue system run on the simulator subclasses :class:`SimMachine` and
gives four things:

* ``system``: its :class:`~racekit.catalogue.System` declaration;
* ``make_scenario(variant, draw)``: a JSON-able scenario (world config and
  client workload) built from a :class:`~racekit.sim.choosers.Draw`, so the
  same generator serves Hypothesis, random search and defaults;
* ``build_world(variant, scenario)``: the :class:`World` for it;
* ``properties(variant)``: named :class:`Property` checks.

``search`` then runs the explorers within a profile's budget, minimizes the
first failure (Hypothesis shrinking, then a greedy pass over the choices
and the workload) and returns an :class:`Outcome`; ``replay`` re-runs a
scenario + choice list and returns the same Outcome.

Why a choice sequence and not rules: the world asks its chooser at every
decision, so one ``list[int]`` is the whole schedule.  That list is what
the store saves, what the exhaustive explorer enumerates, what replays on a
fixed variant, and what the thread scheduler also produces.  A Hypothesis
``RuleBasedStateMachine`` drives the same world through ``stateful.py``
for users who prefer rules; it cannot enumerate or replay from a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from racekit.catalogue import Outcome, ProfileSettings, System, Variant
from racekit.errors import ReplayDivergence
from racekit.history import History
from racekit.sched.chooser import Chooser, RecordingChooser, ReplayChooser
from racekit.sim.choosers import Draw, LenientReplayChooser, MinimalDraw
from racekit.sim.config import ClientScript, FaultBudget, WorldConfig
from racekit.sim.explore import (
    ExploreReport,
    Found,
    explore_exhaustive,
    explore_hypothesis,
    explore_random,
)
from racekit.sim.minimize import minimize, normalize, size
from racekit.sim.node import Node
from racekit.sim.result import RunResult, Violation
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


def without_faults(scenario: Any) -> Any:
    """The same scenario with a zero fault budget (standard shape; others unchanged)."""
    if isinstance(scenario, dict) and isinstance(scenario.get("world"), dict):
        return {**scenario, "world": {**scenario["world"], "faults": asdict(FaultBudget())}}
    return scenario


def make_scenario_json(
    config: WorldConfig, clients: Sequence[ClientScript] = (), **params: Any
) -> dict[str, Any]:
    """The standard scenario shape: ``{"world": ..., "clients": [...], "params": {...}}``."""
    return {"world": config.to_json(), "clients": [c.to_json() for c in clients], "params": dict(params)}


class SimMachine:
    """Base of every simulated system's ``Machine`` (Engine protocol)."""

    system: ClassVar[System]
    engine: ClassVar[str] = "sim"
    explorers: ClassVar[tuple[str, ...]] = ("hypothesis", "random")
    fault_rate: ClassVar[float] = 1 / 16
    minimize_budget: ClassVar[int] = 200
    random_runs: ClassVar[float] = 1.0  # random runs = this x profile.max_examples

    # ------------------------------------------------------------------
    # What a system provides
    # ------------------------------------------------------------------
    @classmethod
    def make_scenario(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        raise NotImplementedError(f"{cls.__name__} must define make_scenario(variant, draw)")

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
    def exhaustive_scenario(cls, variant: Variant) -> dict[str, Any] | None:
        """A small scenario to enumerate completely (None = no exhaustive search)."""
        return None

    @classmethod
    def default_scenario(cls, variant: Variant) -> dict[str, Any]:
        return cls.make_scenario(variant, MinimalDraw())

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
    # Exploring
    # ------------------------------------------------------------------
    @classmethod
    def explore(
        cls, variant: Variant, explorer: str, runs: int, *, seed: int = 0, prune: bool = False, faults: bool = True
    ) -> ExploreReport:
        """Run one explorer for up to ``runs`` runs (examples for Hypothesis).

        ``faults=False`` zeroes the scenario's fault budget (standard scenario shape only).
        """

        def make_world(scenario: Any) -> World:
            return cls.build_world(variant, scenario)

        check = cls.checker(variant)

        def make_scenario(draw: Draw) -> Any:
            scenario = cls.make_scenario(variant, draw)
            return scenario if faults else without_faults(scenario)

        if explorer == "random":
            return explore_random(make_world, check, make_scenario, runs, seed, cls.fault_rate)
        if explorer == "hypothesis":
            gate = max(2, round(1 / cls.fault_rate))
            return explore_hypothesis(make_world, check, make_scenario, runs, gate)
        if explorer == "exhaustive":
            scenario = cls.exhaustive_scenario(variant)
            if scenario is None:
                return ExploreReport("exhaustive", None, 0, 0)
            return explore_exhaustive(make_world, check, scenario, runs, prune)
        raise ValueError(f"unknown explorer {explorer!r} (random, hypothesis, exhaustive)")

    @classmethod
    def search(cls, variant: Variant, profile: ProfileSettings) -> Outcome:
        stats: dict[str, Any] = {"runs": 0, "states": 0, "faults": 0, "explorers": {}}
        found: Found | None = None
        # Fewest faults first: a third of each explorer's runs without any
        # fault, so a bug that needs none is reported without incidental ones.
        plan: list[tuple[str, int, bool]] = []
        for name in cls.explorers:
            runs = profile.budget if name == "exhaustive" else profile.max_examples
            if name == "random":
                runs = max(1, int(runs * cls.random_runs))
            if name == "exhaustive":
                plan.append((name, runs, True))
            else:
                plan += [(name, max(1, runs // 3), False), (name, runs - runs // 3, True)]
        for name, runs, faults in plan:
            report = cls.explore(variant, name, runs, faults=faults)
            label = name if faults else f"{name}/no-faults"
            stats["runs"] += report.runs
            stats["states"] += report.states
            stats["explorers"][label] = {"runs": report.runs, "states": report.states, "complete": report.complete}
            if report.found is not None:
                found = report.found
                stats["explorers"][label]["runs_to_failure"] = found.runs
                stats["found_by"] = label
                break
        if found is None:
            return Outcome(failed=False, engine=cls.engine, stats=stats)
        scenario, choices, replays = cls.minimize(variant, found)
        outcome = cls.replay(variant, scenario, choices)
        stats["faults"] = outcome.stats.get("faults", 0)
        stats["choices_before"] = len(normalize(found.choices))
        stats["choices_after"] = len(choices)
        stats["minimize_replays"] = replays
        outcome.stats = stats
        return outcome

    @classmethod
    def minimize(cls, variant: Variant, found: Found) -> tuple[dict[str, Any], list[int], int]:
        """Greedy pass over choices, then over the workload; same property must fail."""
        target = found.result.violation.property if found.result.violation else None
        scenario = found.scenario

        def replayer(candidate_scenario: Any) -> Callable[[list[int]], list[int] | None]:
            def replay(choices: list[int]) -> list[int] | None:
                result = cls._run(variant, candidate_scenario, ReplayChooser(choices))
                if result is None or result.violation is None or result.violation.property != target:
                    return None
                return result.choices

            return replay

        choices, used = minimize(found.choices, replayer(scenario), cls.minimize_budget)
        for smaller in cls.shrink_scenario(scenario):
            if used >= cls.minimize_budget:
                break
            used += 1
            got = replayer(smaller)(choices)
            if got is not None and size(normalize(got)) <= size(choices):
                scenario, choices = smaller, normalize(got)
        return scenario, choices, used

    @classmethod
    def shrink_scenario(cls, scenario: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Smaller workloads to try: drop one client operation at a time (last first).

        Override for scenarios that are not ``{"clients": [{"ops": [...]}, ...]}``.
        Candidates are generated lazily from the scenario as it stands, so
        several ops can be dropped in turn.
        """
        clients = scenario.get("clients")
        if not isinstance(clients, list):
            return
        for ci in range(len(clients) - 1, -1, -1):
            ops = clients[ci].get("ops", [])
            for oi in range(len(ops) - 1, -1, -1):
                new_clients = [dict(c) for c in clients]
                new_clients[ci]["ops"] = ops[:oi] + ops[oi + 1 :]
                yield {**scenario, "clients": new_clients}

    @classmethod
    def _run(cls, variant: Variant, scenario: Any, chooser: Chooser) -> RunResult | None:
        recorder = RecordingChooser(chooser)
        try:
            result = cls.build_world(variant, scenario).run(recorder, cls.checker(variant))
        except ReplayDivergence:
            return None
        result.choices = recorder.choices
        return result

    @classmethod
    def replay(cls, variant: Variant, scenario: Any, choices: list[int]) -> Outcome:
        """Re-run ``scenario`` under ``choices``; past their end every answer is 0.

        A choice list from another variant may not fit this one's options;
        it is then replayed leniently (indices wrapped) and
        ``stats["divergences"]`` says how often.
        """
        divergences = 0
        try:
            result = cls.build_world(variant, scenario).run(ReplayChooser(choices), cls.checker(variant))
        except ReplayDivergence:
            lenient = LenientReplayChooser(choices)
            result = cls.build_world(variant, scenario).run(lenient, cls.checker(variant))
            divergences = lenient.divergences
        return cls.outcome(scenario, list(choices), result, divergences)

    @classmethod
    def outcome(cls, scenario: Any, choices: list[int], result: RunResult, divergences: int = 0) -> Outcome:
        v = result.violation
        return Outcome(
            failed=v is not None,
            kind=v.kind if v else None,
            property=v.property if v else None,
            message=v.message if v else "",
            engine=cls.engine,
            scenario=scenario,
            choices=choices,
            trace=result.trace,
            history=result.history.to_json(),
            stats={"runs": 1, "states": result.steps, "faults": result.faults, "divergences": divergences},
        )
