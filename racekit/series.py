"""``SeriesMachine``: the engine for systems that are a function of an input series.

An alert rule, an SLO burn-rate alert, an estimator: given the samples, the
output is determined.  There is nothing to interleave and no fault to inject,
so the only nondeterminism is the input itself - and the scenario *is* the
series.  A run asks its chooser nothing; the search is the seed series
(a run each), then series that Hypothesis generates through the system's
``draw`` hook and shrinks, then seeded random ones; a failure is minimized
through the system's ``shrink`` hook (shorter, flatter series), every
candidate judged by a re-run.  Nothing depends on wall-clock time: the
series carries its own time axis, so hours of samples take microseconds.

Why not the simulator: a timer per evaluation and a message per sample
would add thousands of events to each run and no choice worth exploring -
the simulator's value is message order, loss and crashes, which a pure
function of its input does not have (docs/architecture.md).

A system's ``Machine`` subclasses :class:`SeriesMachine` and gives:

* ``system``: its :class:`~racekit.declarations.System`;
* ``draw(variant, draw)``: a JSON-able scenario (the series) from a
  :class:`~racekit.choice.Draw`;
* ``evaluate(variant, scenario)``: run the variant over the series and
  return a :class:`SeriesRun` - the marks a trace shows and whatever the
  properties read;
* ``properties(variant)``: named :class:`SeriesProperty` checks of
  ``(scenario, run)``;
* optionally ``seed_scenarios``, ``shrink``, ``size`` and ``clock`` (how a
  time on the series' axis is printed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

from racekit.choice import Chooser, Draw, Result
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.profiles import ProfileSettings

__all__ = ["SeriesMachine", "SeriesMark", "SeriesProperty", "SeriesRun"]


@dataclass(frozen=True)
class SeriesMark:
    """One row of a run's trace: at time ``t`` (the series' own unit), ``lane`` did ``what``."""

    t: int
    lane: str
    what: str
    detail: str = ""


@dataclass
class SeriesRun:
    """What one variant did over one series: ``marks`` for the trace, ``data`` for the properties."""

    marks: list[SeriesMark]
    data: Any = None


@dataclass(frozen=True)
class SeriesProperty:
    """A named check: ``check(scenario, run)`` returns None when it holds, else one line of why."""

    name: str
    check: Callable[[Any, SeriesRun], str | None]
    kind: str = "invariant"


RAISED = SeriesProperty("no_exception", lambda scenario, run: None, kind="exception")
"""What a run that raised violates: the variant must answer every series."""


class SeriesMachine:
    """Base of the ``Machine`` of a system whose scenario is its input series."""

    system: ClassVar[System]
    engine: ClassVar[str] = "series"
    inner: ClassVar[str] = "dfs"  # a run has no choices: one run covers a scenario
    unit: ClassVar[str] = "choices"

    # ------------------------------------------------------------------
    # What a system provides
    # ------------------------------------------------------------------
    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        raise NotImplementedError(f"{cls.__name__} must define draw(variant, draw)")

    @classmethod
    def evaluate(cls, variant: Variant, scenario: Any) -> SeriesRun:
        raise NotImplementedError(f"{cls.__name__} must define evaluate(variant, scenario)")

    @classmethod
    def properties(cls, variant: Variant) -> list[SeriesProperty]:
        raise NotImplementedError(f"{cls.__name__} must define properties(variant)")

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return []

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        return iter(())

    @classmethod
    def size(cls, scenario: Any) -> int:
        return 1

    @classmethod
    def clock(cls, t: int) -> str:
        """``t`` as the trace shows it (e.g. ``1:15:00`` for seconds)."""
        return str(t)

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        return None

    # ------------------------------------------------------------------
    # The engine
    # ------------------------------------------------------------------
    @classmethod
    def checked_properties(cls, variant: Variant) -> list[SeriesProperty]:
        """A broken variant is judged by its declared property only (the finding
        is the bug it documents); a fixed one must satisfy them all."""
        props = cls.properties(variant)
        if variant.expect == "violation" and variant.property:
            props = [p for p in props if p.name == variant.property]
        return props

    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        """The seed series, then generated ones (Hypothesis, then seeded random)."""
        runs = max(1, profile.max_examples)
        return Plan(
            phases=[
                Phase("bounded", profile.budget, "seeds"),
                Phase("hypothesis", runs, "drawn"),
                Phase("random", runs, "drawn"),
            ],
            shrink_replays=True,  # a run has no choices: a re-run judges a smaller series
            fewest_runs=0,
            choice_replays=0,
            cross="lenient",  # the same series on a sibling: one run, nothing to search
        )

    @classmethod
    def session(cls, variant: Variant) -> AbstractContextManager[SeriesSession]:
        return nullcontext(SeriesSession(cls, variant))


@dataclass
class SeriesSession:
    """Runs of one variant: evaluate the series, judge it, describe it."""

    machine: type[SeriesMachine]
    variant: Variant
    props: list[SeriesProperty] = field(init=False)

    def __post_init__(self) -> None:
        self.props = self.machine.checked_properties(self.variant)

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        failed: SeriesProperty | None = None
        message = ""
        try:
            run = self.machine.evaluate(self.variant, scenario)
        except Exception as exc:  # the system under test raised: a finding, like any other
            run = SeriesRun([])
            failed, message = RAISED, f"{type(exc).__name__}: {exc}"
        else:
            for prop in self.props:
                why = prop.check(scenario, run)
                if why is not None:
                    failed, message = prop, why
                    break
        trace = []
        for i, m in enumerate(run.marks):
            when = self.machine.clock(m.t)
            # the time leads ``what`` too: the Markdown twin and the terminal view show no time column
            trace.append({"step": i, "t": when, "name": m.lane, "what": f"{when} {m.what}", "detail": m.detail})
        if failed is not None:
            trace.append({"step": len(trace), "name": "check", "what": f"VIOLATION {failed.name}", "detail": message})
        return Result(
            failed=failed is not None,
            kind=failed.kind if failed else None,
            property=failed.name if failed else None,
            message=message,
            engine=self.machine.engine,
            scenario=scenario,
            trace=trace,
            stats={"runs": 1, "size": self.machine.size(scenario)},
            steps=len(run.marks),
        )
