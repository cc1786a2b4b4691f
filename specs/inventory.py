"""Sequential model of inventory reservation, and the invariants on the database.

Sequentially, ``reserve(sku, qty)`` succeeds (and takes ``qty`` units) iff
at least ``qty`` remain.  Whatever the interleaving, the database must show:

* ``no-oversell`` - for every item, the units reserved never exceed the stock
  (and ``remaining`` never goes below zero);
* ``stock-conservation`` - ``stock - remaining`` equals the units in
  ``reservations``, and every client told "reserved" has its reservation.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from racekit import Spec


class InventorySpec(Spec):
    """State: frozenset of (sku, remaining)."""

    name: ClassVar[str] = "inventory"

    def __init__(self, stock: dict[str, int]) -> None:
        self.stock = dict(stock)

    def init(self) -> Hashable:
        return frozenset(self.stock.items())

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name != "reserve":
            raise ValueError(f"inventory spec has no operation {name!r}")
        sku, qty = args
        current = dict(state)
        if current.get(sku, 0) >= qty:
            current[sku] -= qty
            return frozenset(current.items()), True
        return state, False


def reserved_units(reservations: Sequence[tuple[str, int, str]], sku: str) -> int:
    """post: __return__ >= 0 or any(q < 0 for _, q, _ in reservations)"""
    return sum(q for k, q, _ in reservations if k == sku)


def check_inventory(
    items: dict[str, tuple[int, int]],
    reservations: Sequence[tuple[str, int, str]],
    answers: Sequence[tuple[str, str, int, bool]],
) -> tuple[str, str] | None:
    """(property, why) of the first invariant that fails, or None.

    ``items``: sku -> (stock, remaining); ``reservations``: (sku, qty, client);
    ``answers``: (client, sku, qty, reserved?) as the clients were told.
    """
    for sku, (stock, remaining) in sorted(items.items()):
        taken = reserved_units(reservations, sku)
        holders = [f"{c} ({q})" for k, q, c in reservations if k == sku]
        if taken > stock or remaining < 0:
            return "no-oversell", (
                f"{sku}: stock {stock} but {taken} units reserved by {', '.join(holders)}; remaining = {remaining}"
            )
        if stock - remaining != taken:
            return "stock-conservation", f"{sku}: stock {stock} - remaining {remaining} != {taken} units reserved"
    for client, sku, qty, ok in answers:
        # stock is never given back, so what remains at the end was there at every earlier instant
        if not ok and sku in items and items[sku][1] >= qty:
            return "refusal-justified", (
                f"{client} was refused {qty} of {sku}, yet {items[sku][1]} remain at the end (stock only goes down)"
            )
    told: dict[tuple[str, str], int] = {}
    for client, sku, qty, ok in answers:
        if ok:
            told[(client, sku)] = told.get((client, sku), 0) + qty
    for (client, sku), qty in sorted(told.items()):
        have = sum(q for k, q, c in reservations if k == sku and c == client)
        if have != qty:
            return "stock-conservation", f"{client} was told it reserved {qty} of {sku}; the database holds {have}"
    return None
