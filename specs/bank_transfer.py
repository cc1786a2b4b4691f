"""Sequential spec of a bank: balances as a tuple, one entry per account.

``transfer(src, dst, amount)`` succeeds (True) iff ``src != dst``,
``amount > 0`` and ``src`` holds at least ``amount``; otherwise it returns
False and changes nothing.  ``balance(n)`` reads account ``n``.

Invariants at quiescence, over the accounts themselves: the total is what
it was at the start ("total conserved"), and no balance is negative.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from racekit import Spec


def apply_transfer(balances: tuple[int, ...], src: int, dst: int, amount: int) -> tuple[tuple[int, ...], bool]:
    """The bank after one transfer, and whether it happened.

    pre: 0 <= src < len(balances) and 0 <= dst < len(balances)
    post: sum(__return__[0]) == sum(balances)
    post: __return__[1] or __return__[0] == balances
    post: not __return__[1] or (__return__[0][src] == balances[src] - amount and __return__[0][dst] == balances[dst] + amount)
    post: all(b >= 0 for b in __return__[0]) if all(b >= 0 for b in balances) else True
    """
    if src == dst or amount <= 0 or balances[src] < amount:
        return balances, False
    out = list(balances)
    out[src] -= amount
    out[dst] += amount
    return tuple(out), True


def total_conserved(balances: Sequence[int], initial_total: int) -> bool:
    """post: __return__ == (sum(balances) == initial_total)"""
    return sum(balances) == initial_total


def no_negative(balances: Sequence[int]) -> bool:
    """post: __return__ == all(b >= 0 for b in balances)"""
    return all(b >= 0 for b in balances)


class BankSpec(Spec):
    """``transfer(src, dst, amount) -> bool``, ``balance(n) -> int``."""

    name: ClassVar[str] = "bank"

    def __init__(self, accounts: int = 3, balance: int = 5) -> None:
        self.initial = tuple([balance] * accounts)

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "transfer":
            return apply_transfer(state, *args)
        if name == "balance":
            return state, state[args[0]]
        raise ValueError(f"bank spec has no operation {name!r}")

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        # A read, or a transfer that said False (it changed nothing).
        return name == "balance" or (name == "transfer" and result is False)
