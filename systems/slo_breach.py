"""SLO breach alerting (seed exercise 35): page before the error budget is gone, not before.

A service with a 99.9 % availability SLO over 30 days serves a constant
100,000 requests a minute, so its error budget is 0.1 % of 4.32 billion
requests: 4,320,000 failed requests.  The *burn rate* is how fast that
budget goes: 1x spends exactly the budget in 30 days (100 errors a
minute), 1000x is a total outage (the budget is gone in 43 minutes).

An alert is evaluated once a minute over the per-minute error counts; the
minutes before the series are healthy (no errors).  Variants, after the
alerting chapter of the Google SRE Workbook ("Alerting on SLOs"):

* ``threshold_10m`` - page when the error ratio over the last 10 minutes
  reaches the SLO's 0.1 % (the workbook's first attempt): every short burst
  pages, including ones that spend a negligible part of the budget - noisy.
* ``for_1h`` - page when the last minute's error ratio has been above
  0.1 % for an hour (``for: 1h``, the workbook's "incrementing alert
  duration"): a total outage pages after 60 minutes, 17 minutes after the
  whole month's budget is gone - late.
* ``multiwindow`` (fixed) - multi-window, multi-burn-rate: page when the
  burn rate over 1 h *and* over 5 min exceeds 14.4 (2 % of the budget in
  an hour), or over 6 h *and* 30 min exceeds 6 (5 % in six hours).  The
  long window gives precision, the short one a quick reset.
"""

from __future__ import annotations

from fractions import Fraction

from racekit import System, Variant

REQUESTS_PER_MINUTE = 100_000
SLO = Fraction(999, 1000)
PERIOD_MINUTES = 30 * 24 * 60
ALLOWED_PER_MINUTE = int(REQUESTS_PER_MINUTE * (1 - SLO))  # errors a minute at burn rate 1: 100
BUDGET = ALLOWED_PER_MINUTE * PERIOD_MINUTES  # 4,320,000 failed requests a month


class Windows:
    """Error counts over the last N minutes, from running totals (zeros before the series)."""

    def __init__(self) -> None:
        self.totals = [0]  # totals[i]: errors in the first i minutes

    def push(self, errors: int) -> None:
        self.totals.append(self.totals[-1] + errors)

    def errors(self, window: int) -> int:
        return self.totals[-1] - self.totals[max(0, len(self.totals) - 1 - window)]

    def burns_faster(self, window: int, burn: Fraction) -> bool:
        """Is the burn rate over the last ``window`` minutes above ``burn``?  (exact arithmetic)"""
        return self.errors(window) > burn * ALLOWED_PER_MINUTE * window


class Threshold10m:
    """Page while the 10-minute error ratio is at or above the SLO's 0.1 %."""

    def __init__(self) -> None:
        self.windows = Windows()

    def observe(self, errors: int) -> bool:
        self.windows.push(errors)
        return self.windows.errors(10) >= ALLOWED_PER_MINUTE * 10


class For1h:
    """Page when every minute of the last hour had an error ratio above 0.1 %."""

    FOR_MINUTES = 60

    def __init__(self) -> None:
        self.bad_minutes = 0

    def observe(self, errors: int) -> bool:
        self.bad_minutes = self.bad_minutes + 1 if errors > ALLOWED_PER_MINUTE else 0
        return self.bad_minutes >= self.FOR_MINUTES


class MultiWindow:
    """The SRE Workbook's page conditions: (long window, short window, burn rate)."""

    RULES: tuple[tuple[int, int, Fraction], ...] = (
        (60, 5, Fraction(144, 10)),  # 2 % of the budget in 1 h
        (360, 30, Fraction(6)),  # 5 % of the budget in 6 h
    )

    def __init__(self) -> None:
        self.windows = Windows()

    def observe(self, errors: int) -> bool:
        self.windows.push(errors)
        return any(
            self.windows.burns_faster(long, burn) and self.windows.burns_faster(short, burn)
            for long, short, burn in self.RULES
        )


def run_alert(alert: Threshold10m | For1h | MultiWindow, errors: list[int]) -> list[bool]:
    """Paging or not, after each minute of ``errors`` (errors per minute)."""
    return [alert.observe(e) for e in errors]


SYSTEM = System(
    name="slo_breach",
    summary="Alerting on a 99.9 % SLO: a 10-minute threshold, a one-hour for-duration, multi-window burn rates",
    kind="series",
    properties=(
        "silent_when_safe",
        "pages_on_significant_spend",
        "fires_before_exhaustion",
        "detects_fast_burn",
        "resets_after_recovery",
    ),
    variants=[
        Variant(
            "threshold_10m",
            Threshold10m,
            expect="violation",
            property="silent_when_safe",
            bug="pages when 10 minutes reach the SLO's error ratio: a burst that spends a sliver of the budget pages",
        ),
        Variant(
            "for_1h",
            For1h,
            expect="violation",
            property="fires_before_exhaustion",
            bug="for: 1h on the error ratio: a total outage pages after an hour, when the month's budget ran out at 43 minutes",
        ),
        Variant("multiwindow", MultiWindow, expect="correct"),
    ],
)
