"""Exactly-once illusion under SIGKILL and redelivery: the crash harness drives a real consumer.

A scenario is the queue's messages and which of them the broker delivers
twice on its own.  The consumer runs in a worker process; the harness may
kill it at any crash point (after receiving, after processing, after
acking); the broker then redelivers every unacknowledged message, in order,
to a restarted consumer.  At the end every message must have been applied
exactly once (``effects`` log and balances of the application database).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from racekit import Draw, run_scenario, Variant, variant_tests
from racekit.crash import CrashMachine, Driver, Run, Task, Violation
from specs.exactly_once import check_effects
from systems import exactly_once

TARGET = "systems.exactly_once"


class ConsumerDriver(Driver):
    target = TARGET  # the module whose consume runs in the worker (a test may plant a mutant)

    def __init__(self, variant: str, messages: list[list[Any]], redeliver: list[int]) -> None:
        self.variant = variant
        self.messages = [(str(a), int(n)) for a, n in messages]
        plan: list[int] = []
        for i in range(1, len(self.messages) + 1):
            plan += [i, i] if i in redeliver else [i]
        self.plan = plan  # deliveries still due, in order
        self.position = -1  # index in ``plan`` of the delivery in progress
        self.broker = self.app = ""

    def start(self, run: Run) -> None:
        self.broker = str(run.workdir / "broker.db")
        self.app = str(run.workdir / "app.db")
        exactly_once.setup(self.broker, self.app, self.messages)
        self._consume(run)

    def _consume(self, run: Run) -> None:
        run.note("broker", "deliver", " ".join(f"m{m}" for m in self.plan))
        args = {"broker": self.broker, "app": self.app, "variant": self.variant, "deliveries": self.plan}
        run.submit("consumer", f"{self.target}:consume", args, label=f"consume {len(self.plan)} deliveries")

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        self.position = int(data["delivery"])

    def on_killed(self, run: Run, task: Task) -> None:
        with closing(sqlite3.connect(self.broker)) as con:
            unacked = [int(r[0]) for r in con.execute("SELECT id FROM messages WHERE acked = 0 ORDER BY id")]
        tail = self.plan[self.position + 1 :]
        self.plan = unacked + [m for m in tail if m not in unacked]
        self.position = -1
        if self.plan:
            self._consume(run)

    def finish(self, run: Run) -> None:
        with closing(sqlite3.connect(self.app)) as con:
            effects = [int(r[0]) for r in con.execute("SELECT msg_id FROM effects ORDER BY rowid")]
            balances = {str(a): int(n) for a, n in con.execute("SELECT account, amount FROM balances")}
        run.note("check", "effects log", " ".join(f"m{m}" for m in effects) or "empty")
        problem = check_effects(self.messages, effects, balances)
        if problem:
            raise Violation(*problem)

    def stats(self) -> dict[str, Any]:
        return {"requests": len(self.messages)}


class Machine(CrashMachine):
    system = exactly_once.SYSTEM
    max_kills = 2

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return ConsumerDriver(variant.name, scenario["messages"], scenario.get("redeliver", []))

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        # crashes only: a broker duplicate (redeliver) needs no crash, see Hypothesis and the test below
        return [
            {"messages": [["alice", 10]], "redeliver": []},
            {"messages": [["alice", 10], ["bob", 5]], "redeliver": []},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        n = draw.integer(1, 3)
        msgs = [[draw.pick(["alice", "bob"]), draw.integer(1, 9)] for _ in range(n)]
        redeliver = [i for i in range(1, n + 1) if draw.integer(0, 3) == 0]
        return {"messages": msgs, "redeliver": redeliver}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        msgs, red = scenario["messages"], scenario.get("redeliver", [])
        for r in red:
            yield {"messages": msgs, "redeliver": [x for x in red if x != r]}
        if len(msgs) > 1:
            for i in range(1, len(msgs) + 1):
                yield {
                    "messages": msgs[: i - 1] + msgs[i:],
                    "redeliver": [x if x < i else x - 1 for x in red if x != i],
                }

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["messages"])


test_exactly_once = variant_tests(Machine)


def test_broker_duplicate_without_a_crash() -> None:
    """A duplicate from the broker alone (no kill): only the inbox absorbs it."""
    scenario = {"messages": [["alice", 10], ["bob", 5]], "redeliver": [1]}
    fixed = run_scenario(Machine, "inbox", scenario)
    assert not fixed.failed, fixed.message
    broken = run_scenario(Machine, "process_then_ack", scenario)
    assert broken.failed and broken.property == "no-duplicate-effect"
    assert broken.stats["kills"] == 0
    lossy = run_scenario(Machine, "ack_then_process", scenario)
    assert lossy.failed and lossy.property == "no-duplicate-effect"  # no dedup either
