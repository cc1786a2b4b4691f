"""Sequential model of a message consumer: each message applied exactly once.

Sequentially, delivering message ``m`` = (account, amount) adds ``amount`` to
``account``, once, whatever the number of deliveries.  The durable state
after crashes and redeliveries must be that of applying every message once:
the ``effects`` log holds each message id exactly once, and each balance is
the sum of its messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from racekit import Spec


class ConsumerSpec(Spec):
    """State: frozenset of applied message ids with the balances they imply."""

    name: ClassVar[str] = "exactly-once-consumer"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name != "deliver":
            raise ValueError(f"consumer spec has no operation {name!r}")
        (msg_id,) = args
        return state | {msg_id}, None


def expected_balances(messages: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Balances after applying message 1..n once each.

    post: sum(__return__.values()) == sum(a for _, a in messages)
    """
    out: dict[str, int] = {}
    for account, amount in messages:
        out[account] = out.get(account, 0) + amount
    return out


def check_effects(
    messages: Sequence[tuple[str, int]], effects: Sequence[int], balances: dict[str, int]
) -> tuple[str, str] | None:
    """(property, why) for the first message not applied exactly once, or None.

    ``effects`` lists the message ids in the effects log; message ids are 1-based.
    """
    counts = Counter(effects)
    for msg_id in range(1, len(messages) + 1):
        account, amount = messages[msg_id - 1]
        n = counts.get(msg_id, 0)
        if n == 0:
            return "no-lost-effect", f"message {msg_id} (+{amount} to {account}) was never applied"
        if n > 1:
            return "no-duplicate-effect", f"message {msg_id} (+{amount} to {account}) was applied {n} times"
    want = expected_balances(messages)
    if balances != want:
        prop = "no-duplicate-effect" if sum(balances.values()) > sum(want.values()) else "no-lost-effect"
        return prop, f"balances {balances} differ from {want}"
    return None
