"""Detection time of each SLO alert against the burn rate, and what it costs.

For constant burn rates from 1x to 1000x starting after a healthy history
(evaluated every minute for up to 3 days): when each alert first pages,
how much of the monthly budget is gone by then, and that time as a fraction
of the time to exhaustion (the baseline, computed in the same run: 30 days /
burn rate).  Then two shapes that are not constant: a 5-minute burst at 20x
(0.23 % of the budget: nobody should be woken) and the reset time after an
hour of total outage.

    .venv/bin/python benchmarks/slo_breach.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from systems import slo_breach as sb  # noqa: E402

HORIZON = 3 * 24 * 60
BURNS = (1, 2, 6, 10, 14.4, 20, 36, 100, 360, 1000)
VARIANTS = [v.name for v in sb.SYSTEM.variants]


def hm(minutes: float) -> str:
    if minutes >= 24 * 60:
        return f"{minutes / 1440:.1f} d"
    return f"{int(minutes) // 60}:{int(minutes) % 60:02d}"


def first_page(name: str, errors: list[int]) -> int | None:
    alert = sb.SYSTEM.variant(name).factory()
    for minute, e in enumerate(errors):
        if alert.observe(e):
            return minute + 1  # pages at the end of this minute
    return None


def detection_table() -> None:
    print("detection: constant burn rate from 0:00; page time, budget spent by then, fraction of the time to exhaustion")
    print(f"{'burn':>6} {'exhausted':>10} " + " ".join(f"{n:>30}" for n in VARIANTS))
    for b in BURNS:
        per_minute = round(sb.ALLOWED_PER_MINUTE * b)
        exhausted = sb.BUDGET / per_minute
        errors = [per_minute] * min(HORIZON, int(exhausted) + 61)
        cells = []
        for name in VARIANTS:
            page = first_page(name, errors)
            if page is None:
                cells.append(f"no page in {hm(len(errors))}")
            else:
                spent = page * per_minute / sb.BUDGET
                cells.append(f"{hm(page)} {spent:7.2%} x{page / exhausted:.3f}")
        print(f"{b:>5g}x {hm(exhausted):>10} " + " ".join(f"{c:>30}" for c in cells))


def burst_and_reset() -> None:
    burst = [0] * 60 + [20 * sb.ALLOWED_PER_MINUTE] * 5 + [0] * 60
    outage = [0] * 60 + [1000 * sb.ALLOWED_PER_MINUTE] * 60 + [0] * 8 * 60
    print(f"\n5-minute burst at 20x ({5 * 20 * sb.ALLOWED_PER_MINUTE / sb.BUDGET:.2%} of the budget), "
          "and the time from the end of a 1-hour total outage until the page stops")
    for name in VARIANTS:
        paged = first_page(name, burst) is not None
        alert = sb.SYSTEM.variant(name).factory()
        pages = sb.run_alert(alert, outage)
        last = max((i for i, p in enumerate(pages) if p), default=None)
        reset = "never paged" if last is None else f"{last + 1 - 120} min"
        print(f"  {name:<14} burst pages: {'yes' if paged else 'no':<4} reset after the outage: {reset}")


if __name__ == "__main__":
    detection_table()
    burst_and_reset()
