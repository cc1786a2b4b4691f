"""What a client/server pair must do about overload, checked on the record of one run.

The record is what the wire and the clients saw: every attempt sent
(:class:`Sent`), every attempt a worker began serving (:class:`Served`),
every request's end (:class:`Outcome`).  The trigger - a burst of extra
requests, or a stretch where the server is slow - is over at ``calm``.

* ``recovers_after_spike`` (liveness, a bound): every request issued at or
  after ``calm + bound`` succeeds.  The bound for the fixed variant: the
  shed queue holds at most ``queue_limit`` attempts, each either served or
  dropped within one ``timeout`` of being sent, so one timeout after the
  trigger nothing from the overload is left; retries still pending then
  wait at most the sum of the backoff caps and are limited by the budget
  - ``bound = 2 x timeout + sum of backoffs`` leaves room for both.  A
  metastable system never meets it, whatever the bound: its queue is still
  growing at the end of the run.
* ``retries_within_budget`` (safety): per client, retries sent so far never
  exceed ``budget_burst + budget_ratio x first attempts so far``.
* ``no_work_past_deadline`` (safety): no worker begins serving an attempt
  at or after its deadline - work nobody waits for is what turns an
  overload into a sustained one.
* ``budget_followed`` (safety and progress, a model of the client): the
  retry budget replayed from the record - a first attempt earns
  ``budget_ratio`` (up to ``budget_burst``), a retry decision spends one
  token if there is one - must agree with every decision the client made
  (a retry refused with a token in the bucket is as wrong as one granted
  without), and a request may fail only after ``retries + 1`` attempts or a
  refused retry;
* ``attempts_well_formed`` (safety): a client's requests have distinct
  numbers and each request's attempts are numbered 0, 1, 2... in the order
  sent, never more than ``retries + 1`` - what a server's deduplication by
  request id relies on;
* ``queue_bounded`` (safety): the server never holds more than
  ``queue_limit`` attempts waiting - the memory an overload may cost, and
  what makes a refusal fast instead of a timeout later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    client: str
    request: int
    number: int  # 0: the first attempt
    t: float


@dataclass(frozen=True)
class Served:
    client: str
    request: int
    number: int
    t: float
    deadline: float


@dataclass(frozen=True)
class Outcome:
    client: str
    request: int
    issued: float
    done: float
    ok: bool


def recovery_bound(timeout: float, backoff: float, retries: int) -> float:
    """Seconds after the trigger by which every new request must succeed."""
    return 2 * timeout + sum(backoff * 2.0**k for k in range(retries))


def recovers_after_spike(outcomes: Sequence[Outcome], calm: float, bound: float) -> str | None:
    late = [o for o in outcomes if o.issued >= calm + bound - 1e-9]
    failed = [o for o in late if not o.ok]
    if failed:
        first = min(failed, key=lambda o: o.issued)
        return (f"{len(failed)} of {len(late)} requests issued from t={calm + bound:g}s on failed "
                f"(the first: {first.client}'s request {first.request} at t={first.issued:g}s); the trigger "
                f"ended at t={calm:g}s, so the system should have recovered within {bound:g}s")
    return None


def retries_within_budget(sent: Sequence[Sent], ratio: float, burst: float) -> str | None:
    firsts: dict[str, int] = {}
    retries: dict[str, int] = {}
    for s in sent:
        if s.number == 0:
            firsts[s.client] = firsts.get(s.client, 0) + 1
            continue
        retries[s.client] = retries.get(s.client, 0) + 1
        allowed = burst + ratio * firsts.get(s.client, 0)
        if retries[s.client] > allowed + 1e-9:
            return (f"{s.client} sent its {retries[s.client]}th retry at t={s.t:g}s after "
                    f"{firsts.get(s.client, 0)} first attempts; its budget allows {allowed:g}")
    return None


def no_work_past_deadline(served: Sequence[Served]) -> str | None:
    for s in served:
        if s.t >= s.deadline:  # exactly the server's rule: a worker may begin only before the deadline
            return (f"a worker began serving {s.client}'s request {s.request} (attempt {s.number}) at "
                    f"t={s.t:g}s; its client stopped waiting at t={s.deadline:g}s")
    return None


@dataclass(frozen=True)
class Decision:
    """A client decided whether request ``request`` gets retry ``k``: granted or not."""

    client: str
    request: int
    k: int
    t: float
    granted: bool


def budget_followed(log: Sequence[Sent | Decision], outcomes: Sequence[Outcome], ratio: float, burst: float,
                    retries: int) -> str | None:
    """``log``: the first attempts sent and the retry decisions, in the order they happened."""
    tokens: dict[str, float] = {}
    attempts: dict[tuple[str, int], int] = {}
    refused: set[tuple[str, int]] = set()
    for e in log:
        have = tokens.get(e.client, burst)
        if isinstance(e, Sent):
            attempts[(e.client, e.request)] = attempts.get((e.client, e.request), 0) + 1
            if e.number == 0:
                tokens[e.client] = min(have + ratio, burst)
            continue
        if e.k > retries:
            return f"{e.client} considered retry {e.k} of request {e.request} at t={e.t:g}s; the policy allows {retries}"
        if e.granted != (have >= 1.0):
            return (f"{e.client} {'granted' if e.granted else 'refused'} retry {e.k} of request {e.request} at "
                    f"t={e.t:g}s with {have:.2f} tokens in its budget")
        if e.granted:
            tokens[e.client] = have - 1.0
        else:
            refused.add((e.client, e.request))
    for o in outcomes:
        made = attempts.get((o.client, o.request), 0)
        if not o.ok and made < retries + 1 and (o.client, o.request) not in refused:
            return (f"{o.client}'s request {o.request} failed after {made} attempts at t={o.done:g}s; it may make "
                    f"{retries + 1} and no retry was refused")
    return None


def attempts_well_formed(sent: Sequence[Sent], retries: int) -> str | None:
    last: dict[tuple[str, int], int] = {}
    for s in sent:
        key = (s.client, s.request)
        expected = last[key] + 1 if key in last else 0
        if s.number > retries:
            return f"{s.client} sent attempt {s.number} of request {s.request} at t={s.t:g}s; it may retry {retries} times"
        if s.number != expected:
            return (f"{s.client} sent attempt {s.number} of request {s.request} at t={s.t:g}s; "
                    f"the next attempt of that request is number {expected}")
        last[key] = s.number
    return None


def queue_bounded(waiting: Sequence[tuple[float, int]], limit: int) -> str | None:
    for t, n in waiting:
        if n > limit:
            return f"{n} attempts waiting at the server at t={t:g}s; it may hold {limit}"
    return None


def amplification(sent: Sequence[Sent], outcomes: Sequence[Outcome], start: float, end: float) -> float:
    """Attempts sent per request issued in [start, end): the load the retries add."""
    attempts = sum(1 for s in sent if start <= s.t < end)
    requests = sum(1 for o in outcomes if start <= o.issued < end)
    return attempts / requests if requests else 0.0
