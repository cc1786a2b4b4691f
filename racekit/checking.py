"""Check one variant against its declared expectation - shared by pytest and the CLI.

Broken variant: the search must find a violation of the declared property;
its minimized counterexample is replayed on every fixed sibling (which must
stay clean) and, with ``save``, written to ``counterexamples/``.  A saved
counterexample must still reproduce, step for step.

Fixed variant: the search must find nothing, and every saved counterexample
of its broken siblings must replay clean on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racekit import store
from racekit.choice import Result
from racekit.declarations import System, Variant
from racekit.engine import Engine
from racekit.portfolio import replay, replay_all, search
from racekit.profiles import ProfileSettings
from racekit.project import Project
from racekit.registry import machine_ref
from racekit.registry import project as registry_project


@dataclass
class VariantReport:
    system: str
    variant: str
    expect: str
    outcome: str  # violation / clean / error
    property: str | None
    met: bool
    message: str = ""
    counterexample: str | None = None
    schedules: int = 0
    length: int | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "variant": self.variant,
            "expect": self.expect,
            "outcome": self.outcome,
            "property": self.property,
            "met": self.met,
            "message": self.message,
            "counterexample": self.counterexample,
            "schedules": self.schedules,
            "length": self.length,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
        }


def replay_on(machine: Engine, variant: Variant, doc: dict[str, Any]) -> Result:
    """Replay a saved counterexample on ``variant``.

    On the variant it was found on, the exact schedule.  On another variant
    the code differs, so the same choices mean nothing: the engine runs every
    schedule of the scenario, or replays leniently (see :func:`racekit.search.replay_all`).
    """
    if doc["variant"] == variant.name:
        return replay(machine, variant, doc["scenario"], list(doc["choices"]))
    return replay_all(machine, variant, doc["scenario"], list(doc["choices"]))


def _length(outcome: Result) -> int | None:
    stats = outcome.stats
    if "operations" in stats:
        return int(stats.get("operations", 0)) + int(stats.get("preemptions", 0)) + int(stats.get("faults", 0))
    return len(outcome.choices) if outcome.choices else None


def check_variant(
    machine: Engine,
    system: System,
    variant: Variant,
    profile: ProfileSettings,
    root: Path | Project,
    save: bool = False,
    how_to_save: str | None = None,
) -> VariantReport:
    """``root``: the project (or its root) whose counterexample folder is read and
    written.  ``how_to_save``: the command that writes a missing counterexample,
    as the caller's user runs it (pytest: ``--racekit-save``); by default the
    ``racekit check`` command of a registered system."""
    project = registry_project(root)
    ref = machine_ref(project, machine)
    started = time.perf_counter()
    report = VariantReport(system.name, variant.name, variant.expect, "error", None, False)
    reason = machine.unavailable(variant)
    if reason:
        # a variant that needs a server this machine lacks (PostgreSQL, Redis)
        report.outcome, report.met, report.message = "skipped", True, str(reason)
        return report
    try:
        outcome = search(machine, variant, profile)
    except Exception as exc:  # a crash in the harness or the system is reported, not raised
        report.message = f"{type(exc).__name__}: {exc}"
        report.problems.append(report.message)
        report.seconds = time.perf_counter() - started
        return report
    report.outcome = "violation" if outcome.failed else "clean"
    report.property = outcome.property
    report.message = outcome.message
    report.schedules = int(outcome.stats.get("runs", 0))
    if outcome.notes:
        report.message += " (" + "; ".join(outcome.notes) + ")"
    cx_root = project.counterexamples
    if variant.expect == "violation":
        if not outcome.failed:
            report.problems.append(f"expected a {variant.property} violation; none found")
        elif outcome.property != variant.property:
            report.problems.append(f"expected a {variant.property} violation, found {outcome.property}: {outcome.message}")
        else:
            report.length = _length(outcome)
            path = store.path_for(cx_root, system.name, variant.name, variant.property or "")
            rel = project.rel(path)
            replays = {f.name: replay_on(machine, f, {"variant": variant.name, "scenario": outcome.scenario, "choices": outcome.choices}) for f in system.fixed}
            for name, r in replays.items():
                if r.failed:
                    report.problems.append(f"counterexample also fails on fixed variant {name}: {r.message}")
            doc = store.document(system, variant, outcome, replays, rel, machine=ref)
            again = replay_on(machine, variant, store.loads(store.dumps(doc)))
            if not again.failed or again.kind != outcome.kind:
                report.problems.append("the counterexample does not reproduce after a JSON round trip")
            if save:
                store.save(path, doc)
                report.counterexample = rel
            elif path.exists():
                report.counterexample = rel
                saved_doc = store.load(path)
                replayed = replay_on(machine, variant, saved_doc)
                if not replayed.failed or replayed.kind != saved_doc["kind"]:
                    report.problems.append(f"saved {project.shown(rel)} no longer reproduces on {variant.name}")
                elif replayed.trace != saved_doc["trace"]:
                    report.problems.append(f"saved {project.shown(rel)} replays with a different trace (not deterministic?)")
            else:
                hint = how_to_save or (
                    f"`racekit check {system.name} --variant {variant.name}`" if ref is None
                    else "`pytest --racekit-save`")
                report.problems.append(f"no saved counterexample at {project.shown(rel)}: write it with {hint}")
    else:
        if outcome.failed:
            report.problems.append(f"expected no violation, found {outcome.property}: {outcome.message}")
        elif report.schedules == 0:
            # vacuity guard: a harness that explored nothing proves nothing
            report.problems.append("the search explored no schedule at all")
        for path in store.saved(cx_root, system.name):
            doc = store.load(path)
            if doc["variant"] == variant.name:
                report.problems.append(f"{path.name} is a counterexample of a fixed variant")
                continue
            r = replay_on(machine, variant, doc)
            if r.failed:
                report.problems.append(f"{path.name} replays with a violation on {variant.name}: {r.message}")
    report.met = not report.problems
    report.seconds = time.perf_counter() - started
    return report
