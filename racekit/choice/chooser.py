"""The one interface through which every nondeterministic decision flows.

Thread schedules (:mod:`racekit.sched`), message orders and faults
(:mod:`racekit.sim`) and kill points (:mod:`racekit.crash`) all ask a
:class:`Chooser`.  The answers, a list of ints, are the whole schedule: the
same answers give the same run, which is what makes saved counterexamples
replay on every machine.

Encoding rule (shrink-friendly): option 0 is always the *boring* one - keep
running the current thread, deliver the oldest message, no fault.  A
non-zero answer is a *deviation*; Hypothesis and the minimizer shrink toward
0, and iterative bounding explores 0, 1, 2 ... deviations in turn.

Every chooser sees every decision, including forced ones (a single option),
but only real choices (two or more options) are *recorded*: a choice list
stays short and stable when the code gains a forced step.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from racekit.errors import ReplayDivergence


class View(Protocol):
    """What an engine can tell a strategy about one decision (threads only today).

    ``current`` is the actor whose "keep going" is option 0, or None when the
    previous actor cannot go on (then no answer is a deviation).  ``at`` is
    the index of the step this decision makes; ``pending`` maps each option
    to the access it is about to make; ``steps_since(at)`` are the steps run
    since step ``at`` (DPOR's sleep sets need them).
    """

    @property
    def current(self) -> Hashable | None: ...

    @property
    def at(self) -> int: ...

    def pending(self, option: Hashable) -> object: ...

    def steps_since(self, at: int) -> Sequence[object]: ...


@runtime_checkable
class Chooser(Protocol):
    """Answers which of ``options`` happens next: an index, 0 = boring.

    ``options`` is never empty.  ``view`` is given by engines that can
    describe the decision (see :class:`View`); strategies that do not need it
    ignore it.
    """

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int: ...


def is_deviation(options: Sequence[Hashable], index: int, view: View | None) -> bool:
    """Does answering ``index`` cost one deviation (a preemption, a fault, a kill)?

    Without a view every non-zero answer does.  With one, only a non-zero
    answer while the current actor could have gone on (CHESS's preemption).
    """
    if index == 0:
        return False
    if view is None:
        return True
    return view.current is not None and options[0] == view.current


@dataclass(slots=True)
class ChoicePoint:
    """One real decision as it was made."""

    kind: str
    options: tuple[Hashable, ...]
    chosen: int
    deviation: bool


@dataclass
class Recorder:
    """Wraps a chooser and records every real decision, in order."""

    inner: Chooser
    points: list[ChoicePoint] = field(default_factory=list)

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        index = self.inner.choose(options, kind, view)
        n = len(options)
        if not 0 <= index < n:
            raise ReplayDivergence(f"chooser answered {index} for {n} {kind} options")
        if n > 1:
            # is_deviation(), inline: this runs at every controlled thread switch
            deviation = index != 0 and (view is None or (view.current is not None and options[0] == view.current))
            self.points.append(ChoicePoint(kind, tuple(options), index, deviation))
        return index

    @property
    def choices(self) -> list[int]:
        return [p.chosen for p in self.points]

    @property
    def deviations(self) -> int:
        return sum(1 for p in self.points if p.deviation)


class Boring:
    """Always option 0: run the current thread until it blocks; no faults."""

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        return 0


class Replay:
    """Replays a recorded choice list; after its end, answers 0 (boring).

    Only real decisions consume a recorded choice, matching :class:`Recorder`.
    A recorded index that does not fit the options on offer is a divergence:
    the code changed or is not deterministic.  ``lenient`` (replaying a
    sibling variant's choices, whose code differs) folds it into range and
    counts how often instead.
    """

    def __init__(self, choices: Sequence[int], *, lenient: bool = False) -> None:
        self.choices = list(choices)
        self.pos = 0
        self.lenient = lenient
        self.divergences = 0

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        n = len(options)
        if n == 1 or self.pos >= len(self.choices):
            return 0
        index = self.choices[self.pos]
        self.pos += 1
        if index < n:
            return index
        if self.lenient:
            self.divergences += 1
            return index % n
        raise ReplayDivergence(
            f"choice #{self.pos - 1} is {index} but only {n} {kind} options exist here "
            f"({list(options)}); the code under test changed or is not deterministic"
        )


class ByLabel:
    """Picks options by label from a list (then 0): turns a run driven from
    outside (the live Hypothesis state machine steps threads by id) into a
    choice list.  Consumes one label per decision, forced ones included."""

    def __init__(self, labels: Sequence[Hashable]) -> None:
        self.labels = list(labels)
        self.pos = 0

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        if self.pos >= len(self.labels):
            return 0
        label = self.labels[self.pos]
        self.pos += 1
        if label not in options:
            raise ReplayDivergence(f"{label} cannot run at decision {self.pos - 1} (options: {list(options)})")
        return list(options).index(label)


class Prune(Exception):
    """Raised by a chooser to end a run early: every way on is equivalent to a
    run already seen (DPOR sleep sets).  The engine stops the run and marks
    its result ``pruned``; a pruned run is never a finding."""
