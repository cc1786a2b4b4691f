"""Write-behind cache under SIGKILL: the crash harness drives a real cache process.

A scenario is a list of operations (``["put", k, v]``, ``["get", k]``,
``["flush"]``; it ends with a flush).  The cache runs them in a worker process; the harness
may kill it at any crash point (inside a put, a flush, a recovery), then
restarts it: a recovery task, checks, and the remaining operations (the
interrupted put is retried, as a client that got no ack would) - or, with
``"restart": "serve"``, the remaining operations at once in a process that
recovers on its own (new writes right after a replay).

Checked on the database file itself - what other programs would read:

* right after every kill: no torn record; the rows are a prefix of the writes;
* after every recovery and at the end: the same, and no acknowledged write lost;
* every get returns the newest write to its key (read-your-writes, across restarts);
* no sequence number is handed out twice to acknowledged writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from racekit import Draw, Variant, variant_tests
from racekit.crash import CrashMachine, Driver, Run, Task, Violation
from specs.write_behind import Write, lost, not_prefix, stale_read, torn
from systems import write_behind

TARGET = "systems.write_behind"


class WriteBehindDriver(Driver):
    target = TARGET  # the module whose serve/recover run in the worker (a test may plant a mutant)
    power_loss = True  # the log's durability rests on fsync: a kill takes the page cache with it

    def __init__(self, variant: str, ops: list[list[Any]], restart: str = "recover") -> None:
        self.variant = variant
        self.restart = restart  # "recover": a recovery task, then serve; "serve": serve recovers itself and goes on
        self.ops = [list(op) for op in ops]
        self.writes: dict[int, Write] = {}
        self.next_op = 0
        self.inflight: tuple[int, int] | None = None  # (seq, history op id)
        self.db = self.log = ""

    def start(self, run: Run) -> None:
        self.db = str(run.workdir / "kv.db")
        self.log = str(run.workdir / "kv.log")
        write_behind.create_db(self.db)
        self._serve(run)

    def _serve(self, run: Run) -> None:
        args = {"db": self.db, "log": self.log, "variant": self.variant, "ops": self.ops, "first": self.next_op}
        run.submit("cache", f"{self.target}:serve", args, label=f"serve ops {self.next_op}..{len(self.ops) - 1}")

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        if "assign" in data:
            seq = int(data["assign"])
            if seq in self.writes and self.writes[seq].acked:
                old = self.writes[seq]
                raise Violation(
                    "unique-seq",
                    f"put({data['key']}={data['value']}) got sequence number {seq}, already acknowledged for {old.key}={old.value}",
                )
            self.writes[seq] = Write(seq, str(data["key"]), str(data["value"]), False)
            self.inflight = (seq, run.invoke("client", "put", (data["key"], data["value"])))
        elif "done" in data:
            self.next_op = int(data["done"]) + 1
            op = self.ops[int(data["done"])]
            if op[0] == "get":
                why = stale_read(str(op[1]), data["got"], sorted(self.writes.values()))
                if why:
                    raise Violation("read-your-writes", why)
            if "seq" in data and self.inflight is not None:
                seq, op_id = self.inflight
                self.writes[seq] = self.writes[seq]._replace(acked=True)
                run.ok(op_id, "client", f"ack #{seq}")
                self.inflight = None

    def on_killed(self, run: Run, task: Task) -> None:
        if self.inflight is not None:
            run.info(self.inflight[1], "client", "no ack: the cache died")
            self.inflight = None
        self._check(run, "after the kill", lost_too=False)
        if self.restart == "serve":  # a production restart: recovery and new writes in one process
            self._serve(run)
            return
        run.submit("cache", f"{self.target}:recover", {"db": self.db, "log": self.log, "variant": self.variant}, label="restart + recover")

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        if task.target.endswith(":recover"):
            self._check(run, f"after recovery (replayed {result})", lost_too=True)
            if self.next_op < len(self.ops):
                self._serve(run)

    def finish(self, run: Run) -> None:
        self._check(run, "at the end", lost_too=True)

    def _rows(self) -> dict[str, tuple[str, int]]:
        con = sqlite3.connect(self.db)
        try:
            return {k: (v, s) for k, v, s in con.execute("SELECT key, value, seq FROM kv")}
        finally:
            con.close()

    def _check(self, run: Run, when: str, lost_too: bool) -> None:
        rows = self._rows()
        writes = sorted(self.writes.values())
        run.note("check", f"database {when}", ", ".join(f"{k}={v}#{s}" for k, (v, s) in sorted(rows.items())) or "empty")
        for prop, fn in (("no-torn-record", torn), ("prefix-of-acked-writes", not_prefix)):
            why = fn(rows, writes)
            if why:
                raise Violation(prop, f"{when}: {why}")
        if lost_too:
            why = lost(rows, writes)
            if why:
                raise Violation("no-acked-write-lost", f"{when}: {why}")

    def stats(self) -> dict[str, Any]:
        return {"requests": sum(1 for op in self.ops if op[0] == "put")}


def _with_final_flush(ops: list[list[Any]]) -> list[list[Any]]:
    ops = [op for i, op in enumerate(ops) if op[0] != "flush" or (i > 0 and ops[i - 1][0] == "put")]
    return ops if ops and ops[-1] == ["flush"] else [*ops, ["flush"]]


class Machine(CrashMachine):
    system = write_behind.SYSTEM
    max_kills = 2

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return WriteBehindDriver(variant.name, scenario["ops"], scenario.get("restart", "recover"))

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            {"ops": [["put", "a", "1"], ["flush"]]},
            {"ops": [["put", "b", "1"], ["put", "a", "2"], ["flush"]]},
            {"ops": [["put", "a", "1"], ["flush"], ["put", "a", "2"], ["put", "b", "3"], ["flush"]]},
            # a logged write replayed at restart, then the same key written again and read back
            {"ops": [["put", "a", "1"], ["put", "a", "2"], ["get", "a"], ["flush"]], "restart": "serve"},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        ops: list[list[Any]] = []
        for _ in range(draw.integer(1, 4)):
            ops.append(["put", draw.pick(["a", "b", "c"]), str(draw.integer(1, 9))])
            if draw.integer(0, 2) == 0:
                ops.append(["flush"])
            if draw.integer(0, 2) == 0:
                ops.append(["get", draw.pick(["a", "b", "c"])])
        restart = "serve" if draw.integer(0, 2) == 0 else "recover"
        return {"ops": _with_final_flush(ops), "restart": restart}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        ops = scenario["ops"]
        puts = [i for i, op in enumerate(ops) if op[0] == "put"]
        if len(puts) > 1:
            for i in puts:
                yield {**scenario, "ops": _with_final_flush(ops[:i] + ops[i + 1 :])}
        for i, op in enumerate(ops[:-1]):
            if op[0] in ("flush", "get"):
                yield {**scenario, "ops": ops[:i] + ops[i + 1 :]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(1 for op in scenario["ops"] if op[0] == "put")


test_write_behind = variant_tests(Machine)
