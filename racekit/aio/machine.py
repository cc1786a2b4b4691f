"""``AsyncMachine``: the asyncio Engine (see :mod:`racekit.engine`).

A catalogue system written with asyncio subclasses :class:`AsyncMachine`
and gives:

* ``system``: its :class:`~racekit.declarations.System` (``kind="aio"``);
* ``setup(variant, scenario) -> state``: fresh state for one run (a
  coroutine function is fine: it runs on the controlled loop, FIFO);
* ``tasks(variant, scenario, state)``: the run's top-level coroutine
  functions (a dict names them: the lanes of the trace);
* ``properties(variant)``: named :class:`Property` checks of the end state
  and the run (virtual time, tasks left running, the tasks' results);
* ``seed_scenarios``, ``draw``, ``shrink``, ``size``: the three hooks every
  engine shares, plus the counterexample length measure.

The plan: iterative bounding (prefix DFS with at most 1, then 2
reorderings, then unbounded) over the seed scenarios, then Hypothesis over
drawn ones.  A reordering is running a ready task other than the one
asyncio's FIFO would run.  DFS and not DPOR: docs/aio.md gives the
measurement.  A fixed variant replays a broken sibling's counterexample by
running every order of its scenario (up to ``cross_runs``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar

from racekit.aio.explore import as_result
from racekit.aio.run import AioRun, Program, Verdict, run_program
from racekit.choice import Chooser, Draw, Result
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.profiles import ProfileSettings


@dataclass(frozen=True)
class Property:
    """A named check: ``check(state, run)`` returns None when it holds, else one line of why."""

    name: str
    check: Callable[[Any, AioRun], str | None]
    kind: str = "invariant"


class AsyncMachine:
    """Base of every asyncio system's ``Machine`` (the aio Engine)."""

    system: ClassVar[System]
    engine: ClassVar[str] = "aio"
    inner: ClassVar[str] = "dfs"
    unit: ClassVar[str] = "reorderings"
    max_steps: ClassVar[int] = 5_000
    cross_runs: ClassVar[int] = 3_000
    shrink_runs: ClassVar[int] = 200
    """Orders tried on each smaller scenario while minimizing; a system whose
    bugs show in asyncio's own (FIFO) order can spend far fewer."""
    seed_runs: ClassVar[int | None] = None
    """A cap on the bounded phase over the seed scenarios (None: the profile's budget),
    for systems whose runs are long (minutes of virtual time)."""

    # ------------------------------------------------------------ hooks
    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> Any:
        raise NotImplementedError(f"{cls.__name__} must define setup(variant, scenario)")

    @classmethod
    def tasks(
        cls, variant: Variant, scenario: Any, state: Any
    ) -> Sequence[Callable[[], Awaitable[Any]]] | Mapping[str, Callable[[], Awaitable[Any]]]:
        raise NotImplementedError(f"{cls.__name__} must define tasks(variant, scenario, state)")

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        raise NotImplementedError(f"{cls.__name__} must define properties(variant)")

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
    def unavailable(cls, variant: Variant) -> str | None:
        return None

    # ----------------------------------------------------------- checks
    @classmethod
    def checked_properties(cls, variant: Variant) -> list[Property]:
        """A broken variant is searched for its declared property only (the
        finding is the bug it documents); a fixed one must satisfy them all."""
        props = cls.properties(variant)
        if variant.expect == "violation" and variant.property:
            props = [p for p in props if p.name == variant.property]
        return props

    @classmethod
    def program(cls, variant: Variant, scenario: Any) -> Program:
        props = cls.checked_properties(variant)

        def check(state: Any, run: AioRun) -> Verdict | None:
            for prop in props:
                message = prop.check(state, run)
                if message is not None:
                    return Verdict(prop.name, prop.kind, message)
            return None

        return Program(
            lambda: cls.setup(variant, scenario),
            lambda state: cls.tasks(variant, scenario, state),
            check,
            cls.max_steps,
        )

    # ----------------------------------------------------------- engine
    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        return Plan(
            phases=[
                Phase("bounded", min(profile.budget, cls.seed_runs or profile.budget), "seeds"),
                Phase("hypothesis", profile.max_examples, "drawn"),
            ],
            shrink_runs=cls.shrink_runs,
            fewest_runs=2000,
            choice_replays=300,
            cross="search",
            cross_runs=cls.cross_runs,
        )

    @classmethod
    def session(cls, variant: Variant) -> AbstractContextManager[AsyncSession]:
        return nullcontext(AsyncSession(cls, variant))


class AsyncSession:
    """Runs of one asyncio variant: a fresh controlled loop per run."""

    def __init__(self, machine: type[AsyncMachine], variant: Variant) -> None:
        self.machine = machine
        self.variant = variant

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        m = self.machine
        run = run_program(m.program(self.variant, scenario), chooser, detail=detail)
        result = as_result(run, detail=detail, engine=m.engine)
        result.scenario = scenario
        result.stats.update({"operations": m.size(scenario), "runs": 1})
        if run.verdict is not None:
            result.explanation = {"property": run.verdict.property, "message": run.verdict.message}
        return result


def without_one(items: Sequence[Any]) -> Iterator[list[Any]]:
    """Every list with one item dropped (last first): the usual ``shrink`` step."""
    for i in range(len(items) - 1, -1, -1):
        yield [*items[:i], *items[i + 1 :]]


__all__ = ["AsyncMachine", "AsyncSession", "Property", "without_one"]
