"""What a degrading service owes its callers, checked on the trace of one run.

The trace: each dependency call (:class:`Call`: which request made it,
when it began, how it ended - the value and version it returned, an error,
or cancelled) and each request's answer (:class:`Served`).  Data versions
come from the dependency: a larger version is newer data.

* ``answers_within_sla`` (liveness, a bound): every request is answered -
  not an exception - within ``sla`` of being issued;
* ``degraded_marked`` (safety): an answer not marked degraded is exactly
  what the dependency returned to this request's own call;
* ``fallback_newest`` (safety): a degraded answer is the default only if
  the service had never answered that key fresh before, and otherwise is
  data the dependency really produced for the key, at least as new as
  every fresh answer already given for it - a fallback never goes back in
  time behind what callers were told;
* ``fresh_when_healthy`` (liveness, the other side): a request whose own
  dependency call answers within the SLA gets that answer, not a degraded
  one - degrading everything is not a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Call:
    request: str
    key: str
    start: float
    end: float | None  # None: never ended (cancelled by teardown)
    outcome: str  # "ok", "error", "cancelled", "open"
    value: str = ""
    version: int = -1


@dataclass(frozen=True)
class Served:
    request: str
    key: str
    issued: float
    at: float
    error: str  # "" if answered
    value: str = ""
    version: int = -1
    degraded: bool = False


def value_of(key: str, version: int) -> str:
    """The dependency's data for ``key`` at ``version``: what a fallback's value must match."""
    return f"{key}@v{version}"


def answers_within_sla(served: Sequence[Served], sla: float) -> str | None:
    for s in served:
        if s.error:
            return f"request {s.request} for {s.key} (t={s.issued:g}s) got an error at t={s.at:g}s: {s.error}"
        if s.at > round(s.issued + sla, 9):  # times are logged to the nanosecond
            return (f"request {s.request} for {s.key} issued at t={s.issued:g}s was answered at t={s.at:g}s; "
                    f"the SLA is {sla:g}s")
    return None


def degraded_marked(served: Sequence[Served], calls: Sequence[Call]) -> str | None:
    own = {c.request: c for c in calls}
    for s in served:
        if s.error or s.degraded:
            continue
        c = own.get(s.request)
        if c is None or c.outcome != "ok" or (c.value, c.version) != (s.value, s.version):
            got = "made no call" if c is None else f"its call ended {c.outcome}" if c.outcome != "ok" else (
                f"its call returned {c.value!r}")
            return (f"request {s.request} was answered {s.value!r} (version {s.version}) at t={s.at:g}s unmarked, "
                    f"but {got}: a fallback served as fresh")
    return None


def fallback_newest(served: Sequence[Served], default: str) -> str | None:
    newest: dict[str, int] = {}
    for s in sorted(served, key=lambda s: s.at):  # stable: answers at one instant keep their order
        if s.error:
            continue
        if not s.degraded:
            newest[s.key] = max(newest.get(s.key, -1), s.version)
            continue
        if s.version < 0:
            if s.value != default:
                return f"request {s.request} got {s.value!r} as the default; the default is {default!r}"
        elif s.value != value_of(s.key, s.version):
            return f"request {s.request} got {s.value!r} marked as version {s.version} of {s.key}: never produced"
        if s.version < newest.get(s.key, -1):
            return (f"request {s.request} for {s.key} got a fallback of version {s.version} at t={s.at:g}s; "
                    f"callers were already told version {newest[s.key]}")
    return None


def fresh_when_healthy(served: Sequence[Served], calls: Sequence[Call], sla: float) -> str | None:
    own = {c.request: c for c in calls}
    for s in served:
        c = own.get(s.request)
        if c is not None and c.outcome == "ok" and c.end is not None and c.end < round(s.issued + sla, 9) and (
                s.error or s.degraded):
            return (f"request {s.request}'s call answered {c.value!r} at t={c.end:g}s, within the SLA, yet the "
                    f"caller got {'an error' if s.error else 'a degraded ' + repr(s.value)}")
    return None
