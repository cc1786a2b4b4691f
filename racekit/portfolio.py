"""The search: one portfolio for every engine, then one minimizer.

``search(machine, variant, profile)`` runs the engine's plan - by default
iterative bounding over the seed scenarios (shallow bugs first), then
unbounded, then generated scenarios (Hypothesis), then random - each phase
through the kernel's one loop (:func:`racekit.choice.drive`), within counts
of runs, never a time.  The first failure is minimized (:func:`minimize`)
and replayed in detail.  No failure is ever dropped: if minimizing or the
detailed replay cannot reproduce it, the original failing run is reported,
with a note saying how reliably it replays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from racekit.choice import Chooser, Knobs, Replay, Result, Trial, drive, make
from racekit.choice.minimize import minimize_choices, normalize, size
from racekit.choice.strategy import Progress, Report
from racekit.declarations import Variant
from racekit.engine import Engine, Phase, Plan, Session
from racekit.errors import ReplayDivergence
from racekit.profiles import ProfileSettings


def knobs_for(machine: Engine, plan: Plan, **overrides: Any) -> Knobs:
    base = Knobs(
        inner=machine.inner,
        unit=machine.unit,
        rare=plan.rare,
        rare_rate=plan.rare_rate,
        shrink_runs=plan.hypothesis_shrink_runs,
    )
    return replace(base, **overrides)


def run_phase(
    machine: Engine,
    variant: Variant,
    session: Session,
    strategy: str,
    runs: int,
    knobs: Knobs,
    *,
    seeds: list[Any] | None = None,
    mode: str = "step",
    faults: bool = True,
    hit: Callable[[Result], bool] = lambda r: r.failed,
    progress: Progress | None = None,
) -> Report:
    """Drive one strategy over the seed scenarios (``seeds``) or drawn ones."""
    scenarios = seeds or []

    def run(trial: Trial) -> Result:
        if trial.draw is not None:
            scenario = machine.draw(variant, trial.draw)
            if not faults:
                scenario = without_faults(scenario)
        else:
            scenario = scenarios[trial.seed]
        return session.run(scenario, trial.chooser, mode=mode)

    knobs = replace(knobs, seeds=max(1, len(scenarios)), examples=runs)
    return drive(make(strategy, knobs, view=machine.inner == "dpor"), run, runs, hit=hit, progress=progress)


def explore(
    machine: Engine,
    variant: Variant,
    strategy: str,
    runs: int,
    *,
    progress: Progress | None = None,
    **knobs: Any,
) -> Report:
    """One strategy on one variant: exhaustive and PCT strategies over the seed
    scenarios (or the simplest drawn scenario when there are none), Hypothesis
    and random over generated scenarios (random: the seeds, when there are)."""
    from racekit.choice import MinimalDraw
    from racekit.profiles import PROFILES

    plan = machine.plan(variant, PROFILES["ci"])
    seeds = list(machine.seed_scenarios(variant))
    drawn = strategy == "hypothesis" or (strategy == "random" and not seeds)
    if not drawn and not seeds:
        seeds = [machine.draw(variant, MinimalDraw())]
    with machine.session(variant) as session:
        return run_phase(
            machine, variant, session, strategy, runs, knobs_for(machine, plan, **knobs),
            seeds=None if drawn else seeds, progress=progress,
        )


def without_faults(scenario: Any) -> Any:
    """The same scenario with a zero fault budget (standard simulator shape; others unchanged)."""
    if isinstance(scenario, dict) and isinstance(scenario.get("world"), dict) and "faults" in scenario["world"]:
        return {**scenario, "world": {**scenario["world"], "faults": {}}}
    return scenario


def search(
    machine: Engine,
    variant: Variant,
    profile: ProfileSettings,
    *,
    progress: Progress | None = None,
) -> Result:
    """Look for a failing scenario and schedule of ``variant``; minimize; describe it."""
    plan = machine.plan(variant, profile)
    stats: dict[str, Any] = {"runs": 0, "phases": {}}
    found: Result | None = None
    found_mode = "step"
    coverage = None
    with machine.session(variant) as session:
        seeds = list(machine.seed_scenarios(variant))
        for phase in plan.phases:
            if phase.scenarios == "seeds" and not seeds:
                continue
            knobs = knobs_for(machine, plan, max_bound=phase.max_bound, first_bound=phase.first_bound)
            if not phase.unbounded:
                knobs = replace(knobs, bound=phase.max_bound)
            rep = run_phase(
                machine, variant, session, phase.strategy, phase.runs, knobs,
                seeds=seeds if phase.scenarios == "seeds" else None,
                mode=phase.mode, faults=phase.faults, progress=progress,
            )
            label = _label(phase)
            stats["runs"] += rep.runs
            stats["phases"][label] = {"runs": rep.runs, "coverage": rep.coverage.describe()}
            if phase.scenarios == "seeds":
                coverage = rep.coverage
            if rep.found is not None:
                found, found_mode = rep.found, phase.mode
                stats["phases"][label]["first_failure"] = rep.first_hit
                stats["found_by"] = label
                break
        if found is None:
            return Result(False, engine=machine.engine, stats=stats, coverage=coverage)
        outcome = _finish(machine, variant, session, plan, found, found_mode, stats)
    return outcome


def first_failure(machine: Engine, variant: Variant, profile: ProfileSettings) -> Result | None:
    """Run the phases of ``search`` until the first failure and return it as found
    (no minimizing, no description); None when every phase is clean."""
    plan = machine.plan(variant, profile)
    with machine.session(variant) as session:
        seeds = list(machine.seed_scenarios(variant))
        for phase in plan.phases:
            if phase.scenarios == "seeds" and not seeds:
                continue
            knobs = knobs_for(machine, plan, max_bound=phase.max_bound, first_bound=phase.first_bound)
            if not phase.unbounded:
                knobs = replace(knobs, bound=phase.max_bound)
            rep = run_phase(
                machine, variant, session, phase.strategy, phase.runs, knobs,
                seeds=seeds if phase.scenarios == "seeds" else None,
                mode=phase.mode, faults=phase.faults,
            )
            if rep.found is not None:
                return rep.found
    return None


def _label(phase: Phase) -> str:
    label = f"{phase.strategy}/{phase.scenarios}"
    if not phase.faults:
        label += "/no-faults"
    if phase.mode != "step":
        label += f"/{phase.mode}"
    return label


def _finish(
    machine: Engine, variant: Variant, session: Session, plan: Plan, found: Result, mode: str, stats: dict[str, Any]
) -> Result:
    """Minimize (step mode) and describe; never drop the failure."""
    if mode != "step":
        # real timing found it: look for a replayable schedule of the same scenario
        knobs = knobs_for(machine, plan, bound=2, max_bound=2)
        rep = run_phase(machine, variant, session, "bounded", 400, knobs, seeds=[found.scenario], hit=_same(found.property))
        stats["runs"] += rep.runs
        stats["step_mode_search"] = rep.runs
        if rep.found is None:
            return _unreplayable(machine, variant, session, plan, found, mode, stats)
        found = rep.found
    scenario, choices, used = minimize(machine, variant, session, plan, found)
    stats["minimize_runs"] = used
    stats["runs"] += used
    final = session.run(scenario, Replay(choices), detail=True)
    if not final.failed or final.property != found.property:
        # the minimized schedule does not reproduce in detail: keep the original
        final = session.run(found.scenario, Replay(found.choices), detail=True)
        choices = found.choices
        if not final.failed:
            return _unreplayable(machine, variant, session, plan, found, mode, stats)
    final.choices = list(choices)
    final.scenario = final.scenario if final.scenario is not None else scenario
    final.stats = {**final.stats, **stats}
    return final


def _unreplayable(
    machine: Engine, variant: Variant, session: Session, plan: Plan, found: Result, mode: str, stats: dict[str, Any]
) -> Result:
    """A failure that was seen but does not replay step for step (free mode:
    real timing).  Report it as found, with how often a re-run reproduces it."""
    again = 0
    for _ in range(plan.free_repeats):
        r = session.run(found.scenario, Replay(found.choices), mode=mode)
        again += r.failed and r.property == found.property
    found.notes.append(
        f"seen in {mode} mode (kill instants {found.choices}); a re-run reproduces it "
        f"{again} of {plan.free_repeats} times: timing-dependent, not a step-for-step replay"
    )
    found.stats = {**found.stats, **stats, "mode": mode, "reproduced": f"{again}/{plan.free_repeats}"}
    return found


def _same(prop: str | None) -> Callable[[Result], bool]:
    return lambda r: r.failed and r.property == prop


def minimize(
    machine: Engine, variant: Variant, session: Session, plan: Plan, found: Result
) -> tuple[Any, list[int], int]:
    """Smaller scenario, then fewest deviations, then fewest/smallest choices.

    1. Each scenario from ``machine.shrink`` is kept when a bounded search
       (or a replay of the same choices) still finds the same property on it.
    2. Iterative bounding on the final scenario: a schedule with fewer
       deviations that fails the same way.
    3. Greedy choice minimization (zero, delete, lower).
    """
    same = _same(found.property)
    scenario, choices, deviations = found.scenario, normalize(found.choices), found.deviations
    used = 0
    improved = True
    while improved:
        improved = False
        for smaller in machine.shrink(variant, scenario):
            if plan.shrink_replays:
                r = _replay(session, smaller, choices)
                used += 1
                if r is not None and same(r) and size(normalize(r.choices)) <= size(choices):
                    scenario, choices, deviations = smaller, normalize(r.choices), r.deviations
                    improved = True
                    break
                continue
            bound = deviations if plan.shrink_bounded else None
            knobs = knobs_for(machine, plan, bound=bound, max_bound=bound if bound is not None else 2)
            rep = run_phase(machine, variant, session, "bounded", plan.shrink_runs, knobs, seeds=[smaller], hit=same)
            used += rep.runs
            if rep.found is not None:
                scenario, choices, deviations = smaller, normalize(rep.found.choices), rep.found.deviations
                improved = True
                break
    if plan.fewest_runs and deviations > 0:
        for bound in range(deviations):
            knobs = knobs_for(machine, plan, bound=bound)
            rep = run_phase(machine, variant, session, "dfs", plan.fewest_runs, knobs, seeds=[scenario], hit=same)
            used += rep.runs
            if rep.found is not None:
                choices = normalize(rep.found.choices)
                break
            if rep.coverage.extent != "bounded" and not rep.coverage.exhaustive:
                break  # the bounded space is too large for the budget: keep what we have

    def replayer(candidate: list[int]) -> list[int] | None:
        r = _replay(session, scenario, candidate)
        return r.choices if r is not None and same(r) else None

    if plan.choice_replays:
        choices, n = minimize_choices(choices, replayer, plan.choice_replays)
        used += n
    return scenario, choices, used


def _replay(session: Session, scenario: Any, choices: list[int]) -> Result | None:
    from racekit.choice import Recorder

    recorder = Recorder(Replay(choices))
    try:
        r = session.run(scenario, recorder)
    except ReplayDivergence:
        return None
    r.choices = recorder.choices
    r.path = recorder.points
    return r


def replay(machine: Engine, variant: Variant, scenario: Any, choices: list[int], *, lenient: bool = False) -> Result:
    """Re-run one scenario under one choice list, in detail (no search).

    ``lenient``: the choices were recorded on a sibling variant whose code
    differs; an answer out of range is folded into range and counted.
    """
    with machine.session(variant) as session:
        chooser: Chooser = Replay(choices, lenient=lenient)
        r = session.run(scenario, chooser, detail=True)
    r.scenario = scenario
    r.choices = list(choices)
    if lenient and isinstance(chooser, Replay):
        r.stats["divergences"] = chooser.divergences
    return r


def replay_all(machine: Engine, variant: Variant, scenario: Any, choices: list[int], runs: int | None = None) -> Result:
    """How a fixed variant shows a broken sibling's counterexample cannot hurt it.

    On different code the same answers mean nothing, so engines with small
    scenarios run every schedule of the scenario (up to the plan's bounds);
    the simulator, whose spaces are huge, replays the answers leniently.
    """
    from racekit.profiles import PROFILES

    plan = machine.plan(variant, PROFILES["ci"])
    if plan.cross == "lenient":
        try:
            return replay(machine, variant, scenario, choices)
        except ReplayDivergence:
            return replay(machine, variant, scenario, choices, lenient=True)
    with machine.session(variant) as session:
        knobs = knobs_for(machine, plan, bound=plan.cross_bound, max_bound=plan.cross_bound or 2)
        rep = run_phase(machine, variant, session, "bounded", runs or plan.cross_runs, knobs, seeds=[scenario])
        if rep.found is not None:
            r = session.run(scenario, Replay(rep.found.choices), detail=True)
            r.choices = rep.found.choices
        else:
            r = Result(False, engine=machine.engine)
    r.scenario = scenario
    r.coverage = rep.coverage
    r.stats.update({"schedules": rep.runs, "exhaustive": rep.coverage.exhaustive})
    return r
