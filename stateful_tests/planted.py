"""Planted bugs: run a search plan until the first failure, without minimizing.

A planted-bug test only asks "is this mistake caught, and by which
property?"; minimizing the counterexample (hundreds of replays) would buy
nothing, so the phases of the engine's plan run as in ``racekit.search``
and stop at the first failure.
"""

from __future__ import annotations

from racekit import PROFILES
from racekit.choice import Result
from racekit.engine import Engine
from racekit.portfolio import knobs_for, run_phase


def first_failure(machine: Engine, variant_name: str, profile: str = "ci") -> Result | None:
    variant = machine.system.variant(variant_name)
    plan = machine.plan(variant, PROFILES[profile])
    seeds = list(machine.seed_scenarios(variant))
    with machine.session(variant) as session:
        for phase in plan.phases:
            if phase.scenarios == "seeds" and not seeds:
                continue
            knobs = knobs_for(machine, plan, max_bound=phase.max_bound, first_bound=phase.first_bound)
            rep = run_phase(
                machine, variant, session, phase.strategy, phase.runs, knobs,
                seeds=seeds if phase.scenarios == "seeds" else None, faults=phase.faults,
            )
            if rep.found is not None:
                return rep.found
    return None
