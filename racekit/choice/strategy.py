"""The Strategy interface, the registry, and the one core loop that drives them.

A :class:`Strategy` hands out one :class:`Trial` per run (a chooser, and a
draw for strategies that also generate the scenario) and is told how each
run went.  :func:`drive` is the whole exploration loop; strategies differ
only in the trials they hand out.  Hypothesis, which owns its own loop, is
turned inside out with a greenlet so it is a Strategy like the others (see
``strategies/hypothesis.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from racekit.choice.chooser import Chooser, Recorder
from racekit.choice.coverage import Coverage
from racekit.choice.draw import Draw
from racekit.choice.result import Result
from racekit.errors import RacekitError


@dataclass
class Trial:
    """One run's sources of decisions: ``draw`` to generate the scenario, or
    None to run seed scenario number ``seed``."""

    chooser: Chooser
    draw: Draw | None = None
    seed: int = 0  # which seed scenario, when ``draw`` is None


@dataclass(frozen=True)
class Knobs:
    """Every strategy's parameters, in one place (the CLI and ``explore()`` expose them).

    ``bound``: at most this many deviations (preemptions, faults, kills);
    ``pct_depth``: PCT's bug depth d; ``rare``: decision kinds that random
    and Hypothesis choosers keep rare (faults, kills) with ``rare_rate``;
    ``choices``: what ``replay`` replays; ``max_bound``: how far iterative
    bounding goes before running unbounded, ``first_bound`` where it starts; ``shrink_runs``: Hypothesis
    runs allowed after its first failure; ``examples``: Hypothesis'
    max_examples; ``inner``: what ``bounded`` bounds; ``unit``: what a
    deviation is called in coverage sentences; ``seeds``: how many seed
    scenarios the exhaustive strategies take in turn.
    """

    seed: int = 0
    bound: int | None = None
    pct_depth: int = 3
    rare: frozenset[str] = frozenset()
    rare_rate: float = 1 / 16
    choices: tuple[int, ...] = ()
    max_bound: int = 2
    first_bound: int = 1
    shrink_runs: int = 40
    examples: int = 100
    inner: str = "dpor"
    unit: str = "preemptions"
    seeds: int = 1


class Strategy(Protocol):
    name: str

    def next_trial(self) -> Trial | None:
        """The next run's trial, or None when this strategy is done."""

    def observe(self, result: Result, hit: bool) -> None:
        """How the run of the last trial went; ``hit``: it is what the search looks for."""

    def coverage(self) -> Coverage:
        """How much of the space was run so far, honestly worded."""

    def abandon(self, error: BaseException) -> bool:
        """The last trial's run raised ``error`` from inside the strategy's own
        chooser (Hypothesis ends a run that way); True: handled, forget the run."""

    def close(self) -> None:
        """The loop is over (done, budget spent, or interrupted): release what is held."""


class UnknownStrategy(RacekitError):
    pass


Factory = Callable[[Knobs], Strategy]
_REGISTRY: dict[str, tuple[Factory, str, bool]] = {}


def register(name: str, about: str, *, needs_view: bool = False) -> Callable[[Factory], Factory]:
    """Class decorator: make a strategy available by name (CLI, ``explore()``)."""

    def add(factory: Factory) -> Factory:
        _REGISTRY[name] = (factory, about, needs_view)
        return factory

    return add


def _load() -> None:
    # importing the modules registers them; one import per strategy file
    from racekit.choice.strategies import (  # noqa: F401
        bounded,
        dfs,
        dpor,
        hypothesis,
        pct,
        random,
        replay,
    )


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def describe() -> dict[str, str]:
    _load()
    return {name: about for name, (_, about, _) in sorted(_REGISTRY.items())}


def make(name: str, knobs: Knobs, *, view: bool = True) -> Strategy:
    """The strategy registered as ``name``; ``view``: the engine describes decisions."""
    _load()
    entry = _REGISTRY.get(name)
    if entry is None:
        raise UnknownStrategy(f"unknown strategy {name!r} (choose from: {', '.join(sorted(_REGISTRY))})")
    factory, _, needs_view = entry
    if needs_view and not view:
        raise UnknownStrategy(
            f"strategy {name!r} needs per-step thread accesses, which only thread systems record; try dfs or bounded"
        )
    return factory(knobs)


@dataclass
class Report:
    """What :func:`drive` found: the failure (the last hit: the smallest, for
    strategies that shrink), how many runs, the run of the first hit."""

    strategy: str
    found: Result | None
    runs: int
    coverage: Coverage
    first_hit: int | None = None
    stats: dict[str, int] = field(default_factory=dict)


Progress = Callable[[str, int, Result], None]


def drive(
    strategy: Strategy,
    run: Callable[[Trial], Result],
    budget: int,
    *,
    hit: Callable[[Result], bool] = lambda r: r.failed,
    progress: Progress | None = None,
) -> Report:
    """THE exploration loop: ask for a trial, run it, tell the strategy, until a
    hit (and the strategy has finished with it) or ``budget`` runs without one.

    Every trial's chooser is wrapped in a :class:`Recorder`, so every result
    carries its choice list and deviations whichever strategy made them.
    """
    try:
        return _loop(strategy, run, budget, hit, progress)
    finally:
        strategy.close()


def _loop(
    strategy: Strategy, run: Callable[[Trial], Result], budget: int, hit: Callable[[Result], bool], progress: Progress | None
) -> Report:
    found: Result | None = None
    first: int | None = None
    runs = 0
    pruned = 0
    alone = interleaved = False  # vacuity: a run of 2+ actors with no shared point / a run with one
    while found is not None or runs < budget:
        trial = strategy.next_trial()
        if trial is None:
            break
        recorder = Recorder(trial.chooser)
        try:
            result = run(Trial(recorder, trial.draw, trial.seed))
        except BaseException as exc:
            if strategy.abandon(exc):
                continue
            raise
        runs += 1
        result.path = recorder.points
        result.choices = recorder.choices
        pruned += result.pruned
        if result.shared_points is not None:
            interleaved = interleaved or result.shared_points > 0
            alone = alone or (result.actors >= 2 and result.shared_points == 0)
        is_hit = not result.pruned and hit(result)
        strategy.observe(result, is_hit)
        if progress is not None:
            progress(strategy.name, runs, result)
        if is_hit:
            found = result
            if first is None:
                first = runs
    coverage = strategy.coverage()
    if alone and not interleaved:
        coverage = replace(coverage, vacuous=True)
    return Report(strategy.name, found, runs, coverage, first, {"pruned": pruned})
