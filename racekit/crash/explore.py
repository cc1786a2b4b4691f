"""Searching kill schedules: by level, by Hypothesis, at random; then minimizing.

A run is ``run(scenario, chooser) -> RunResult``; every explorer differs only
in the chooser it passes.

* :func:`explore_levels` - every schedule of one scenario with exactly 0,
  then 1, then 2 ... non-zero choices (a non-zero choice is one kill or one
  preemption).  Level ``k`` extends each level ``k-1`` schedule by one
  deviation *after* its last one, so every schedule is run once, and the
  first failure has the fewest kills and preemptions there are.
* :func:`explore_hypothesis` - Hypothesis draws the scenario and the
  choices (kills and switches gated, so they stay rare) and shrinks both.
* :func:`explore_random` - seeded random choices; in free mode these are
  kill delays: kills at random instants.
* :func:`minimize` - greedy: smaller scenarios first (fewest requests), then
  the choice list (fewest non-zero choices, see ``racekit.sim.minimize``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from racekit.crash.run import RunResult
from racekit.sched.chooser import Chooser, RecordingChooser, ReplayChooser
from racekit.sim.choosers import DataChooser, WeightedRandomChooser
from racekit.sim.minimize import minimize as minimize_choices
from racekit.sim.minimize import normalize

RunFn = Callable[[Any, Chooser], RunResult]
FAULT_GATE = 6  # random runs: one kill-or-switch offer in six is taken
Draw = Callable[[st.SearchStrategy[Any]], Any]


@dataclass
class Found:
    explorer: str
    scenario: Any
    choices: list[int]
    result: RunResult


@dataclass
class Report:
    found: Found | None
    runs: int
    kills: int
    complete: bool = False  # every schedule within the bound was run


def nonzero(choices: Sequence[int]) -> int:
    return sum(1 for c in choices if c)


class _PathChooser:
    """Follows ``prefix`` then answers 0; records (arity, chosen) of each real choice."""

    def __init__(self, prefix: Sequence[int]) -> None:
        self.prefix = list(prefix)
        self.path: list[tuple[int, int]] = []

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        n = len(options)
        if n == 1:
            return 0
        pos = len(self.path)
        index = self.prefix[pos] if pos < len(self.prefix) else 0
        if index >= n:
            raise RuntimeError(f"choice {index} of {n} {kind} options: the run is not deterministic")
        self.path.append((n, index))
        return index


class LevelSearch:
    """The schedules of one scenario, one level (number of non-zero choices) at a time.

    Level ``k`` extends each executed level ``k-1`` schedule by one deviation
    after its last one, so every schedule is run exactly once, and a failure
    found at level ``k`` has the fewest non-zero choices there are.
    """

    def __init__(self, run: RunFn, scenario: Any) -> None:
        self.run = run
        self.scenario = scenario
        self.level = -1  # last level completed
        self.complete = False  # no schedule left at any level
        # schedules of the next level still to run: (prefix, position after its last deviation)
        self._todo: list[tuple[list[int], int]] = [([], 0)]
        self._done: list[tuple[list[tuple[int, int]], int]] = []  # executed ones of this level

    def next_level(
        self, budget: int, accept: Callable[[RunResult], bool] = lambda r: r.failed
    ) -> Report:
        """Run (the rest of) the next level, within ``budget`` runs."""
        runs = kills = 0
        while self._todo:
            if runs >= budget:
                return Report(None, runs, kills, False)
            prefix, start = self._todo.pop(0)
            chooser = _PathChooser(prefix)
            result = self.run(self.scenario, chooser)
            runs += 1
            kills += result.kills
            self._done.append((chooser.path, start))
            if accept(result):
                choices = normalize([c for _, c in chooser.path])
                return Report(Found(f"level-{self.level + 1}", self.scenario, choices, result), runs, kills)
        self.level += 1
        self._todo = [
            ([c for _, c in path[:d]] + [alt], d + 1)
            for path, start in self._done
            for d in range(start, len(path))
            for alt in range(1, path[d][0])
        ]
        self._done = []
        self.complete = not self._todo
        return Report(None, runs, kills, True)


def explore_levels(
    run: RunFn,
    scenario: Any,
    max_level: int,
    budget: int,
    *,
    accept: Callable[[RunResult], bool] = lambda r: r.failed,
) -> Report:
    """Schedules of ``scenario`` with up to ``max_level`` non-zero choices, fewest first.

    ``complete`` in the report: every schedule up to ``max_level`` was run
    (or the scenario has no more schedules at all).
    """
    search = LevelSearch(run, scenario)
    runs = kills = 0
    while search.level < max_level and not search.complete:
        rep = search.next_level(budget - runs, accept)
        runs += rep.runs
        kills += rep.kills
        if rep.found is not None or not rep.complete:
            return Report(rep.found, runs, kills, False)
    return Report(None, runs, kills, True)


class AsFaults:
    """Presents kills and switches to a simulator chooser as *faults*: rare, gated.

    ``racekit.sim.choosers`` already has the Hypothesis (``DataChooser``) and
    seeded (``WeightedRandomChooser``) choosers that keep faults rare and
    shrink them toward none; a crash run's faults are its kills and its
    switches between workers.  Kill delays (free mode) stay plain choices.
    """

    FAULTS = ("kill", "proc")

    def __init__(self, inner: Chooser) -> None:
        self.inner = inner

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        return self.inner.choose(options, "fault" if kind in self.FAULTS else kind)


class _Failure(Exception):
    def __init__(self, scenario: Any, choices: list[int], result: RunResult) -> None:
        super().__init__(result.message)
        self.scenario = scenario
        self.choices = choices
        self.result = result


def explore_hypothesis(
    run: RunFn,
    draw_scenario: Callable[[Draw], Any],
    max_examples: int,
    *,
    shrink: bool = True,
    accept: Callable[[RunResult], bool] = lambda r: r.failed,
) -> Report:
    """Hypothesis draws scenario and choices; on failure it shrinks both."""
    counts = {"runs": 0, "kills": 0}

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
        scenario = draw_scenario(data.draw)
        recorder = RecordingChooser(AsFaults(DataChooser(data, fault_gate=FAULT_GATE)))
        result = run(scenario, recorder)
        counts["runs"] += 1
        counts["kills"] += result.kills
        if accept(result):
            raise _Failure(scenario, normalize(recorder.choices), result)

    try:
        search()
    except _Failure as f:
        return Report(Found("hypothesis", f.scenario, f.choices, f.result), counts["runs"], counts["kills"])
    return Report(None, counts["runs"], counts["kills"])


def explore_random(
    run: RunFn,
    scenarios: Callable[[random.Random], Any],
    runs: int,
    seed: int = 0,
    *,
    min_kills: int = 0,
    accept: Callable[[RunResult], bool] = lambda r: r.failed,
) -> Report:
    """``runs`` seeded random runs (or more, until ``min_kills`` kills happened)."""
    rng = random.Random(seed)
    done = kills = 0
    while done < runs or kills < min_kills:
        if done >= 20 * max(runs, 1):  # kills are not happening: stop, bounded
            break
        scenario = scenarios(rng)
        recorder = RecordingChooser(AsFaults(WeightedRandomChooser(random.Random(rng.randrange(1 << 30)), 1 / FAULT_GATE)))
        result = run(scenario, recorder)
        done += 1
        kills += result.kills
        if accept(result):
            return Report(Found(f"random-seed-{seed}", scenario, normalize(recorder.choices), result), done, kills)
    return Report(None, done, kills)


def replay(run: RunFn, scenario: Any, choices: Sequence[int]) -> RunResult:
    return run(scenario, ReplayChooser(choices))


def minimize(
    run: RunFn,
    found: Found,
    smaller: Callable[[Any], Iterable[Any]],
    *,
    level_budget: int = 60,
    choice_budget: int = 60,
) -> tuple[Found, int]:
    """Fewest requests (greedy over ``smaller``), then fewest non-zero choices.

    A smaller scenario is kept when a level search with at most as many
    non-zero choices finds the *same property* failing on it.  Returns the
    minimized failure and the number of runs spent.
    """
    prop = found.result.property
    best = found
    spent = 0

    def same(r: RunResult) -> bool:
        return r.failed and r.property == prop

    improved = True
    while improved:
        improved = False
        for candidate in smaller(best.scenario):
            rep = explore_levels(run, candidate, nonzero(best.choices), level_budget, accept=same)
            spent += rep.runs
            if rep.found is not None:
                best = rep.found
                improved = True
                break

    def again(choices: list[int]) -> list[int] | None:
        recorder = RecordingChooser(ReplayChooser(choices))
        r = run(best.scenario, recorder)
        return recorder.choices if same(r) else None

    if nonzero(best.choices) > 1 or len(best.choices) > 1:
        choices, used = minimize_choices(best.choices, again, budget=choice_budget)
        spent += used
        if choices != best.choices:
            best = Found(best.explorer, best.scenario, choices, best.result)
    return best, spent
