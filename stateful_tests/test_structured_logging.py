"""Real worker processes logging JSON records into one file, under the crash harness.

A scenario is a list of workers, each with the requests it handles (one
record each).  Every worker is a real process (racekit.crash); it stops at
each write to the log (``racekit.crash.files``: an operation, with a point
after it) and at each record sent to the queue (an ``operation`` mark), and
the harness chooses which worker runs next - so the interleaving of every
``write(2)`` is the schedule, explored and replayed step by step - and may
SIGKILL a worker at a point.  The checks read the file itself
(specs/structured_logging.py): ``valid_json_lines``, ``each_record_once``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from racekit import Draw, Variant, variant_tests
from racekit.crash import CrashMachine, Driver, Run, Task, Violation, without_one
from specs.structured_logging import Key, invalid_lines, record_problem
from systems import structured_logging

TARGET = "systems.structured_logging"


class LoggingDriver(Driver):
    target = TARGET  # the module whose work() runs in the workers (a test may plant a mutant)

    def __init__(self, variant: str, workers: list[list[str]], checked: tuple[str, ...]) -> None:
        self.variant = variant
        self.workers = [list(reqs) for reqs in workers]
        self.checked = checked
        self.logged: set[Key] = set()
        self.maybe: set[Key] = set()
        self.done_upto: dict[str, int] = {}
        self.collector: structured_logging.Collector | None = None
        self.log = self.sock = ""

    def start(self, run: Run) -> None:
        self.log = str(run.workdir / "app.log")
        self.sock = str(run.workdir / "log.sock")
        self.collector = structured_logging.collector(self.variant, self.log, self.sock)
        for i, requests in enumerate(self.workers):
            name = f"w{i}"
            args = {"log": self.log, "sock": self.sock, "variant": self.variant, "worker": name, "requests": requests}
            run.submit(name, f"{self.target}:work", args, label=f"log {', '.join(requests)}")

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        request = str(data["logged"])
        self.logged.add((task.name, request))
        self.done_upto[task.name] = self.done_upto.get(task.name, 0) + 1
        op = run.invoke(task.name, "log", (request,))
        run.ok(op, task.name)

    def on_killed(self, run: Run, task: Task) -> None:
        requests = self.workers[int(task.name[1:])]
        n = self.done_upto.get(task.name, 0)
        if n < len(requests):
            self.maybe.add((task.name, requests[n]))  # it died logging this one: it may or may not be there

    def finish(self, run: Run) -> None:
        self._stop_collector()
        path = Path(self.log)
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if "valid_json_lines" in self.checked:
            bad = invalid_lines(text)
            if bad:
                line_no, line = bad[0]
                raise Violation("valid_json_lines", f"line {line_no} of the log is not one JSON record: {line!r}")
        if "each_record_once" in self.checked:
            problem = record_problem(text, self.logged, self.maybe)
            if problem is not None:
                raise Violation("each_record_once", problem)

    def _stop_collector(self) -> None:
        if self.collector is not None:
            collector, self.collector = self.collector, None
            collector.stop()

    def close(self) -> None:
        self._stop_collector()

    def stats(self) -> dict[str, Any]:
        return {"requests": sum(len(r) for r in self.workers)}


class Machine(CrashMachine):
    system = structured_logging.SYSTEM

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        props = (variant.property,) if variant.expect == "violation" else structured_logging.SYSTEM.properties
        return LoggingDriver(variant.factory(), scenario["workers"], tuple(p for p in props if p))

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [{"workers": [["r1"], ["r2"]]}]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        n, workers = 0, []
        for _ in range(draw.integer(2, 3)):
            requests = []
            for _ in range(draw.integer(1, 3)):
                n += 1
                requests.append(f"r{n}")
            workers.append(requests)
        return {"workers": workers}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        for workers in without_one(scenario["workers"], keep=2):  # several processes: the premise
            yield {"workers": workers}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(r) for r in scenario["workers"])


test_structured_logging = variant_tests(Machine)
