"""pytest glue for catalogue systems: one test per variant, against its expectation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from racekit.checking import check_variant
from racekit.engine import Engine
from racekit.errors import RacekitError
from racekit.machine import ConcurrentStateMachine
from racekit.project import project_of
from racekit.registry import machine_ref


def variant_tests(machine: Engine) -> Callable[..., None]:
    """A parametrized test: each variant of ``machine.system`` meets its expectation.

    Counterexamples are read from and written to the counterexample folder of
    the project the machine's own module belongs to (``[tool.racekit]`` of the
    nearest pyproject.toml, see :mod:`racekit.project`), whatever directory
    pytest runs in.

    Broken variants pass only when the declared violation is found and its
    counterexample reproduces (and is saved with ``--racekit-save``); fixed
    variants pass only when clean and every saved counterexample of their
    broken siblings replays clean on them; for thread systems a fixed
    variant also passes the live Hypothesis state machine, derandomized, so
    a CI failure reproduces locally with the same command.
    """
    system = machine.system
    names = [v.name for v in system.variants]

    @pytest.mark.parametrize("variant_name", names)
    def test_variant(variant_name: str, racekit_profile: Any, racekit_save: bool, record_property: Any) -> None:
        variant = system.variant(variant_name)
        try:
            project = project_of(machine)
            registered = machine_ref(project, machine) is None
        except RacekitError as exc:  # a bad [tool.racekit]: its one line, not a traceback
            pytest.fail(str(exc), pytrace=False)
        hint = "`pytest --racekit-save`"
        if registered:
            hint += f" or `racekit check {system.name} --variant {variant.name}`"
        report = check_variant(machine, system, variant, racekit_profile, project, save=racekit_save, how_to_save=hint)
        record_property("racekit", report.to_json())
        if report.outcome == "skipped":
            pytest.skip(report.message)
        if not report.met:
            lines = [f"{system.name}/{variant.name} (expect {variant.expect}): " + "; ".join(report.problems)]
            if report.counterexample:
                lines.append(f"replay: racekit replay {project.shown(report.counterexample)}")
            pytest.fail("\n".join(lines), pytrace=False)
        if variant.expect == "correct" and isinstance(machine, type) and issubclass(machine, ConcurrentStateMachine):
            machine.live_test(variant, racekit_profile)

    test_variant.__name__ = f"test_{system.name}_variant"
    result: Callable[..., None] = test_variant
    return result
