"""What an SLO alert promises, as pure functions of the per-minute error counts.

``errors[i]`` is the number of failed requests in minute ``i`` (of a constant
``REQUESTS_PER_MINUTE``), ``pages[i]`` whether the alert pages after it.

* **silent when safe**: a series in which every hour (every 60-minute
  window, the minutes before the series counting as error-free) burns the
  budget no faster than 1x - each hour spends at most its own share - never
  pages: the budget would last the month.
* **pages on significant spend** (precision, the workbook's promise): at
  every page, more than 2 % of the monthly budget was spent in the last
  hour or more than 5 % in the last six;
* **fires before exhaustion**: if the series spends the whole monthly
  budget, the first page comes at a minute when some budget was still left;
* **detects fast burns** (the workbook's page tiers, a bound on detection
  time): a stretch burning faster than 14.4x pages by the minute it has
  spent 2 % of the monthly budget, faster than 6x by 5 % (within 6 hours).
* **resets after recovery**: after ``RESET`` error-free minutes the alert no
  longer pages.
"""

from __future__ import annotations

from collections.abc import Sequence

RESET = 30  # minutes of no errors after which a page must have stopped


def safe(errors: Sequence[int], allowed_per_minute: int, window: int = 60) -> bool:
    """Every ``window``-minute window spends at most ``window x allowed_per_minute`` errors.

    pre: window > 0 and allowed_per_minute > 0
    post: __return__ == all(sum(errors[max(0, i - window + 1):i + 1]) <= window * allowed_per_minute for i in range(len(errors)))
    """
    limit, total = window * allowed_per_minute, 0
    for i, e in enumerate(errors):
        total += e
        if i >= window:
            total -= errors[i - window]
        if total > limit:
            return False
    return True


def exhaustion_minute(errors: Sequence[int], budget: int) -> int | None:
    """The first minute after which the whole budget is spent, if any.

    pre: budget > 0
    post: __return__ is None or sum(errors[:__return__ + 1]) >= budget > sum(errors[:__return__])
    """
    spent = 0
    for i, e in enumerate(errors):
        spent += e
        if spent >= budget:
            return i
    return None


def first_page(pages: Sequence[bool]) -> int | None:
    """post: __return__ is None or (pages[__return__] and not any(pages[:__return__]))"""
    return next((i for i, p in enumerate(pages) if p), None)


def recoveries(errors: Sequence[int], quiet: int) -> list[int]:
    """Minutes ending ``quiet`` consecutive error-free minutes (each such minute after the first)."""
    out, run = [], 0
    for i, e in enumerate(errors):
        run = run + 1 if e == 0 else 0
        if run >= quiet:
            out.append(i)
    return out


def spent_in(errors: Sequence[int], minute: int, window: int) -> int:
    """Errors in the ``window`` minutes ending with ``minute`` (inclusive).

    pre: 0 <= minute < len(errors) and window > 0
    post: __return__ == sum(errors[max(0, minute - window + 1):minute + 1])
    """
    return sum(errors[max(0, minute - window + 1) : minute + 1])
