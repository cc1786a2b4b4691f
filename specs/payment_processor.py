"""Sequential model of an idempotent payment API, and the checks on its durable state.

Sequentially, ``pay(key, amount)`` charges ``amount`` the first time a key is
seen and answers ``201 {payment, ...}``; every later call with that key
charges nothing and answers exactly the same.  Under retries, crashes and
concurrency the observable consequences are:

* ``charged-at-most-once`` - the provider's ledger has at most one charge per key;
* ``retry-returns-first-answer`` - all 2xx answers for one key are identical;
* ``acknowledged-payment-recorded`` - a key that got a 2xx is ``charged`` in
  the payments table, with the stored response the client got first, and the
  ledger has that payment.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, NamedTuple

from racekit import Spec


class Answer(NamedTuple):
    client: str
    key: str
    status: int
    body: str  # canonical JSON


class PaymentSpec(Spec):
    """State: frozenset of (key, amount, payment id); ``pay`` returns (status, payment id)."""

    name: ClassVar[str] = "idempotent-payments"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name != "pay":
            raise ValueError(f"payment spec has no operation {name!r}")
        key, amount = args
        for k, a, pid in state:
            if k == key:
                return state, ((201, pid) if a == amount else (422, None))
        pid = len(state) + 1
        return state | {(key, amount, pid)}, (201, pid)


def charged_twice(charges: Sequence[tuple[str, int]]) -> str | None:
    """At most one ledger entry per key.

    post: (__return__ is None) == (len({r for r, _ in charges}) == len(charges))
    """
    seen: dict[str, list[int]] = {}
    for ref, cid in charges:
        seen.setdefault(ref, []).append(cid)
    for ref, ids in sorted(seen.items()):
        if len(ids) > 1:
            return f"key {ref} was charged {len(ids)} times (provider charges {', '.join(f'#{i}' for i in ids)})"
    return None


def different_answers(answers: Sequence[Answer]) -> str | None:
    first: dict[str, Answer] = {}
    for a in answers:
        f = first.setdefault(a.key, a)
        if (a.status, a.body) != (f.status, f.body):
            return (
                f"key {a.key}: {f.client} was answered {f.status} {f.body}, "
                f"then {a.client} got {a.status} {a.body} for the same key"
            )
    return None


def unrecorded(answers: Sequence[Answer], charges: Sequence[tuple[str, int]], rows: Sequence[tuple[str, str, Any]]) -> str | None:
    state = {k: (s, r) for k, s, r in rows}
    ledger = {ref for ref, _ in charges}
    for a in answers:
        s, r = state.get(a.key, (None, None))
        if s != "charged" or a.key not in ledger:
            return f"{a.client} got {a.status} for key {a.key} but the payment is not recorded (row: {s}, ledger: {a.key in ledger})"
        if r is not None:
            status, body = json.loads(r)
            first = next(x for x in answers if x.key == a.key)
            if (status, json.dumps(body, sort_keys=True)) != (first.status, first.body):
                return f"key {a.key}: stored response {r} differs from the first answer {first.status} {first.body}"
    return None


def check_payments(
    answers: Sequence[Answer], charges: Sequence[tuple[str, int]], rows: Sequence[tuple[str, str, Any]]
) -> tuple[str, str] | None:
    """(property, why) of the first property that fails, or None."""
    for prop, why in (
        ("charged-at-most-once", charged_twice(charges)),
        ("retry-returns-first-answer", different_answers(answers)),
        ("acknowledged-payment-recorded", unrecorded(answers, charges, rows)),
    ):
        if why:
            return prop, why
    return None
