"""What a bulkhead promises, as checks of one run's record.

No linearizable object: a bulkhead's contract is about time and capacity.
The record of a run is the calls the dependencies saw (``start``/``end``
events in execution order, virtual seconds) and what each caller got back
and when.  A dependency is *healthy* when it answers within the call
timeout; its load is *within its share* when no more callers use it at once
than its limit (each caller is sequential, so: at most ``limit`` callers).

* ``healthy_within_bound`` (the bulkhead's point, a latency bound): a
  request to a healthy dependency within its share is served - not
  rejected, not timed out - within that dependency's own latency, whatever
  the other dependencies do;
* ``answer_within_timeout`` (a liveness bound for every caller): every
  request is answered - a value, ``Rejected`` or a timeout - within the
  call timeout of being issued; a full compartment refuses, it does not park
  its callers;
* ``limit_respected`` (safety): a dependency never has more than its limit
  of calls in flight;
* ``no_needless_rejection`` (the other side of the limit): a request is
  rejected only while its dependency has ``limit`` calls in flight - a
  bulkhead that refuses too early is as wrong as one that never refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Dependency:
    """One dependency of a scenario: answers after ``latency`` virtual seconds; ``limit`` calls at once."""

    name: str
    latency: float
    limit: int


@dataclass(frozen=True)
class Answer:
    """What one request got: ``outcome`` is ok, rejected, timeout or error (with ``detail``)."""

    client: str
    dependency: str
    issued: float
    answered: float | None
    outcome: str
    detail: str = ""


Event = tuple[str, str, float]
"""(what, dependency, virtual time): ``start``/``end`` of a call, ``rejected``, in execution order."""


def guaranteed(deps: Sequence[Dependency], clients_of: Mapping[str, int], timeout: float) -> set[str]:
    """Dependencies whose requests the bulkhead must serve within their latency."""
    return {d.name for d in deps if d.latency < timeout and clients_of.get(d.name, 0) <= d.limit}


def healthy_within_bound(
    answers: Sequence[Answer], deps: Sequence[Dependency], clients_of: Mapping[str, int], timeout: float
) -> str | None:
    latency = {d.name: d.latency for d in deps}
    for name in sorted(guaranteed(deps, clients_of, timeout)):
        for a in answers:
            if a.dependency != name:
                continue
            if a.answered is None:
                return f"{a.client}'s request to the healthy {name} at t={a.issued:g}s never got an answer"
            took = a.answered - a.issued
            if a.outcome != "ok":
                return (f"{a.client}'s request to the healthy {name} at t={a.issued:g}s got {a.outcome} "
                        f"{a.detail}".rstrip() + f" at t={a.answered:g}s")
            if took > latency[name] + 1e-9:
                return (f"{a.client}'s request to the healthy {name} (answers in {latency[name]:g}s) "
                        f"took {took:g}s: issued at t={a.issued:g}s, served at t={a.answered:g}s")
    return None


def answer_within_timeout(answers: Sequence[Answer], timeout: float) -> str | None:
    for a in answers:
        if a.answered is None:
            return f"{a.client}'s request to {a.dependency} at t={a.issued:g}s never got an answer"
        if a.answered - a.issued > timeout + 1e-9:
            return (f"{a.client}'s request to {a.dependency} at t={a.issued:g}s was answered ({a.outcome}) "
                    f"at t={a.answered:g}s, {a.answered - a.issued:g}s later; the call timeout is {timeout:g}s")
    return None


def _in_flight(events: Sequence[Event]) -> list[tuple[Event, dict[str, int]]]:
    """Each event with the calls in flight per dependency just before it."""
    running: dict[str, int] = {}
    out = []
    for event in events:
        out.append((event, dict(running)))
        what, name, _ = event
        if what == "start":
            running[name] = running.get(name, 0) + 1
        elif what == "end":
            running[name] = running.get(name, 0) - 1
    return out


def limit_respected(events: Sequence[Event], deps: Sequence[Dependency]) -> str | None:
    limit = {d.name: d.limit for d in deps}
    for (what, name, t), running in _in_flight(events):
        if what == "start" and running.get(name, 0) + 1 > limit[name]:
            return f"{running.get(name, 0) + 1} calls to {name} in flight at t={t:g}s; its limit is {limit[name]}"
    return None


def no_needless_rejection(events: Sequence[Event], deps: Sequence[Dependency]) -> str | None:
    """Judged on virtual time, not on execution order: a call that ends at the
    very instant of a rejection still counts, because the slot comes back only
    after the bulkhead itself has seen the call end - a step later, same instant."""
    limit = {d.name: d.limit for d in deps}
    calls: list[tuple[str, float, float]] = []
    open_: dict[str, list[float]] = {}
    for what, name, t in events:
        if what == "start":
            open_.setdefault(name, []).append(t)
        elif what == "end":
            calls.append((name, open_[name].pop(0), t))
    for name, starts in open_.items():
        calls += [(name, s, float("inf")) for s in starts]
    for what, name, t in events:
        if what == "rejected":
            busy = sum(1 for n, s, e in calls if n == name and s <= t <= e)
            if busy < limit[name]:
                return f"a request to {name} was rejected at t={t:g}s with {busy} of {limit[name]} calls in flight"
    return None
