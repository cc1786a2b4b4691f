"""Optimistic locking: client processes read-modify-write one SQLite row, interleaved by the harness.

Each client is a worker process with its own connection.  The harness runs
one at a time and switches between them at pause points (after the read,
after a conflict, on a refused lock), so the lost-update interleaving -
c1 reads, c0 reads, c0 writes, c1 writes - is found by the level search with
one switch, not by luck.  The history of ``add`` operations (recorded as the
compare-and-set each one means) is checked for linearizability against the
cas-register model; then the final value against the sum of the deltas.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from racekit import check_history, Draw, Variant, variant_tests
from racekit.crash import Budget, CrashMachine, Driver, Run, Task, Violation, without_one
from specs.optimistic_locking import lost_update, register_spec
from systems import optimistic_locking

TARGET = "systems.optimistic_locking"


class RegisterDriver(Driver):
    target = TARGET  # the module whose client runs in the workers (a test may plant a mutant)

    def __init__(self, variant: str, clients: list[list[list[Any]]]) -> None:
        self.variant = variant
        self.clients = clients
        self.ops: dict[tuple[str, int], int] = {}
        self.applied: list[int] = []
        self.retries = 0
        self.db = ""

    def start(self, run: Run) -> None:
        self.db = str(run.workdir / "register.db")
        optimistic_locking.setup(self.db, 0)
        for i, ops in enumerate(self.clients):
            task = run.submit(f"c{i}", f"{self.target}:client", {"db": self.db, "mode": self.variant, "ops": ops},
                              label=" ".join(f"{o[0]}({', '.join(map(str, o[1:]))})" for o in ops))
            task.meta["ops"] = ops

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        op = task.meta["ops"][data.get("invoke", data.get("ok", 0))]
        if "invoke" in data:
            name, args = ("add", (op[1],)) if op[0] == "add" else ("read", ())
            self.ops[(task.name, data["invoke"])] = run.invoke(task.name, name, args)
        elif "cas" in data:
            if op[0] != "add":
                raise Violation("linearizability", f"{task.name}'s read() wrote the register ({data['cas']})")
            seen, wrote = data["cas"]
            self.applied.append(int(op[1]))
            run.ok(self.ops[(task.name, data["ok"])], task.name, True, args=[seen, wrote], name="cas")
        elif "read" in data:
            if op[0] != "read":  # an acknowledged add that wrote nothing: the client's delta is gone
                raise Violation("no-lost-update", f"{task.name}'s add({op[1]}) returned a read of {data['read']} and wrote nothing")
            run.ok(self.ops[(task.name, data["ok"])], task.name, int(data["read"]))
        elif "conflict" in data:
            run.note(task.name, f"version changed since the read: retry (wanted {data['conflict'][0]} -> {data['conflict'][1]})")

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        self.retries += int(result)

    def finish(self, run: Run) -> None:
        with closing(sqlite3.connect(self.db)) as con:
            final = int(con.execute("SELECT value FROM register WHERE id = 1").fetchone()[0])
        op = run.invoke("check", "read")
        run.ok(op, "check", final)
        history = run.recorder.history()
        lin = check_history(history, register_spec(0), timeout=10)
        lost = lost_update(0, final, self.applied)
        if lin.verdict == "violation":
            explanation = {k: v for k, v in lin.to_json().items() if k != "seconds"}
            raise Violation("linearizability", f"{lin.message}" + (f"; {lost}" if lost else ""), kind="linearizability",
                            explanation=explanation)
        if lost:
            raise Violation("no-lost-update", lost)

    def stats(self) -> dict[str, Any]:
        return {"requests": sum(len(c) for c in self.clients), "retries": self.retries}


class Machine(CrashMachine):
    system = optimistic_locking.SYSTEM
    max_kills = 0  # interleavings only: no crash points here
    # No random-instant phase: nothing is killed here, and a free-running history's
    # invoke/return positions are when the parent read the reports - too late for
    # a real-time order the linearizability check could trust.
    budgets = {**CrashMachine.budgets, "deep": Budget(levels=2, level_runs=3_000, hypothesis=150, random_kills=0)}

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return RegisterDriver(variant.name, scenario["clients"])

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            {"clients": [[["add", 1]], [["add", 1]]]},
            {"clients": [[["add", 1]], [["add", 2]], [["add", 3]]]},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        clients = []
        for _ in range(draw.integer(2, 3)):
            clients.append([["add", draw.integer(1, 3)] if draw.integer(0, 3) else ["read"] for _ in range(draw.integer(1, 2))])
        return {"clients": clients}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        for clients in without_one(scenario["clients"], keep=2):
            yield {"clients": clients}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(c) for c in scenario["clients"])


test_optimistic_locking = variant_tests(Machine)
