"""What a fan-out request promises, as checks of one run's record.

There is no linearizable object here: the request is a function of what
each downstream did and when.  The sequential model is :func:`expected`:
given each downstream's outcome (a value, a failure) and the instant it
answered, the ideal answer holds every value that arrived strictly before
the deadline and lists every other downstream as missing; a value that
arrives exactly at the deadline may be on either side (the deadline timer
and the reply are ready at the same instant, and the explorer tries both
orders).  The three properties:

* ``answer_by_deadline`` (a liveness bound): an answer - not an error -
  reaches the caller no later than the deadline, in virtual time;
* ``every_downstream_accounted`` (safety): every downstream is in the
  results (with its own value) or in the missing list, never both, and
  nothing that answered in time is dropped - so an implementation that
  answers "everything missing" is not correct;
* ``no_call_left_running`` (resources): once the answer is sent and the
  instant settles, no downstream call is still running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Downstream:
    """One downstream of a scenario: answers ``name.upper()`` after ``latency`` s, or fails."""

    name: str
    latency: float
    fails: bool = False

    @property
    def value(self) -> str:
        return self.name.upper()


def expected(downstreams: Sequence[Downstream], deadline: float) -> tuple[set[str], set[str], set[str]]:
    """(must be in the results, must be missing, either): the sequential model."""
    must, missing, either = set(), set(), set()
    for d in downstreams:
        if d.fails or d.latency > deadline:
            missing.add(d.name)
        elif d.latency < deadline:
            must.add(d.name)
        else:
            either.add(d.name)
    return must, missing, either


def answer_by_deadline(answer: Any, error: str | None, answered_at: float | None, deadline: float) -> str | None:
    if answered_at is None:
        return "the caller never got a response"
    if answer is None:
        return f"the caller got an error instead of an answer at t={answered_at:g}s: {error}"
    if answered_at > deadline:
        return f"the answer came at t={answered_at:g}s, after the {deadline:g}s deadline"
    return None


def accounted(
    results: Mapping[str, Any] | None,
    missing: Sequence[str] | None,
    downstreams: Sequence[Downstream],
    deadline: float,
    error: str | None = None,
) -> str | None:
    names = {d.name for d in downstreams}
    if results is None or missing is None:
        must, _, _ = expected(downstreams, deadline)
        text = f"no answer at all ({error}): none of {', '.join(sorted(names))} is in the results or listed missing"
        return text + (f"; {', '.join(sorted(must))} had answered in time" if must else "")
    both = set(results) & set(missing)
    if both:
        return f"{', '.join(sorted(both))} both in the results and listed missing"
    unaccounted = names - set(results) - set(missing)
    if unaccounted:
        return f"{', '.join(sorted(unaccounted))} neither in the results nor listed missing"
    for d in downstreams:
        if d.name in results and results[d.name] != d.value:
            return f"{d.name} is in the results with {results[d.name]!r}, but it answered {d.value!r}"
    must, must_miss, _ = expected(downstreams, deadline)
    dropped = must - set(results)
    if dropped:
        return f"{', '.join(sorted(dropped))} answered before the deadline but {'is' if len(dropped) == 1 else 'are'} listed missing"
    invented = must_miss & set(results)
    if invented:
        return f"{', '.join(sorted(invented))} failed or answered late, yet {'is' if len(invented) == 1 else 'are'} in the results"
    return None


def left_running(running: Sequence[str], answered_at: float | None, where: Mapping[str, str] | None = None) -> str | None:
    if not running:
        return None
    at = f"t={answered_at:g}s" if answered_at is not None else "the end"
    detail = "; ".join(f"{n}: {where[n]}" for n in running if where and n in where)
    return f"still running after the answer at {at}: {', '.join(running)}" + (f" ({detail})" if detail else "")
