"""Order saga with the coordinator SIGKILLed anywhere: the crash harness drives a real coordinator process.

A scenario is the stock, the orders (``[order, qty, amount]``) run one
after another by one coordinator process, and the orders shipping refuses.
The harness may kill the coordinator at any point between two SQL
statements - in the saga log, the inventory, the payment processor, the
provider's ledger or the shipping service - and restarts it: recovery
first, then the orders that never reached the log.

Checked at the end on the services' own databases (specs/saga.py):
nothing charged, refunded or released twice; every saga all done or all
compensated, as its log says; once the coordinator has run to its end, no
saga left running (recovery completes); and every saga no crash
interrupted ends as the sequential model says (done when it could be).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from racekit import Draw, Variant, variant_tests
from racekit.crash import CrashMachine, Driver, Run, Task, Violation
from specs.saga import OrderState, partial, twice, unfinished, unlike_model
from systems import saga

TARGET = "systems.saga"


def rows(path: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as con:
        return con.execute(sql, args).fetchall()


class SagaDriver(Driver):
    target = TARGET

    def __init__(self, variant: str, scenario: dict[str, Any]) -> None:
        self.variant = variant
        self.stock = int(scenario["stock"])
        self.orders = [[str(o), int(q), int(a)] for o, q, a in scenario["orders"]]
        self.undeliverable = [str(o) for o in scenario.get("undeliverable", [])]
        self.ops: dict[str, int] = {}
        self.interrupted: list[str] = []  # orders in flight when the coordinator died
        self.root = ""

    def start(self, run: Run) -> None:
        self.root = str(run.workdir)
        saga.setup(self.root, self.stock, self.undeliverable)
        self._coordinator(run, "coord")

    def _coordinator(self, run: Run, lane: str) -> None:
        run.submit(lane, f"{self.target}:run_orders", {"root": self.root, "variant": self.variant, "orders": self.orders},
                   label="recover, then " + ", ".join(o for o, _, _ in self.orders))

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        if "start" in data:
            o = next(x for x in self.orders if x[0] == data["start"])
            self.ops[o[0]] = run.invoke(task.name, "order", tuple(o))
        elif "end" in data:
            run.ok(self.ops.pop(str(data["end"])), task.name, str(data["outcome"]))

    def on_killed(self, run: Run, task: Task) -> None:
        """The coordinator restarts: recovery, then the orders not in the log yet."""
        for order, op in sorted(self.ops.items()):
            run.info(op, task.name, "the coordinator died")
            self.interrupted.append(order)
        self.ops.clear()
        self._coordinator(run, f"{task.name}'")

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        if result:
            run.note(task.name, "recovered " + ", ".join(result))

    def finish(self, run: Run) -> None:
        p = saga.Paths(self.root)
        states = {str(o): str(s) for o, s in rows(p.saga, "SELECT order_id, state FROM sagas")}
        (remaining,) = rows(p.stock, "SELECT remaining FROM items WHERE sku = ?", (saga.SKU,))[0]
        snapshot = []
        for order, qty, amount in self.orders:
            res = rows(p.stock, "SELECT qty FROM reservations WHERE client = ?", (order,))
            charges = [int(a) for (a,) in rows(p.provider, "SELECT amount FROM charges WHERE ref = ? ORDER BY id", (f"{order}:charge",))]
            refunds = [int(a) for (a,) in rows(p.provider, "SELECT amount FROM charges WHERE ref = ? ORDER BY id", (f"{order}:refund",))]
            ship = rows(p.shipping, "SELECT state FROM shipments WHERE order_id = ?", (order,))
            o = OrderState(order, qty, amount, states.get(order), sum(int(q) for (q,) in res), len(res), charges, refunds,
                           str(ship[0][0]) if ship else None)
            snapshot.append(o)
            run.note("check", f"order {order}", f"saga {o.saga}; reserved {o.reserved} ({o.reservations} rows); "
                     f"charges {charges}; refunds {refunds}; shipment {o.shipment or 'none'}")
        run.note("check", "stock", f"{remaining} of {self.stock} left")
        for prop, why in (("compensated-at-most-once", twice(snapshot, self.stock, int(remaining))),
                          ("all-done-or-all-compensated", partial(snapshot, self.stock, int(remaining))),
                          ("recovery-completes", unfinished(snapshot, states)),
                          ("done-when-possible", unlike_model(snapshot, self.stock, self.undeliverable, self.interrupted))):
            if why:
                raise Violation(prop, why)

    def stats(self) -> dict[str, Any]:
        return {"requests": len(self.orders)}


class Machine(CrashMachine):
    system = saga.SYSTEM
    max_kills = 1

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return SagaDriver(variant.name, scenario)

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            {"stock": 1, "orders": [["o1", 1, 10]]},
            {"stock": 1, "orders": [["o1", 1, 10]], "undeliverable": ["o1"]},
            {"stock": 1, "orders": [["o1", 1, 10], ["o2", 1, 20]]},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        orders = [[f"o{i + 1}", draw.integer(1, 2), 10 * (i + 1)] for i in range(draw.integer(1, 3))]
        bad = [o[0] for o in orders if draw.integer(0, 2) == 0]
        return {"stock": draw.integer(1, 3), "orders": orders, "undeliverable": bad}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        orders = scenario["orders"]
        if len(orders) > 1:
            for i in range(len(orders)):
                kept = orders[:i] + orders[i + 1:]
                names = {o[0] for o in kept}
                yield {**scenario, "orders": kept, "undeliverable": [o for o in scenario.get("undeliverable", []) if o in names]}
        for o in scenario.get("undeliverable", []):
            yield {**scenario, "undeliverable": [x for x in scenario["undeliverable"] if x != o]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["orders"])


test_saga = variant_tests(Machine)
