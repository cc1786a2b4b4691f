"""What a chain of services owes a caller with a deadline, checked on the trace of one run.

The trace: every piece of hop work (:class:`Work`: which hop, which
request, when it began and when it ended - finished or cancelled), every
hop's handling of a request (:class:`Span`), and what each caller got
(:class:`Answer`: when, what, or that it hung up first).  A caller *left*
at its deadline, or when it hung up if that came first.

* ``answer_by_deadline`` (liveness, a bound): a caller that waits gets an
  answer - the result or ``DeadlineExceeded`` - at or before its deadline;
* ``no_work_past_deadline`` (safety): no hop begins work at or after its
  deadline, or after its caller hung up, and no work runs past the moment
  the caller left;
* ``hops_end_with_caller`` (safety): no hop is still handling a request
  after its caller left - waiting on a callee that will never be needed is
  a task, a socket and memory spent for nobody;
* ``answers_complete`` (safety): an ok answer is the whole chain's - a hop
  that answers without asking the one below is not serving the request;
* ``served_when_it_fits`` (liveness, the other side): a caller that waits
  and whose chain's work fits in its budget gets the result, not
  ``DeadlineExceeded`` - giving up early is not a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Work:
    hop: str
    request: str
    start: float
    end: float


@dataclass(frozen=True)
class Span:
    hop: str
    request: str
    start: float
    end: float


@dataclass(frozen=True)
class Answer:
    request: str
    issued: float
    deadline: float
    hangup: float | None  # when the caller hung up, if it did before an answer
    at: float | None  # when the answer came (None: the caller hung up first)
    outcome: str  # "ok", "deadline", "hung up"
    work_needed: float  # the chain's total work for this request
    value: str = ""  # the answer itself, when ok

    @property
    def left(self) -> float:
        """When the caller stopped waiting for anything."""
        return min(self.deadline, self.hangup) if self.hangup is not None else self.deadline


def answer_by_deadline(answers: Sequence[Answer]) -> str | None:
    for a in answers:
        if a.outcome == "hung up":
            continue
        if a.at is None or a.at > a.deadline:
            return (f"request {a.request} (issued at t={a.issued:g}s, deadline t={a.deadline:g}s) was answered "
                    f"({a.outcome}) at t={a.at:g}s, after its deadline")
    return None


def no_work_past_deadline(work: Sequence[Work], answers: Sequence[Answer]) -> str | None:
    left = {a.request: a for a in answers}
    for w in work:
        a = left[w.request]
        hung_up = a.hangup is not None and a.hangup < a.deadline
        why = "hung up" if hung_up else "its deadline passed"
        # a deadline is known to every hop: none may begin work at it; a hang-up reaches the hops
        # through cancellation, which takes steps but no time - work begun in that very instant
        # must end in it
        if w.start > a.left or (w.start == a.left and not hung_up):
            return f"{w.hop} began work on request {w.request} at t={w.start:g}s; its caller left at t={a.left:g}s ({why})"
        if w.end > a.left:
            until = "when the run ended" if w.end == float("inf") else f"until t={w.end:g}s"
            return f"{w.hop} was working on request {w.request} {until}; its caller left at t={a.left:g}s ({why})"
    return None


def hops_end_with_caller(spans: Sequence[Span], answers: Sequence[Answer]) -> str | None:
    left = {a.request: a.left for a in answers}
    for s in spans:
        if s.end > left[s.request]:
            until = "when the run ended" if s.end == float("inf") else f"at t={s.end:g}s"
            return (f"{s.hop} was still handling request {s.request} {until}; its caller left at "
                    f"t={left[s.request]:g}s")
    return None


def answers_complete(answers: Sequence[Answer], chain: Sequence[str]) -> str | None:
    whole = ">".join(chain)
    for a in answers:
        if a.outcome == "ok" and a.value != whole:
            return f"request {a.request} was answered {a.value!r} at t={a.at:g}s; the whole chain answers {whole!r}"
    return None


def served_when_it_fits(answers: Sequence[Answer]) -> str | None:
    for a in answers:
        if a.hangup is None and a.work_needed < a.deadline - a.issued and a.outcome != "ok":
            return (f"request {a.request} needs {a.work_needed:g}s of work and had {a.deadline - a.issued:g}s, "
                    f"yet its caller got {a.outcome} at t={a.at:g}s")
    return None
