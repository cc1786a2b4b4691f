"""``CrashMachine``: the real-process Engine (see :mod:`racekit.engine`).

A catalogue system tested by killing real processes subclasses it and gives:

* ``system``: its :class:`~racekit.declarations.System`;
* ``driver(variant, scenario) -> Driver``: the parent side of one run
  (database setup, tasks, retries and recovery, checks);
* ``seed_scenarios(variant)``: small scenarios, smallest first, explored by
  iterative bounding (0, then 1 ... kills and switches between workers);
* ``draw(variant, draw)``: a scenario from a :class:`~racekit.choice.Draw`;
* ``shrink(variant, scenario)``: scenarios one request smaller;
* ``size(scenario)``: how many client requests a scenario makes;
* ``kills(variant)`` (optional): the kill budget of one run, ``max_kills`` by default.

The plan, per profile :class:`Budget`: bounded search over the seed
scenarios, then Hypothesis, then (deep) free-mode runs with kills at random
instants - real concurrency, whose failures are searched again in step mode
to get a replayable schedule, and reported as seen (with how often a re-run
reproduces them) when step mode cannot find them.  A fixed variant replays
a broken sibling's counterexample by running every schedule of its scenario
up to ``replay_levels`` kills/switches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from racekit.choice import Chooser, Draw, Recorder, Result
from racekit.crash.run import Driver, RunResult
from racekit.crash.session import Session
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.errors import RacekitError
from racekit.profiles import ProfileSettings
from racekit.project import project_of


class Unavailable(RacekitError):
    """A service a variant needs (PostgreSQL, say) is not installed here."""


@dataclass(frozen=True)
class Budget:
    """How much searching one profile buys (runs are real processes: count them)."""

    levels: int = 1  # kills + switches in the bounded search of the seed scenarios
    level_runs: int = 200  # runs of the bounded search, over all seed scenarios
    hypothesis: int = 0  # Hypothesis examples after the seeds
    random_kills: int = 0  # free-mode runs with kills at random instants
    replay_levels: int = 2  # replay_all: schedules up to this many kills/switches ...
    replay_runs: int = 150  # ... and at most this many runs


def without_one(groups: list[list[Any]], keep: int = 1) -> Iterator[list[list[Any]]]:
    """Every way to drop one operation of one client (dropping emptied clients), keeping ``keep`` clients.

    The usual ``shrink`` for scenarios made of per-client operation lists.
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
    inner: ClassVar[str] = "dfs"
    unit: ClassVar[str] = "kills and switches"
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
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return []

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        raise NotImplementedError(f"{cls.__name__} must define draw(variant, draw)")

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterable[Any]:
        return ()

    @classmethod
    def size(cls, scenario: Any) -> int:
        return 0

    @classmethod
    def kills(cls, variant: Variant) -> int:
        """How many kills one run of ``variant`` may have (default: ``max_kills``).

        For a system whose variants promise different things about crashes:
        ``request_dedup``'s SQLite store commits the mark with the effect and
        is searched under kills; its Redis store cannot (two systems) and is
        searched for duplicates only.
        """
        return cls.max_kills

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
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        b = cls.budgets.get(profile.name, cls.budgets["ci"])
        phases = [Phase("bounded", b.level_runs, "seeds", max_bound=b.levels, unbounded=False, first_bound=0)]
        if b.hypothesis:
            phases.append(Phase("hypothesis", b.hypothesis, "drawn"))
        if b.random_kills:
            phases.append(Phase("random", b.random_kills, "drawn", mode="free"))
        return Plan(
            phases=phases,
            shrink_runs=60,
            shrink_bounded=True,
            fewest_runs=0,  # bounded search already found the fewest kills and switches
            choice_replays=60,
            hypothesis_shrink_runs=40,
            cross="search",
            cross_runs=b.replay_runs,
            cross_bound=b.replay_levels,
            rare=frozenset({"kill", "proc"}),
            rare_rate=1 / 6,
        )

    @classmethod
    @contextmanager
    def session(cls, variant: Variant) -> Iterator[CrashSession]:
        reason = cls.unavailable(variant)
        if reason:
            raise Unavailable(f"{cls.system.name}/{variant.name}: {reason}")
        project = project_of(cls)  # the machine's own project, whatever the working directory
        packages = {project.systems_package, *(project.package(d) for d in project.machines)}
        env = {"RACEKIT_TARGET_PACKAGES": ",".join(sorted(packages)), **cls.session_env(variant)}
        with Session(project.root, env=env) as session:
            yield CrashSession(cls, variant, session)


class CrashSession:
    """Runs of one process variant, on one pool of worker processes."""

    def __init__(self, machine: type[CrashMachine], variant: Variant, session: Session) -> None:
        self.machine = machine
        self.variant = variant
        self.pool = session

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        m = self.machine
        recorder = Recorder(chooser)
        r: RunResult = self.pool.run(
            m.driver(self.variant, scenario), recorder, mode=mode, max_kills=m.kills(self.variant),  # type: ignore[arg-type]
            max_steps=m.max_steps, step_timeout=m.step_timeout, time_limit=m.time_limit,
        )
        switches = sum(1 for p in recorder.points if p.chosen and p.kind == "proc")
        return Result(
            r.failed,
            r.kind,
            r.property,
            r.message,
            engine=m.engine,
            scenario=scenario,
            trace=r.trace,
            history=r.history,
            explanation=(r.explanation or {"property": r.property, "message": r.message}) if r.failed else None,
            stats={
                "operations": m.size(scenario),
                "requests": m.size(scenario),
                "kills": r.kills,
                "faults": r.kills,
                "preemptions": switches,
                "steps": r.steps,
                "runs": 1,
            },
            steps=r.steps,
        )


__all__ = ["Budget", "CrashMachine", "CrashSession", "Unavailable", "without_one"]
