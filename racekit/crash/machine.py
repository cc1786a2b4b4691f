"""``CrashMachine``: the Engine (see ``racekit.catalogue``) for real-process systems.

A catalogue system tested by killing real processes subclasses it and gives:

* ``system``: its :class:`~racekit.catalogue.System`;
* ``driver(variant, scenario) -> Driver``: the parent side of one run
  (database setup, tasks, retries and recovery, checks);
* ``ladder(variant)``: small scenarios, smallest first, that the level
  search tries (the catalogue's "explore_scenario" for crash systems);
* ``draw_scenario(draw)``: a scenario from a Hypothesis ``draw`` (also used
  with a seeded ``random.Random`` via :func:`random_draw`);
* ``smaller(scenario)``: scenarios one request smaller (for minimizing);
* ``requests(scenario)``: how many client requests a scenario makes.

``search`` runs, within the profile's :class:`Budget`: the level search over
the ladder (0, then 1, ... non-zero choices: fewest kills and preemptions
first, fewest requests first), then Hypothesis, then (deep profile) free-mode
runs with kills at random instants.  A failure is minimized and re-run to
describe it.  ``replay`` re-runs one schedule exactly; ``replay_all`` runs
every schedule of a scenario up to a bound - how a fixed variant shows that
a broken sibling's counterexample (say "kill after the charge") cannot hurt
it, whatever point the kill lands on.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis import strategies as st

from racekit.catalogue import Outcome, ProfileSettings, System, Variant, catalogue_root
from racekit.crash.explore import (
    Draw,
    Found,
    LevelSearch,
    Report,
    explore_hypothesis,
    explore_levels,
    explore_random,
    minimize,
    nonzero,
    replay,
)
from racekit.crash.run import Driver, Mode, RunResult
from racekit.crash.session import Session
from racekit.errors import RacekitError
from racekit.sched.chooser import Chooser


class Unavailable(RacekitError):
    """A service a variant needs (PostgreSQL, say) is not installed here."""


@dataclass(frozen=True)
class Budget:
    """How much searching one profile buys (runs are real processes: count them)."""

    levels: int = 1  # non-zero choices in the level search
    level_runs: int = 200  # runs of the level search, over the whole ladder
    hypothesis: int = 0  # Hypothesis examples after the ladder
    random_kills: int = 0  # free-mode kills at random instants (at least this many)
    replay_levels: int = 2  # replay_all: schedules up to this many non-zero choices ...
    replay_runs: int = 150  # ... and at most this many runs


def random_draw(rng: random.Random) -> Draw:
    """A ``draw`` for ``draw_scenario`` backed by a seeded Random (no Hypothesis)."""

    def draw(strategy: st.SearchStrategy[Any]) -> Any:
        return _sample(strategy, rng)

    return draw


def _sample(strategy: Any, rng: random.Random) -> Any:
    # Hypothesis' .example() is not for library use; scenario strategies here
    # are built from a few primitives we can sample directly.
    sampler = getattr(strategy, "racekit_sample", None)
    if sampler is not None:
        return sampler(rng)
    raise TypeError(f"cannot sample {strategy!r} without Hypothesis; use racekit.crash.machine.ints/choice")


def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)`` that :func:`random_draw` can also sample."""
    s = st.integers(lo, hi)
    s.racekit_sample = lambda rng: rng.randint(lo, hi)  # type: ignore[attr-defined]
    return s


def choice(values: list[Any]) -> st.SearchStrategy[Any]:
    """``st.sampled_from(values)`` that :func:`random_draw` can also sample."""
    s = st.sampled_from(values)
    s.racekit_sample = lambda rng: rng.choice(values)  # type: ignore[attr-defined]
    return s


def without_one(groups: list[list[Any]], keep: int = 1) -> Iterator[list[list[Any]]]:
    """Every way to drop one operation of one client (dropping emptied clients), keeping ``keep`` clients.

    The usual ``smaller`` for scenarios made of per-client operation lists.
    """
    for g in range(len(groups)):
        for i in range(len(groups[g])):
            cand = [list(ops) for ops in groups]
            del cand[g][i]
            cand = [ops for ops in cand if ops]
            if len(cand) >= keep:
                yield cand


