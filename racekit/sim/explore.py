"""Explorers: seeded random, Hypothesis-driven, and bounded exhaustive DFS.

All three run the same world through the same event loop; they differ only
in the chooser (see ``choosers.py``).  An explorer gets

* ``make_world(scenario) -> World``: a fresh world (node code + config + clients),
* ``check(world, final) -> Violation | None``: the properties,
* a way to get scenarios: a generator ``make_scenario(draw)`` (random,
  Hypothesis) or one fixed scenario (exhaustive),

and returns an :class:`ExploreReport`: the first failure (scenario, choices,
run), how many runs and states it took.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from racekit.sched.chooser import Chooser, RecordingChooser
from racekit.sim.choosers import (
    DataChooser,
    DFSChooser,
    Draw,
    HypothesisDraw,
    RandomDraw,
    WeightedRandomChooser,
)
from racekit.sim.result import RunResult, Violation
from racekit.sim.world import Check, World

MakeWorld = Callable[[Any], World]
MakeScenario = Callable[[Draw], Any]


@dataclass
class Found:
    """A failing run: everything needed to replay it."""

    explorer: str
    scenario: Any
    choices: list[int]
    result: RunResult
    runs: int  # runs up to and including the first failing one


@dataclass
class ExploreReport:
    explorer: str
    found: Found | None
    runs: int
    states: int
    complete: bool = False
    pruned: int = 0


def run_once(make_world: MakeWorld, check: Check, scenario: Any, chooser: Chooser) -> RunResult:
    """One run under ``chooser``, recording the choices it made."""
    recorder = RecordingChooser(chooser)
    result = make_world(scenario).run(recorder, check)
    result.choices = recorder.choices
    return result


# ---------------------------------------------------------------------------


def explore_random(
    make_world: MakeWorld,
    check: Check,
    make_scenario: MakeScenario,
    runs: int,
    seed: int = 0,
    fault_rate: float = 1 / 16,
) -> ExploreReport:
    """``runs`` independent runs, run ``i`` seeded by ``(seed, i)``: reproducible."""
    states = 0
    for i in range(runs):
        rng = random.Random(f"racekit-sim/{seed}/{i}")
        scenario = make_scenario(RandomDraw(rng))
        result = run_once(make_world, check, scenario, WeightedRandomChooser(rng, fault_rate))
        states += result.steps
        if result.failed:
            return ExploreReport("random", Found("random", scenario, result.choices, result, i + 1), i + 1, states)
    return ExploreReport("random", None, runs, states)


class _StopShrinking(Exception):
    """Ends Hypothesis' shrinking from inside once its time is up."""


class _Failure(Exception):
    def __init__(self, scenario: Any, result: RunResult) -> None:
        super().__init__(result.violation.message if result.violation else "")
        self.scenario = scenario
        self.result = result


def explore_hypothesis(
    make_world: MakeWorld,
    check: Check,
    make_scenario: MakeScenario,
    max_examples: int,
    fault_gate: int = 16,
    shrink: bool = True,
    shrink_calls: int = 40,
) -> ExploreReport:
    """Hypothesis draws the scenario and every choice, and shrinks both on failure.

    Derandomized and without an example database, so a search is
    reproducible and independent of earlier runs.  The failure Hypothesis
    re-raises is its shrunk example; ``runs`` counts the calls up to the
    first failure (shrinking runs are counted in ``states`` only).
    Shrinking long runs can take minutes; after ``shrink_calls`` runs past
    the first failure the smallest failure so far is taken (the greedy pass
    in ``minimize.py`` continues from it).  A count, not a time, so the
    result does not depend on the machine's speed.
    """
    counters = {"runs": 0, "states": 0, "first": 0}
    latest: list[_Failure] = []

    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink) if shrink else (Phase.generate,),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @given(st.data())
    def search(data: Any) -> None:
        if latest and counters["runs"] - counters["first"] >= shrink_calls:
            raise _StopShrinking  # keep the smallest failure so far; the greedy pass follows
        scenario = make_scenario(HypothesisDraw(data))
        result = run_once(make_world, check, scenario, DataChooser(data, fault_gate))
        counters["runs"] += 1
        counters["states"] += result.steps
        if result.failed:
            if not counters["first"]:
                counters["first"] = counters["runs"]
            failure = _Failure(scenario, result)
            latest[:] = [failure]  # Hypothesis only keeps failures smaller than the last
            raise failure

    try:
        try:
            search()
        except Exception:
            # Cutting shrinking short makes Hypothesis report a flaky definition
            # (the cut example draws nothing); the failure we kept is genuine.
            if not latest or counters["runs"] - counters["first"] < shrink_calls:
                raise
            raise latest[0] from None
    except _Failure as failure:
        found = Found("hypothesis", failure.scenario, failure.result.choices, failure.result, counters["first"])
        return ExploreReport("hypothesis", found, counters["runs"], counters["states"])
    return ExploreReport("hypothesis", None, counters["runs"], counters["states"])


# ---------------------------------------------------------------------------


class _Pruned(BaseException):
    """Raised out of a run when it reaches a state already explored (not an Exception,
    so the world's handler for exceptions in node code does not swallow it)."""


def explore_exhaustive(
    make_world: MakeWorld,
    check: Check,
    scenario: Any,
    max_runs: int,
    prune: bool = False,
) -> ExploreReport:
    """Every choice sequence of one scenario, depth first, up to ``max_runs`` runs.

    ``states`` counts distinct world states (``World.fingerprint``) seen
    after any step.  With ``prune``, a run stops as soon as it enters a
    state already seen on another branch: sound for properties of the state
    (they are checked when the state is first reached), not for properties
    of the whole history, which the fingerprint leaves out.
    """
    seen: set[Hashable] = set()
    prefix: list[int] | None = []
    runs = pruned = 0
    while prefix is not None and runs < max_runs:
        chooser = DFSChooser(prefix)

        def hashing_check(world: World, final: bool, chooser: DFSChooser = chooser) -> Violation | None:
            if not final:
                key = world.fingerprint()
                if key in seen:
                    if prune and chooser.beyond_prefix:
                        raise _Pruned
                else:
                    seen.add(key)
            return check(world, final)

        recorder = RecordingChooser(chooser)
        runs += 1
        try:
            result = make_world(scenario).run(recorder, hashing_check)
        except _Pruned:
            pruned += 1
            prefix = chooser.next_prefix()
            continue
        result.choices = recorder.choices
        if result.failed:
            found = Found("exhaustive", scenario, result.choices, result, runs)
            return ExploreReport("exhaustive", found, runs, len(seen), False, pruned)
        prefix = chooser.next_prefix()
    return ExploreReport("exhaustive", None, runs, len(seen), prefix is None, pruned)
