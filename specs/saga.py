"""What an order saga must leave behind, read from the services' own databases.

The sequential model of one order: either every step happened once
(``done``: one reservation of ``qty`` units, a net charge of ``amount``, a
shipment ``shipped``) or none did, net (``compensated``: no reservation and
its units back, net charge 0, no shipment or a ``cancelled`` one).  Across
orders the stock balances: ``remaining + reserved == stock``.

Properties, each a pure function of an :class:`OrderState` snapshot that
returns None or one line saying why:

* ``compensated-at-most-once`` - at most one refund and one charge per
  order, and no unit released twice (the stock never exceeds itself);
* ``all-done-or-all-compensated`` - each finished saga's effects match one
  of the two outcomes above, and a ``done``/``compensated`` log says which
  (a saga the log calls ``failed`` must have left nothing behind);
* ``done-when-possible`` - a saga no crash interrupted ends as the
  sequential model says: ``done`` if shipping takes the order and the stock
  left by the orders before it covers it, else ``compensated`` (a saga a
  crash interrupted may end either way: recovery compensates it);
* ``recovery-completes`` (liveness) - once the coordinator has run to its
  end (after any number of crashes and restarts), every order's saga is in a
  final state: none ``running``, none missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple


class OrderState(NamedTuple):
    order: str
    qty: int
    amount: int
    saga: str | None  # the log's state, None if the order never reached the log
    reserved: int  # units held by reservations of this order
    reservations: int  # how many reservation rows
    charges: Sequence[int]  # provider amounts under the order's charge key
    refunds: Sequence[int]  # provider amounts under the order's refund key
    shipment: str | None  # shipped | cancelled | None


def twice(orders: Sequence[OrderState], stock: int, remaining: int) -> str | None:
    for o in orders:
        if len(o.refunds) > 1:
            return f"order {o.order} was refunded {len(o.refunds)} times: {list(o.refunds)}"
        if len(o.charges) > 1:
            return f"order {o.order} was charged {len(o.charges)} times: {list(o.charges)}"
    reserved = sum(o.reserved for o in orders)
    if remaining + reserved > stock:
        return f"{remaining} units left and {reserved} reserved, of a stock of {stock}: units were released twice"
    return None


def outcome(o: OrderState) -> str | None:
    """``done`` or ``compensated`` if the effects are exactly one of them, else None."""
    net = sum(o.charges) + sum(o.refunds)
    if o.reservations == 1 and o.reserved == o.qty and net == o.amount and o.shipment == "shipped":
        return "done"
    if o.reservations == 0 and net == 0 and o.shipment in (None, "cancelled"):
        return "compensated"
    return None


def show(o: OrderState) -> str:
    net = sum(o.charges) + sum(o.refunds)
    return (f"{o.reservations} reservation(s) of {o.reserved} unit(s), charged {list(o.charges)} refunded {list(o.refunds)} "
            f"(net {net} of {o.amount}), shipment {o.shipment or 'none'}")


def partial(orders: Sequence[OrderState], stock: int, remaining: int) -> str | None:
    for o in orders:
        if o.saga in (None, "running"):
            continue  # recovery-completes says what is wrong with it
        got = outcome(o)
        if got is None:
            return f"order {o.order}'s saga ended {o.saga}, but the services hold {show(o)}: neither all done nor all undone"
        if o.saga in ("done", "compensated") and got != o.saga:
            return f"order {o.order}'s saga says {o.saga}, but the services hold {show(o)}"
    reserved = sum(o.reserved for o in orders)
    if remaining + reserved != stock:
        return f"{remaining} units left and {reserved} reserved, of a stock of {stock}: units went missing"
    return None


def unfinished(orders: Sequence[OrderState], log_states: Mapping[str, str]) -> str | None:
    for o in orders:
        if o.saga is None:
            return f"order {o.order} never ran"
        if o.saga == "running":
            return f"order {o.order}'s saga is still running after recovery ({show(o)})"
    extra = sorted(set(log_states) - {o.order for o in orders})
    if extra:
        return f"the log holds an order nobody placed: {extra[0]}"
    return None


def unlike_model(orders: Sequence[OrderState], stock: int, undeliverable: Sequence[str], interrupted: Sequence[str]) -> str | None:
    """The orders, in the order they ran, against the sequential model (see ``done-when-possible``)."""
    remaining = stock
    for o in orders:
        if o.order not in interrupted:
            want = "done" if o.order not in undeliverable and remaining >= o.qty else "compensated"
            if o.saga != want:
                return f"order {o.order} ended {o.saga}, but with {remaining} unit(s) left for {o.qty} and shipping {'refusing' if o.order in undeliverable else 'accepting'} it, it should end {want}"
        if o.saga == "done":
            remaining -= o.qty
    return None
