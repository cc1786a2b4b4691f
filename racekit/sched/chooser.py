"""The one interface through which every nondeterministic decision flows.

Thread schedules (``racekit.sched``), message orders, drops, partitions,
clock skew and crashes (``racekit.sim``), and kill points (``racekit.crash``)
all ask a :class:`Chooser`.  The answers, a list of ints, are the whole
schedule: the same answers give the same run, which is what makes saved
counterexamples replay on every machine.

Encoding rule (shrink-friendly): option 0 is always the *boring* one:
"keep running the current thread", "deliver the oldest message", "no fault".
Hypothesis shrinks every choice toward 0, so a shrunk schedule has the fewest
preemptions and faults, and "number of non-zero choices" is the size measure
used by minimality tests.
"""

from __future__ import annotations

import random as _random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from racekit.errors import ReplayDivergence


@runtime_checkable
class Chooser(Protocol):
    """Answers ``choose``: which of ``options`` happens next.

    ``options`` is never empty; its labels are thread ids for
    ``kind == "thread"`` and small ints or strings otherwise.  The return value
    is an index into ``options``; 0 is the boring choice.
    """

    def choose(self, options: Sequence[Hashable], kind: str) -> int: ...


@dataclass
class ChoicePoint:
    """One decision as it was made: how many options, which was taken."""

    kind: str
    options: tuple[Hashable, ...]
    chosen: int


@dataclass
class RecordingChooser:
    """Wraps another chooser and records every decision, in order.

    A single-option decision is not recorded: it is not a choice, and leaving
    it out keeps choice lists short and stable when code gains a forced step.
    """

    inner: Chooser
    points: list[ChoicePoint] = field(default_factory=list)

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        if len(options) == 1:
            return 0
        index = self.inner.choose(options, kind)
        if not 0 <= index < len(options):
            raise ValueError(f"chooser returned {index} for {len(options)} options")
        self.points.append(ChoicePoint(kind, tuple(options), index))
        return index

    @property
    def choices(self) -> list[int]:
        return [p.chosen for p in self.points]


class BoringChooser:
    """Always option 0: run the current thread until it blocks; no faults."""

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        return 0


class RandomChooser:
    """Uniform choices from an explicit, seeded ``random.Random``."""

    def __init__(self, seed: int | str = 0, rng: _random.Random | None = None) -> None:
        self.rng = rng if rng is not None else _random.Random(seed)

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        return self.rng.randrange(len(options))


class ReplayChooser:
    """Replays a recorded choice list; after its end, answers 0 (boring).

    Only multi-option decisions consume a recorded choice, matching
    :class:`RecordingChooser`.  A recorded index that does not fit the options
    on offer is a divergence: the code changed or is not deterministic.
    """

    def __init__(self, choices: Sequence[int], *, strict_end: bool = False) -> None:
        self.choices = list(choices)
        self.pos = 0
        self.strict_end = strict_end

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        if len(options) == 1:
            return 0
        if self.pos >= len(self.choices):
            if self.strict_end:
                raise ReplayDivergence(
                    f"choice list ended after {self.pos} choices but the run asks for more"
                )
            return 0
        index = self.choices[self.pos]
        self.pos += 1
        if not 0 <= index < len(options):
            raise ReplayDivergence(
                f"choice #{self.pos - 1} is {index} but only {len(options)} {kind} "
                f"options exist here ({list(options)}); the code under test changed "
                "or is not deterministic"
            )
        return index

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.choices)
