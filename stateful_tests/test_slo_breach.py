"""The SLO alerts over generated error series: the scenario is the series.

A scenario is a list of segments ``[minutes, errors per minute]`` (of
100,000 requests a minute), up to 12 hours.  Engine: ``racekit.SeriesMachine``
(see docs/systems/alert_tuning.md for why a pure function of its input
series is not run on the simulator).  Properties (specs/slo_breach.py):
``silent_when_safe``, ``pages_on_significant_spend`` (a page means more
than 2 % of the monthly budget went in the last hour or 5 % in the last 6),
``fires_before_exhaustion``, ``detects_fast_burn``
(the workbook's tiers: faster than 14.4x pages by 2 % of the monthly budget
spent, faster than 6x by 5 %), ``resets_after_recovery``.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
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
from specs.slo_breach import RESET, exhaustion_minute, first_page, recoveries, safe, spent_in
from systems import slo_breach as sb
from systems.slo_breach import ALLOWED_PER_MINUTE, BUDGET

# errors per minute a segment may have: burn rates 0, 0.5x, 1x, 2x, 6x, 10x, 14.4x, 20x, 36x, 100x, 360x, 1000x
LEVELS = (0, 50, 100, 200, 600, 1000, 1440, 2000, 3600, 10_000, 36_000, 100_000)
MAX_MINUTES = 12 * 60
# a page means: more than 2 % of the monthly budget spent in the last hour, or more than 5 % in the last 6
SIGNIFICANT = ((60, Fraction(2, 100)), (360, Fraction(5, 100)))
# the workbook's page tiers: faster than 14.4x pages by 2 % of the budget spent, faster than 6x by 5 %
FAST_BURNS = ((int(ALLOWED_PER_MINUTE * 14.4), Fraction(2, 100)), (ALLOWED_PER_MINUTE * 6, Fraction(5, 100)))


def clock(minute: int) -> str:
    return f"{minute // 60}:{minute % 60:02d}"


def expand(scenario: Any) -> list[int]:
    return [int(e) for minutes, e in scenario["segments"] for _ in range(int(minutes))]


def burn(errors_per_minute: float) -> str:
    return f"{errors_per_minute / ALLOWED_PER_MINUTE:g}x"


def silent_when_safe(scenario: Any, run: SeriesRun) -> str | None:
    errors, pages = run.data
    if not safe(errors, ALLOWED_PER_MINUTE):
        return None
    page = first_page(pages)
    if page is None:
        return None
    spent = sum(errors[: page + 1])
    return (
        f"no hour burns faster than 1x (the budget would last the month), yet the alert pages at "
        f"{clock(page + 1)}, with {spent / BUDGET:.3%} of the monthly budget spent"
    )


def pages_on_significant_spend(scenario: Any, run: SeriesRun) -> str | None:
    errors, pages = run.data
    for minute, page in enumerate(pages):
        if page and not any(spent_in(errors, minute, window) > BUDGET * share for window, share in SIGNIFICANT):
            return (
                f"the alert pages at {clock(minute + 1)} with {spent_in(errors, minute, 60) / BUDGET:.2%} of the "
                f"monthly budget spent in the last hour and {spent_in(errors, minute, 360) / BUDGET:.2%} in the last 6"
            )
    return None


def fires_before_exhaustion(scenario: Any, run: SeriesRun) -> str | None:
    errors, pages = run.data
    gone = exhaustion_minute(errors, BUDGET)
    if gone is None:
        return None
    page = first_page(pages)
    if page is not None and page < gone:
        return None
    when = "has not paged by then" if page is None else f"pages only at {clock(page + 1)}"
    return f"the monthly error budget is gone at {clock(gone + 1)} and the alert {when}"


def detects_fast_burn(scenario: Any, run: SeriesRun) -> str | None:
    errors, pages = run.data
    start = 0
    for minutes, e in scenario["segments"]:
        for over, share in FAST_BURNS:
            if e > over:
                need = int(BUDGET * share) // e + 1  # minutes until this segment alone has spent the share
                if need <= minutes and not any(pages[start : start + need]):
                    return (
                        f"{burn(e)} from {clock(start)}: {float(share):.0%} of the monthly budget spent by "
                        f"{clock(start + need)} and no page"
                    )
        start += int(minutes)
    return None


def resets_after_recovery(scenario: Any, run: SeriesRun) -> str | None:
    errors, pages = run.data
    for minute in recoveries(errors, RESET):
        if pages[minute]:
            return f"{RESET} minutes without an error by {clock(minute + 1)} and the alert still pages"
    return None


class Machine(SeriesMachine):
    system = sb.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            {"segments": [[50, 0], [5, 200]]},  # a 5-minute burst at 2x: 0.02 % of the budget
            {"segments": [[10, 0], [60, 100_000], [40, 0]]},  # an hour of total outage, then recovery
            {"segments": [[30, 0], [240, 1_440]]},  # four hours at 14.4x
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: racekit.Draw) -> Any:
        segments, left = [], MAX_MINUTES
        for _ in range(draw.integer(1, 4)):
            minutes = draw.integer(1, min(180, left))
            segments.append([minutes, draw.pick(LEVELS)])
            left -= minutes
            if left <= 0:
                break
        return {"segments": segments}

    @classmethod
    def evaluate(cls, variant: Variant, scenario: Any) -> SeriesRun:
        errors = expand(scenario)
        pages = sb.run_alert(variant.factory(), errors)
        marks: list[SeriesMark] = []
        start = 0
        for minutes, e in scenario["segments"]:
            marks.append(SeriesMark(start, "errors", f"{e}/min ({burn(e)}) for {minutes} min"))
            start += int(minutes)
        paging, spent, told = False, 0, 0
        for i, (e, page) in enumerate(zip(errors, pages, strict=True)):
            spent += e
            while told < 4 and spent >= BUDGET * (told + 1) // 4:
                told += 1
                marks.append(SeriesMark(i + 1, "budget", f"{told * 25} % spent" if told < 4 else "exhausted"))
            if page != paging:
                marks.append(SeriesMark(i + 1, "alert", "page" if page else "resolved"))
                paging = page
        marks.sort(key=lambda m: m.t)  # stable: segment, then budget, then alert at one minute
        return SeriesRun(marks, (errors, pages))

    @classmethod
    def properties(cls, variant: Variant) -> list[SeriesProperty]:
        return [
            SeriesProperty("silent_when_safe", silent_when_safe),
            SeriesProperty("pages_on_significant_spend", pages_on_significant_spend),
            SeriesProperty("fires_before_exhaustion", fires_before_exhaustion, kind="liveness"),
            SeriesProperty("detects_fast_burn", detects_fast_burn, kind="liveness"),
            SeriesProperty("resets_after_recovery", resets_after_recovery, kind="liveness"),
        ]

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        """Fewer segments, shorter ones, then fewer errors in one."""
        segs = [list(s) for s in scenario["segments"]]
        for i in range(len(segs)):
            if len(segs) > 1:
                yield {"segments": segs[:i] + segs[i + 1 :]}
        for i, (minutes, e) in enumerate(segs):
            for shorter in (minutes // 2, minutes - 1):
                if 0 < shorter < minutes:
                    yield {"segments": segs[:i] + [[shorter, e]] + segs[i + 1 :]}
            lower = max((lv for lv in LEVELS if lv < e), default=None)
            if lower is not None:
                yield {"segments": segs[:i] + [[minutes, lower]] + segs[i + 1 :]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["segments"])

    @classmethod
    def clock(cls, t: int) -> str:
        return clock(t)


test_slo_breach = variant_tests(Machine)


# ---------------------------------------------------------------------------
# Planted bugs in copies of the fixed alert: each must be caught.
class _LongWindowsOnly(sb.MultiWindow):
    """The short windows dropped 'as redundant': the alert keeps paging for hours after a fix."""

    RULES = ((60, 60, Fraction(144, 10)), (360, 360, Fraction(6)))


class _BothTiersRequired(sb.MultiWindow):
    """``all`` where ``any`` was meant: a fast burn waits for the slow tier too."""

    def observe(self, errors: int) -> bool:
        self.windows.push(errors)
        return all(
            self.windows.burns_faster(long, burn) and self.windows.burns_faster(short, burn)
            for long, short, burn in self.RULES
        )


class _DecimalSlip(sb.MultiWindow):
    """14.4 typed as 144."""

    RULES = ((60, 5, Fraction(144)), (360, 30, Fraction(6)))


class _ShortWindowTooShort(sb.MultiWindow):
    """The page tier's short window of 5 minutes read as 5 - but its long one as 5 too."""

    RULES = ((5, 5, Fraction(144, 10)), (360, 30, Fraction(6)))


PLANTED = {
    "long_windows_only": _LongWindowsOnly,
    "both_tiers_required": _BothTiersRequired,
    "decimal_slip": _DecimalSlip,
    "short_window_too_short": _ShortWindowTooShort,
}


class PlantedMachine(Machine):
    system = System(
        name="slo_breach",
        summary="planted bugs",
        kind="series",
        variants=[Variant(n, f, expect="correct") for n, f in PLANTED.items()],  # judged by every property
    )


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_planted_bug_is_caught(planted: str) -> None:
    found = racekit.search(PlantedMachine, planted, PROFILES["ci"])
    assert found.failed and found.property in sb.SYSTEM.properties, (found.property, found.message)
