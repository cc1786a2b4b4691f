"""Checking a system from Python (tests, notebooks): the public entry points
over the search layer, re-exported from :mod:`racekit`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from racekit import portfolio as _search
from racekit.choice import Result
from racekit.declarations import Variant
from racekit.engine import Engine
from racekit.profiles import PROFILES, ProfileSettings


def search(machine: Engine, variant: Variant | str, profile: ProfileSettings | str = "ci") -> Result:
    """Search one variant as ``racekit check`` does; the minimized failure, or a clean Result."""
    v = machine.system.variant(variant) if isinstance(variant, str) else variant
    p = PROFILES[profile] if isinstance(profile, str) else profile
    return _search.search(machine, v, p)


def run_scenario(machine: Engine, variant: Variant | str, scenario: Any, choices: Sequence[int] = ()) -> Result:
    """One run of ``scenario`` under ``choices`` (then boring answers), in detail."""
    v = machine.system.variant(variant) if isinstance(variant, str) else variant
    return _search.replay(machine, v, scenario, list(choices))


def every_schedule(machine: Engine, variant: Variant | str, scenario: Any, runs: int | None = None) -> Result:
    """Every schedule of ``scenario`` (up to ``runs`` runs and the engine's
    bounds); ``coverage`` says how much was run."""
    v = machine.system.variant(variant) if isinstance(variant, str) else variant
    return _search.replay_all(machine, v, scenario, [], runs)


def load_counterexample(system: str, variant: str, prop: str) -> dict[str, Any]:
    """The saved counterexample of ``system/variant`` for property ``prop``."""
    from racekit import store
    from racekit.project import find_project

    return store.load(store.path_for(find_project().counterexamples, system, variant, prop))


def first_failure(machine: Engine, variant: Variant | str, profile: ProfileSettings | str = "ci") -> Result | None:
    """The first failure the search plan of ``variant`` meets, unminimized (None when clean).

    For planted-bug tests, which ask only "is this mistake caught, and by
    which property?": minimizing (hundreds of replays) would buy nothing.
    """
    v = machine.system.variant(variant) if isinstance(variant, str) else variant
    p = PROFILES[profile] if isinstance(profile, str) else profile
    return _search.first_failure(machine, v, p)
