"""What leader election with leases and fencing promises, as checks.

* ``no_stale_write``   - the resource's accepted writes carry non-decreasing
  fencing tokens: once a newer leader has written, no older one does
  ("one leader acts per epoch").
* ``single_leader``    - at no instant do two live nodes believe they lead
  (each belief evaluated with that node's own clock, as it would itself).
* ``failover``         - once the lease has expired, a new holder is granted
  within ``bound_ms`` (checked while only crashes and clock faults happen:
  a partition or pause may legitimately delay it).
* ``task_at_most_once`` - at most one accepted result per period.  At-least-
  once is *not* promised: a period during a failover is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable


def stale_write(accepted: Iterable[tuple[int, int, str]]) -> str | None:
    """``accepted`` = (token, period, writer) in acceptance order."""
    highest, by = 0, ""
    for token, period, writer in accepted:
        if token < highest:
            return f"resource accepted {writer}'s write for period {period} with token {token} after token {highest} from {by}"
        if token > highest:
            highest, by = token, writer
    return None


def two_leaders(believers: list[str]) -> str | None:
    if len(believers) > 1:
        return f"{' and '.join(believers)} both believe they lead"
    return None


def duplicate_period(accepted: Iterable[tuple[int, int, str]]) -> str | None:
    seen: dict[int, str] = {}
    for _, period, writer in accepted:
        if period in seen:
            return f"period {period} done twice: by {seen[period]} and {writer}"
        seen[period] = writer
    return None
