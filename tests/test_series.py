"""The series engine: a system that is a pure function of its input series.

A toy: a "high water" alarm over a list of integers that should fire when
a value reaches 10.  The broken variant compares with ``>`` and misses 10.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from racekit import (
    PROFILES,
    System,
    Variant,
    search,
)
from racekit.api import every_schedule
from racekit.choice import Recorder, Replay
from racekit.series import SeriesMachine, SeriesMark, SeriesProperty, SeriesRun


class Strict:
    def fires(self, v: int) -> bool:
        return v > 10


class Inclusive:
    def fires(self, v: int) -> bool:
        return v >= 10


TOY = System(
    "high_water", "toy", "series",
    [Variant("strict", Strict, expect="violation", property="fires_at_ten", bug="> for >="),
     Variant("inclusive", Inclusive, expect="correct")],
)


def fires_at_ten(scenario: Any, run: SeriesRun) -> str | None:
    for v, fired in zip(scenario["values"], run.data, strict=True):
        if v >= 10 and not fired:
            return f"{v} did not fire"
    return None


def never_below(scenario: Any, run: SeriesRun) -> str | None:
    for v, fired in zip(scenario["values"], run.data, strict=True):
        if v < 10 and fired:
            return f"{v} fired"
    return None


class Toy(SeriesMachine):
    system = TOY

    @classmethod
    def draw(cls, variant: Variant, draw: Any) -> Any:
        return {"values": [draw.integer(0, 30) for _ in range(draw.integer(1, 8))]}

    @classmethod
    def evaluate(cls, variant: Variant, scenario: Any) -> SeriesRun:
        rule = variant.factory()
        fired = [rule.fires(v) for v in scenario["values"]]
        marks = [SeriesMark(i * 60, "alarm", "fires" if f else "quiet", str(v))
                 for i, (v, f) in enumerate(zip(scenario["values"], fired, strict=True))]
        return SeriesRun(marks, fired)

    @classmethod
    def properties(cls, variant: Variant) -> list[SeriesProperty]:
        return [SeriesProperty("never_below", never_below), SeriesProperty("fires_at_ten", fires_at_ten)]

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        values = scenario["values"]
        for i in range(len(values)):
            if len(values) > 1:
                yield {"values": values[:i] + values[i + 1:]}
        for i, v in enumerate(values):
            if v > 10:
                yield {"values": values[:i] + [v - 1] + values[i + 1:]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["values"])

    @classmethod
    def clock(cls, t: int) -> str:
        return f"{t // 60}m"


def test_the_search_finds_and_minimizes_the_broken_variant() -> None:
    found = search(Toy, "strict", PROFILES["ci"])
    assert found.failed and found.property == "fires_at_ten" and found.engine == "series"
    assert found.scenario == {"values": [10]}, found.scenario  # shrunk: one value, lowered to the edge
    assert found.choices == []
    assert found.trace[0] == {"step": 0, "t": "0m", "name": "alarm", "what": "0m quiet", "detail": "10"}
    assert found.trace[-1]["what"] == "VIOLATION fires_at_ten"


def test_the_fixed_variant_is_clean_over_seeds_hypothesis_and_random_runs() -> None:
    clean = search(Toy, "inclusive", PROFILES["ci"])
    assert not clean.failed
    assert set(clean.stats["phases"]) == {"hypothesis/drawn", "random/drawn"}  # no seeds declared
    assert clean.stats["runs"] == 2 * PROFILES["ci"].max_examples


def test_a_run_asks_nothing_and_replays_the_same() -> None:
    scenario = {"values": [3, 12, 10]}
    session = Toy.session(TOY.variant("strict")).__enter__()
    recorder = Recorder(Replay([]))
    first = session.run(scenario, recorder)
    assert recorder.choices == [] and first.failed
    assert session.run(scenario, Replay([])).trace == first.trace


def test_a_broken_variant_is_judged_by_its_own_property_only() -> None:
    # "strict" fires at 11 and also never fires below 10, but only fires_at_ten is checked on it
    assert [p.name for p in Toy.checked_properties(TOY.variant("strict"))] == ["fires_at_ten"]
    assert [p.name for p in Toy.checked_properties(TOY.variant("inclusive"))] == ["never_below", "fires_at_ten"]


def test_the_fixed_variant_replays_the_broken_scenario_clean() -> None:
    assert not every_schedule(Toy, "inclusive", {"values": [10]}).failed


class Crashes:
    def fires(self, v: int) -> bool:
        if v == 13:
            raise ValueError("unlucky")
        return v >= 10


def test_an_exception_in_the_system_is_a_finding_not_a_crash() -> None:
    system = System("high_water", "toy", "series", [Variant("crashes", Crashes, expect="correct")])
    machine = type("CrashToy", (Toy,), {"system": system})
    found = search(machine, "crashes", PROFILES["ci"])
    assert found.failed and found.kind == "exception" and found.property == "no_exception", found
    assert found.message == "ValueError: unlucky" and found.scenario == {"values": [13]}