class CrashMachine:
    system: ClassVar[System]
    engine: ClassVar[str] = "crash"
    max_kills: ClassVar[int] = 1
    step_timeout: ClassVar[float] = 15.0
    time_limit: ClassVar[float] = 60.0
    max_steps: ClassVar[int] = 3_000
    budgets: ClassVar[Mapping[str, Budget]] = {
        "ci": Budget(levels=1, level_runs=120, hypothesis=4, replay_levels=1, replay_runs=60),
        "deep": Budget(levels=2, level_runs=3_000, hypothesis=150, random_kills=200),
    }

    # ------------------------------------------------------------ the hooks
    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        raise NotImplementedError

    @classmethod
    def ladder(cls, variant: Variant) -> list[Any]:
        return []

    @classmethod
    def draw_scenario(cls, draw: Draw) -> Any:
        raise NotImplementedError

    @classmethod
    def smaller(cls, scenario: Any) -> Iterable[Any]:
        return ()

    @classmethod
    def requests(cls, scenario: Any) -> int:
        return 0

    @classmethod
    def session_env(cls, variant: Variant) -> dict[str, str]:
        """Extra environment for worker processes (a database address, say)."""
        return {}

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        """Why ``variant`` cannot run here (None: it can)."""
        return None

    # ----------------------------------------------------------- the engine
    @classmethod
    def _session(cls, variant: Variant) -> Session:
        reason = cls.unavailable(variant)
        if reason:
            raise Unavailable(f"{cls.system.name}/{variant.name}: {reason}")
        return Session(catalogue_root(), env=cls.session_env(variant))

    @classmethod
    def _runner(cls, session: Session, variant: Variant, mode: Mode = "step") -> Any:
        def run(scenario: Any, chooser: Chooser) -> RunResult:
            return session.run(
                cls.driver(variant, scenario), chooser, mode=mode, max_kills=cls.max_kills,
                max_steps=cls.max_steps, step_timeout=cls.step_timeout, time_limit=cls.time_limit,
            )

        return run

    @classmethod
    def search(cls, variant: Variant, profile: ProfileSettings) -> Outcome:
        budget = cls.budgets.get(profile.name, cls.budgets["ci"])
        started = time.perf_counter()
        stats: dict[str, Any] = {"runs": 0, "kills_searched": 0}
        found: Found | None = None
        with cls._session(variant) as session:
            run = cls._runner(session, variant)

            def tally(rep: Report) -> Found | None:
                stats["runs"] += rep.runs
                stats["kills_searched"] += rep.kills
                return rep.found

            # 1. the ladder, by level: fewest kills/preemptions, then fewest requests
            left = budget.level_runs
            searches = [LevelSearch(run, scenario) for scenario in cls.ladder(variant)]
            for _level in range(budget.levels + 1):
                for ls in searches:
                    if left <= 0 or found is not None:
                        break
                    rep = ls.next_level(left)
                    left -= rep.runs
                    found = tally(rep)
            # 2. Hypothesis over generated scenarios
            if found is None and budget.hypothesis:
                found = tally(explore_hypothesis(run, cls.draw_scenario, budget.hypothesis))
            # 3. kills at random instants, real concurrency
            if found is None and budget.random_kills:
                rep = explore_random(
                    cls._runner(session, variant, "free"),
                    lambda rng: cls.draw_scenario(random_draw(rng)),
                    runs=budget.random_kills // 2,
                    min_kills=budget.random_kills,
                )
                stats["random_kills"] = rep.kills
                found = tally(rep)
                if found is not None:
                    # a free-mode failure is not replayable: find its schedule in step mode
                    again = explore_levels(run, found.scenario, 2, 400)
                    stats["runs"] += again.runs
                    stats["random_failure"] = found.result.message
                    found = again.found
            if found is None:
                stats["seconds"] = round(time.perf_counter() - started, 3)
                stats["kills"] = stats["kills_searched"]
                return Outcome(False, engine=cls.engine, stats=stats)
            found, spent = minimize(run, found, cls.smaller)
            stats["runs"] += spent
            outcome = cls._describe(variant, session, found.scenario, found.choices)
        outcome.stats.update({k: v for k, v in stats.items() if k not in outcome.stats or k == "runs"})
        outcome.stats["seconds"] = round(time.perf_counter() - started, 3)
        return outcome

    @classmethod
    def replay(cls, variant: Variant, scenario: Any, choices: list[int]) -> Outcome:
        with cls._session(variant) as session:
            return cls._describe(variant, session, scenario, choices)

    @classmethod
    def replay_all(cls, variant: Variant, scenario: Any, budget: Budget | None = None) -> Outcome:
        """Every schedule of ``scenario`` with up to ``replay_levels`` kills/preemptions."""
        b = budget or cls.budgets["ci"]
        started = time.perf_counter()
        with cls._session(variant) as session:
            rep = explore_levels(cls._runner(session, variant), scenario, b.replay_levels, b.replay_runs)
            if rep.found is not None:
                out = cls._describe(variant, session, scenario, rep.found.choices)
            else:
                out = Outcome(False, engine=cls.engine, scenario=scenario)
        out.stats.update({"schedules": rep.runs, "runs": rep.runs, "exhaustive": rep.complete, "kills_searched": rep.kills})
        out.stats["seconds"] = round(time.perf_counter() - started, 3)
        return out

    @classmethod
    def _describe(cls, variant: Variant, session: Session, scenario: Any, choices: list[int]) -> Outcome:
        from racekit.sched.chooser import RecordingChooser, ReplayChooser

        recorder = RecordingChooser(ReplayChooser(choices))
        r = cls._runner(session, variant)(scenario, recorder)
        kinds = [p.kind for p in recorder.points if p.chosen]
        return Outcome(
            r.failed,
            r.kind,
            r.property,
            r.message,
            engine=cls.engine,
            scenario=scenario,
            choices=list(choices),
            trace=r.trace,
            history=r.history,
            explanation=(r.explanation or {"property": r.property, "message": r.message}) if r.failed else None,
            stats={
                "operations": cls.requests(scenario),
                "requests": cls.requests(scenario),
                "kills": r.kills,
                "faults": r.kills,
                "preemptions": sum(1 for k in kinds if k == "proc"),
                "steps": r.steps,
                "runs": 1,
            },
        )


__all__ = ["Budget", "CrashMachine", "Unavailable", "choice", "ints", "nonzero", "random_draw", "replay", "without_one"]
