"""Inventory reservations: client processes with their own connections, interleaved by the harness.

Each client is a worker process holding a real SQLite or PostgreSQL
connection.  The harness runs one client at a time between pause points
(after the read, before a retry); a client that waits for a lock inside
PostgreSQL is parked (seen in ``pg_locks``) until the holder releases it,
then runs on - so READ COMMITTED behaves exactly as it does in production.
The oversell needs one switch (A reads, B reserves, A writes) and the level
search finds it deterministically.

PostgreSQL variants need the binaries: the tests start a throwaway cluster
(unix socket in a temp dir, no TCP) and skip with the reason otherwise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from racekit import Draw, Variant, run_scenario, variant_tests
from racekit.crash import Budget, CrashMachine, Driver, Run, Task, Violation, postgres, without_one
from specs.inventory import check_inventory
from systems import inventory
from tests.crash_schedules import switch_at

TARGET = "systems.inventory"


class InventoryDriver(Driver):
    target_module = TARGET  # the module whose client runs in the workers (a test may plant a mutant)

    def __init__(self, variant: str, stock: dict[str, int], clients: list[list[list[Any]]]) -> None:
        self.variant = variant
        self.stock = dict(stock)
        self.clients = clients
        self.probes = variant in inventory.POSTGRES
        self.ops: dict[tuple[str, int], int] = {}
        self.answers: list[tuple[str, str, int, bool]] = []
        self.refused: dict[str, int] = {}
        self.target = ""
        self._probe: Any = None

    def start(self, run: Run) -> None:
        if self.probes:
            self.target = postgres.shared().dsn()
            inventory.pg_setup(self.target, self.stock)
        else:
            self.target = str(run.workdir / "inventory.db")
            inventory.sqlite_setup(self.target, self.stock)
        for i, ops in enumerate(self.clients):
            label = ", ".join(f"reserve({sku!r}, {qty})" for sku, qty in ops)
            task = run.submit(f"c{i}", f"{self.target_module}:client",
                              {"target": self.target, "strategy": self.variant, "name": f"c{i}", "ops": ops}, label=label)
            task.meta["ops"] = ops

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        if "backend_pid" in data:
            task.meta["backend_pid"] = int(data["backend_pid"])
        elif "invoke" in data:
            sku, qty = task.meta["ops"][data["invoke"]]
            self.ops[(task.name, data["invoke"])] = run.invoke(task.name, "reserve", (sku, qty))
        elif "ok" in data:
            sku, qty = task.meta["ops"][data["ok"]]
            self.answers.append((task.name, str(sku), int(qty), bool(data["reserved"])))
            run.ok(self.ops[(task.name, data["ok"])], task.name, bool(data["reserved"]))
            # what any reader sees right now (the others stand still at their points): stock and
            # reservations agree - a reservation is never half visible
            problem = check_inventory(*self._state(), [])
            if problem:
                raise Violation(problem[0], f"while {task.name} returned: {problem[1]}")
        elif "refused" in data:
            why = str(data["refused"])
            self.refused[why] = self.refused.get(why, 0) + 1
            run.note(task.name, f"refused by the database: {why}; retry")

    def blocked(self, run: Run, task: Task) -> bool:
        pid = task.meta.get("backend_pid")
        if pid is None:
            return False
        if self._probe is None:
            import psycopg

            self._probe = psycopg.connect(self.target, autocommit=True)
        row = self._probe.execute("SELECT count(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)).fetchone()
        return bool(row and row[0])

    def finish(self, run: Run) -> None:
        items, reservations = self._state()
        run.note("check", "items", ", ".join(f"{k}: stock {s}, remaining {r}" for k, (s, r) in sorted(items.items())))
        problem = check_inventory(items, reservations, self.answers)
        if problem:
            raise Violation(*problem)

    def _state(self) -> tuple[dict[str, tuple[int, int]], list[tuple[str, int, str]]]:
        if self.probes:
            import psycopg

            with psycopg.connect(self.target, autocommit=True) as con:
                items = {str(k): (int(s), int(r)) for k, s, r in con.execute("SELECT sku, stock, remaining FROM items")}
                res = [(str(k), int(q), str(c)) for k, q, c in con.execute("SELECT sku, qty, client FROM reservations ORDER BY id")]
            return items, res
        with closing(sqlite3.connect(self.target)) as con:
            items = {str(k): (int(s), int(r)) for k, s, r in con.execute("SELECT sku, stock, remaining FROM items")}
            res = [(str(k), int(q), str(c)) for k, q, c in con.execute("SELECT sku, qty, client FROM reservations ORDER BY id")]
        return items, res

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def stats(self) -> dict[str, Any]:
        return {"requests": sum(len(c) for c in self.clients), "refused": dict(self.refused)}


class Machine(CrashMachine):
    system = inventory.SYSTEM
    max_kills = 0  # contention, not crashes
    # No random-instant phase: nothing is killed here, and a free-running history's
    # invoke/return positions are when the parent read the reports - too late for
    # a real-time order the linearizability check could trust.
    budgets = {**CrashMachine.budgets, "deep": Budget(levels=2, level_runs=3_000, hypothesis=150, random_kills=0)}

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        return postgres.unavailable() if variant.name in inventory.POSTGRES else None

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return InventoryDriver(variant.name, scenario["stock"], scenario["clients"])

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            {"stock": {"x": 1}, "clients": [[["x", 1]], [["x", 1]]]},
            {"stock": {"x": 2}, "clients": [[["x", 1]], [["x", 1]], [["x", 1]]]},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        clients = [[[draw.pick(["x", "y"]), draw.integer(1, 2)] for _ in range(draw.integer(1, 2))]
                   for _ in range(draw.integer(2, 3))]
        return {"stock": {"x": draw.integer(1, 3), "y": 1}, "clients": clients}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        for clients in without_one(scenario["clients"], keep=2):
            yield {"stock": scenario["stock"], "clients": clients}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(c) for c in scenario["clients"])


@pytest.fixture(autouse=True)
def _needs_postgres(request: pytest.FixtureRequest) -> None:
    """PostgreSQL variants skip, with the reason, where PostgreSQL is not installed."""
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("variant_name", "") if callspec is not None else ""
    if name.startswith("pg_") or request.node.name.startswith("test_pg_"):
        reason = postgres.unavailable()
        if reason:
            pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def _stop_cluster() -> Iterator[None]:
    yield
    postgres.stop_shared()


test_inventory = variant_tests(Machine)


# What each strategy does in the canonical race: c0 reads (or, for the conditional UPDATE,
# updates), then c1 runs to the end, then c0 goes on.
RACE = {"stock": {"x": 1}, "clients": [[["x", 1]], [["x", 1]]]}
EXPECTED = {
    "sqlite_implicit_txn": ("oversold", None),
    "sqlite_deferred": ("one reservation", "SQLITE_BUSY_SNAPSHOT"),
    "sqlite_immediate": ("one reservation", "SQLITE_BUSY (write lock held)"),
    "sqlite_conditional": ("one reservation", "SQLITE_BUSY"),
    "pg_read_committed": ("oversold", None),
    "pg_repeatable_read": ("one reservation", "40001"),
    "pg_serializable": ("one reservation", "40001"),
    "pg_for_update": ("one reservation", "waits for a lock"),
    "pg_conditional": ("one reservation", "waits for a lock"),
}


def race_outcome(name: str) -> tuple[str, str]:
    """(what happened, how the database reacted) for the canonical race on ``name``."""
    # inside BEGIN IMMEDIATE the read opens no gap (nobody else can write): switch right after the BEGIN
    label = {"sqlite_conditional": "updated", "pg_conditional": "updated", "sqlite_immediate": "after BEGIN IMMEDIATE"}.get(
        name, "read")
    out = run_scenario(Machine, name, RACE, switch_at(Machine, name, RACE, [("c0", label)]))
    reaction = "; ".join(sorted({r["what"] for r in out.trace if "refused" in r["what"] or "waits" in r["what"]}))
    return ("oversold" if out.failed and out.property == "no-oversell" else "one reservation"), reaction


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.startswith("sqlite_")])
def test_sqlite_race_per_strategy(name: str) -> None:
    happened, reaction = race_outcome(name)
    want, sign = EXPECTED[name]
    assert happened == want, (name, happened, reaction)
    assert (sign or "") in reaction, (name, reaction)


# c0 reads, c1 reads and updates (holding the row lock), c0 updates: c0 waits in the database.
WAIT_RACE = [("c0", "read"), ("c1", "written")]
AFTER_WAIT = {
    "pg_read_committed": "oversold",  # the wait ends and c0 writes its stale value anyway
    "pg_repeatable_read": "one reservation",  # the wait ends in 40001, the retry reads 0
    "pg_serializable": "one reservation",
}


@pytest.mark.parametrize("name", sorted(AFTER_WAIT))
def test_pg_writer_waits_for_the_row_lock_then(name: str) -> None:
    out = run_scenario(Machine, name, RACE, switch_at(Machine, name, RACE, WAIT_RACE))
    whats = [r["what"] for r in out.trace]
    assert any(w.startswith("sql UPDATE items") for w in whats)  # psycopg connections are traced too
    assert "waits for a lock held by another worker (in the database)" in whats
    assert "lock granted: continues" in whats
    happened = "oversold" if out.failed and out.property == "no-oversell" else "one reservation"
    assert happened == AFTER_WAIT[name], (name, out.message)
    if name != "pg_read_committed":
        assert any("40001" in w for w in whats)


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.startswith("pg_")])
def test_pg_race_per_isolation_level(name: str) -> None:
    happened, reaction = race_outcome(name)
    want, sign = EXPECTED[name]
    assert happened == want, (name, happened, reaction)
    assert (sign or "") in reaction, (name, reaction)
