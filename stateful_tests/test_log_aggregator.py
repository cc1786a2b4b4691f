"""Log aggregator under SIGKILL and power loss: writer processes, one per source, killed anywhere.

A scenario is a batch size and, per source, its lines ``[service, ts,
text]`` (sequence numbers 1, 2, ... in list order; a source's timestamps
never go down).  Each source's writer runs in its own worker process; the
harness switches between them at every file write, fsync and SQL
statement, and may cut the power there: every writer dies, and what was
not fsynced is lost, torn at half, or kept.  A killed writer restarts
(recovery) and its source re-sends every line it got no ack for.

Checked once every writer is done (specs/log_aggregator.py), on what a
reader process (``log_aggregator.read``) finds: no torn line, no acked line lost, no line
stored twice, every query - each service, the whole time range and a
slice of it - exact against the model, each source's order kept, and
every line acked in the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import racekit
from racekit import Draw, Variant, variant_tests
from racekit.crash import Budget, CrashMachine, Driver, Run, Task, Violation
from specs.log_aggregator import duplicated, inexact, lost, out_of_order, show, torn, unacked
from systems import log_aggregator
from systems.log_aggregator import Line

TARGET = "systems.log_aggregator"
QUERIES = [(0, 99), (2, 3)]  # every service, over these ranges


def line(x: list[Any]) -> Line:
    """A line as the reader process sent it (JSON)."""
    return Line(str(x[0]), int(x[1]), str(x[2]), int(x[3]), str(x[4]), str(x[5]))


class LogDriver(Driver):
    target = TARGET  # the module whose serve runs in the workers (a test may plant a mutant)
    power_loss = True  # acks rest on fsync: a kill takes the page cache with it

    def __init__(self, variant: str, scenario: dict[str, Any]) -> None:
        self.variant = variant
        self.batch = int(scenario["batch"])
        self.lines = {src: [[i + 1, *ln] for i, ln in enumerate(lines)] for src, lines in sorted(scenario["sources"].items())}
        self.sent = {(src, int(seq)): (str(sv), int(ts), str(x)) for src, ls in self.lines.items() for seq, sv, ts, x in ls}
        self.acked: set[tuple[str, int]] = set()
        self.root = ""
        self.writing = 0  # writer tasks not yet done
        self.queries: list[list[Any]] = []
        self.checked = False

    def start(self, run: Run) -> None:
        self.root = str(run.workdir)
        log_aggregator.setup(self.root)
        for src, lines in self.lines.items():
            self._serve(run, src, src, lines)

    def _serve(self, run: Run, lane: str, src: str, lines: list[list[Any]]) -> None:
        args = {"root": self.root, "variant": self.variant, "source": src, "lines": lines, "batch": self.batch}
        task = run.submit(lane, f"{self.target}:serve", args, label=f"{src}: " + (", ".join(f"#{ln[0]}" for ln in lines) or "recover"))
        task.meta["source"] = src
        self.writing += 1

    def _read(self, run: Run) -> None:
        """Every writer is done: a reader process scans the store and asks every query."""
        self.queries = [[sv, a, b] for sv in sorted({sv for sv, _, _ in self.sent.values()}) for a, b in QUERIES]
        run.submit("reader", f"{self.target}:read", {"root": self.root, "variant": self.variant, "queries": self.queries},
                   label="scan + queries")

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        if "ack" in data:
            key = (task.meta["source"], int(data["ack"]))
            self.acked.add(key)
            run.note(task.name, f"ack {key[0]}#{key[1]}")

    def on_killed(self, run: Run, task: Task) -> None:
        """A writer restarts (recovery), and its source re-sends what it got no ack for; a reader asks again."""
        if "source" not in task.meta:
            self._read(run)
            return
        self.writing -= 1
        src = task.meta["source"]
        rest = [ln for ln in self.lines[src] if (src, ln[0]) not in self.acked]
        self._serve(run, f"{src}'", src, rest)

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        if "source" in task.meta:
            self.writing -= 1
            if self.writing == 0:
                self._read(run)
        else:
            self._check(run, result)

    def finish(self, run: Run) -> None:
        if not self.checked:
            raise Violation("no-acked-line-lost", "the reader never answered")

    def _check(self, run: Run, found: dict[str, Any]) -> None:
        self.checked = True
        stored = [line(x) for x in found["stored"]]
        run.note("check", "stored", "; ".join(show(ln) if not ln.torn else f"TORN {ln.torn!r}" for ln in stored) or "nothing")
        checks = [
            ("no-torn-line", torn(stored, self.sent)),
            ("no-acked-line-lost", lost(stored, self.acked)),
            ("query-exact", duplicated(stored)),
            ("per-source-order", out_of_order(stored, "the store")),
            ("every-line-acked", unacked(self.sent, self.acked)),
        ]
        for prop, why in checks:
            if why:
                raise Violation(prop, why)
        for (service, since, until), answer in zip(self.queries, found["answers"], strict=True):
            got = [line(x) for x in answer]
            for prop, why in (("query-exact", inexact(got, stored, service, since, until)),
                              ("per-source-order", out_of_order(got, f"query({service!r}, {since}..{until})"))):
                if why:
                    raise Violation(prop, why)

    def stats(self) -> dict[str, Any]:
        return {"requests": len(self.sent)}


class Machine(CrashMachine):
    system = log_aggregator.SYSTEM
    max_kills = 1
    # ci bounds at 2: a power loss that *tears* an unsynced batch is two choices (the kill, then "torn")
    budgets = {**CrashMachine.budgets, "ci": Budget(levels=2, level_runs=200, hypothesis=4, replay_levels=1, replay_runs=60)}

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return LogDriver(variant.name, scenario)

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            {"batch": 1, "sources": {"s0": [["api", 1, "a1"]]}},
            {"batch": 1, "sources": {"s0": [["api", 1, "a1"]], "s1": [["api", 1, "b1"]]}},
            # two batches in one segment (offsets), a rotation (offsets again), two sources in one query
            {"batch": 1, "sources": {"s0": [["api", 1, "a1"], ["db", 2, "a2"], ["api", 2, "a3"]], "s1": [["api", 2, "b1"]]}},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        sources: dict[str, list[list[Any]]] = {}
        for s in range(draw.integer(1, 2)):
            ts, lines = 0, []
            for i in range(draw.integer(1, 3)):
                ts += draw.integer(0, 2)
                lines.append([draw.pick(["api", "db"]), ts, f"{'ab'[s]}{i + 1}"])
            sources[f"s{s}"] = lines
        return {"batch": draw.integer(1, 3), "sources": sources}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        sources = scenario["sources"]
        if len(sources) > 1:
            for src in sorted(sources):
                yield {**scenario, "sources": {s: ls for s, ls in sources.items() if s != src}}
        for src, lines in sorted(sources.items()):
            if len(lines) > 1:
                for i in range(len(lines)):
                    yield {**scenario, "sources": {**sources, src: lines[:i] + lines[i + 1:]}}
        if scenario["batch"] > 1:
            yield {**scenario, "batch": scenario["batch"] - 1}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(ls) for ls in scenario["sources"].values())


test_log_aggregator = variant_tests(Machine)


def planted(module: str) -> type[CrashMachine]:
    """``Machine`` whose writers and reader run ``tests.crash_mutants.<module>`` (a patched copy)."""

    class Mutant(Machine):
        @classmethod
        def driver(cls, variant: Variant, scenario: Any) -> Driver:
            d = LogDriver(variant.name, scenario)
            d.target = f"tests.crash_mutants.{module}"
            return d

    return Mutant


@pytest.mark.parametrize(("module", "prop"), [("log_aggregator_no_fsync", "no-acked-line-lost"),
                                              ("log_aggregator_no_tail_cut", "no-torn-line")])
def test_power_loss_catches_what_a_process_crash_cannot(module: str, prop: str) -> None:
    """Acked lines rest on fsync, and recovery must cut what a torn power loss leaves: both are found."""
    out = racekit.search(planted(module), "segments")
    assert out.failed and out.property == prop, (out.property, out.message)
