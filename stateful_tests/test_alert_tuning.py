"""The alert rules over generated series: the scenario *is* the series.

A pure function of its input has nothing to interleave, so the engine is
``racekit.SeriesMachine``: the seed series first, then series Hypothesis
generates and shrinks (noise inside one 10-point band, or segments of
levels with noise), then seeded random ones.  Properties (specs/alert_tuning.py):
``few_transitions`` (noise inside the hysteresis gap changes the alert at
most once), ``detects_sustained_breach`` (a minute above 90 fires it) and
``resolves_when_clear`` (below 80 it is not firing),
``resolves_only_below_clear`` (a firing alert resolves only on a sample
below 80) and ``fires_only_after_for`` (a blip shorter than the minute
never pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import racekit
from racekit import (
    PROFILES,
    System,
    Variant,
    variant_tests,
)
from racekit.series import SeriesMachine, SeriesMark, SeriesProperty, SeriesRun
from specs.alert_tuning import K, inside_gap, sustained_before, sustained_breaches, transitions
from systems import alert_tuning as at
from systems.alert_tuning import CLEAR, FIRE, FOR, STEP


def clock(t: int) -> str:
    return f"{t // 60}:{t % 60:02d}"


def few_transitions(scenario: Any, run: SeriesRun) -> str | None:
    samples, states = scenario["samples"], run.data
    if not inside_gap(samples, FIRE, CLEAR):
        return None
    changes = transitions(states)
    if len(changes) <= K:
        return None
    at_times = ", ".join(f"{'firing' if states[i] == 'firing' else 'resolved'} at {clock(i * STEP)}" for i in changes)
    return (
        f"the metric stays within {min(samples)}..{max(samples)}, inside the {FIRE - CLEAR}-point hysteresis gap, "
        f"but the alert changed {len(changes)} times (at most {K}): {at_times}"
    )


def detects_sustained_breach(scenario: Any, run: SeriesRun) -> str | None:
    samples, states, need = scenario["samples"], run.data, FOR // STEP
    for i0 in sustained_breaches(samples, FIRE, need):
        if states[i0 + need] != "firing":
            return (
                f"above {FIRE} from {clock(i0 * STEP)} to {clock((i0 + need) * STEP)} ({FOR} s) "
                f"but the alert is {states[i0 + need]} at {clock((i0 + need) * STEP)}"
            )
    return None


def resolves_when_clear(scenario: Any, run: SeriesRun) -> str | None:
    for i, (v, state) in enumerate(zip(scenario["samples"], run.data, strict=True)):
        if v < CLEAR and state == "firing":
            return f"the metric is {v} (below {CLEAR}) at {clock(i * STEP)} and the alert is still firing"
    return None


def fires_only_after_for(scenario: Any, run: SeriesRun) -> str | None:
    samples, states, need = scenario["samples"], run.data, FOR // STEP
    for i in transitions(states):
        if states[i] == "firing" and not sustained_before(samples, i, FIRE, need):
            window = samples[max(0, i - need) : i + 1]
            return (
                f"the alert fires at {clock(i * STEP)} but the last {FOR} s were {window}: "
                f"not all above {FIRE}"
            )
    return None


def resolves_only_below_clear(scenario: Any, run: SeriesRun) -> str | None:
    samples, states = scenario["samples"], run.data
    for i in transitions(states):
        if states[i] != "firing" and samples[i] >= CLEAR:
            return f"the alert resolves at {clock(i * STEP)} on {samples[i]}, not below {CLEAR}: the hysteresis gap is gone"
    return None


def series(*parts: tuple[int, int]) -> dict[str, Any]:
    """A scenario from (value, how many samples) runs."""
    return {"samples": [v for v, n in parts for _ in range(n)]}


class Machine(SeriesMachine):
    system = at.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            series((91, 1), (89, 1), (91, 1)),  # noise across 90, sample by sample
            series((91, 5), (89, 1), (91, 5)),  # a minute just above 90, one dip
            series((70, 2), (95, 6), (70, 2)),  # a sustained breach, then recovery
            series((95, 5), (70, 1), (95, 2)),  # a breach, recovery, at once a second breach
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: racekit.Draw) -> Any:
        samples: list[int] = []
        if draw.boolean():  # segments: levels with noise
            for _ in range(draw.integer(1, 4)):
                level, amp = draw.integer(70, 100), draw.integer(0, 6)
                samples += [level + draw.integer(-amp, amp) for _ in range(draw.integer(1, 12))]
        else:  # noise inside one band narrower than the hysteresis gap
            base = draw.integer(78, 96)
            samples = [base + draw.integer(0, FIRE - CLEAR - 1) for _ in range(draw.integer(2, 40))]
        return {"samples": samples}

    @classmethod
    def evaluate(cls, variant: Variant, scenario: Any) -> SeriesRun:
        samples = [int(v) for v in scenario["samples"]]
        states = at.run_rule(variant.factory(), samples)
        marks, last = [], "ok"
        for i, (v, state) in enumerate(zip(samples, states, strict=True)):
            note = f"above {FIRE}" if v > FIRE else f"below {CLEAR}" if v < CLEAR else ""
            marks.append(SeriesMark(i * STEP, "metric", f"value {v}", note))
            if state != last:
                what = "resolved" if state == "ok" and last == "firing" else state
                marks.append(SeriesMark(i * STEP, "alert", what))
                last = state
        return SeriesRun(marks, states)

    @classmethod
    def properties(cls, variant: Variant) -> list[SeriesProperty]:
        return [
            SeriesProperty("few_transitions", few_transitions),
            SeriesProperty("detects_sustained_breach", detects_sustained_breach, kind="liveness"),
            SeriesProperty("resolves_when_clear", resolves_when_clear, kind="liveness"),
            SeriesProperty("fires_only_after_for", fires_only_after_for),
            SeriesProperty("resolves_only_below_clear", resolves_only_below_clear),
        ]

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        """Shorter series first (a sample dropped, from the end), then calmer values
        (toward 91 above the threshold, 89 between, 79 below the clear line)."""
        samples = list(scenario["samples"])
        for i in range(len(samples) - 1, -1, -1):
            if len(samples) > 1:
                yield {"samples": samples[:i] + samples[i + 1 :]}
        for i, v in enumerate(samples):
            calmer = FIRE + 1 if v > FIRE + 1 else FIRE - 1 if CLEAR <= v < FIRE - 1 else CLEAR - 1 if v < CLEAR - 1 else v
            if calmer != v:
                yield {"samples": samples[:i] + [calmer] + samples[i + 1 :]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["samples"])

    @classmethod
    def clock(cls, t: int) -> str:
        return clock(t)


test_alert_tuning = variant_tests(Machine)


# ---------------------------------------------------------------------------
# Planted bugs in copies of the fixed rule: each must be caught.
class _LateByOneStep(at.HysteresisFor):
    """``>`` where ``>=`` was meant: fires one evaluation after the for-duration."""

    def observe(self, t: int, value: float) -> at.State:
        if self.firing:
            if value < self.clear:
                self.firing, self.active_since = False, None
                return "ok"
            return "firing"
        if value <= self.fire:
            self.active_since = None
            return "ok"
        if self.active_since is None:
            self.active_since = t
        if t - self.active_since > self.for_s:
            self.firing = True
            return "firing"
        return "pending"


class _ResolvesAtTheFireLine(at.HysteresisFor):
    """The clear threshold mixed up with the fire threshold: no hysteresis left."""

    def observe(self, t: int, value: float) -> at.State:
        if self.firing and value <= self.fire:
            self.firing, self.active_since = False, None
            return "ok"
        return super().observe(t, value)


class _PendingSurvivesDips(at.HysteresisFor):
    """A dip does not restart the for-duration: three blips add up to a page."""

    def observe(self, t: int, value: float) -> at.State:
        if not self.firing and value <= self.fire:
            return "ok"
        return super().observe(t, value)


class _DoesNotLatch(at.HysteresisFor):
    """Says firing but never remembers it: the next sample in the gap resolves."""

    def observe(self, t: int, value: float) -> at.State:
        state = super().observe(t, value)
        self.firing = False
        return state


PLANTED = {
    "late_by_one_step": _LateByOneStep,
    "resolves_at_the_fire_line": _ResolvesAtTheFireLine,
    "pending_survives_dips": _PendingSurvivesDips,
    "does_not_latch": _DoesNotLatch,
}


class PlantedMachine(Machine):
    system = System(
        name="alert_tuning",
        summary="planted bugs",
        kind="series",
        variants=[Variant(n, f, expect="correct") for n, f in PLANTED.items()],  # judged by every property
    )


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_planted_bug_is_caught(planted: str) -> None:
    found = racekit.search(PlantedMachine, planted, PROFILES["ci"])
    assert found.failed and found.property in at.SYSTEM.properties, (found.property, found.message)
