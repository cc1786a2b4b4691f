"""Build a crash-harness schedule by point labels instead of by counting choices.

``switch_at(Machine, "sqlite_deferred", scenario, [("c0", "read")])`` runs
the scenario once, lets each task in turn run until it stands at the point
with that label, switches to the next ready task there, and returns the
choice list - which ``racekit.run_scenario`` then reproduces exactly.  Tests
that describe an interleaving ("c0 reads, c1 runs to the end, c0 goes on")
stay right when operations gain or lose points.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

from racekit.crash import CrashMachine, Driver, Run

_LABEL = re.compile(r"^(?:pausepoint|crashpoint) (.+?) #\d+")


class _AtLabels:
    """Answers 0 until the next move's task stands at its label, then 1; keeps the real choices."""

    def __init__(self, holder: dict[str, Run], moves: list[tuple[str, str]]) -> None:
        self.holder = holder
        self.moves = moves
        self.choices: list[int] = []

    def choose(self, options: Sequence[Hashable], kind: str, view: object = None) -> int:
        answer = self._answer(options, kind)
        if len(options) > 1:  # only real decisions are recorded (as racekit's Recorder does)
            self.choices.append(answer)
        return answer

    def _answer(self, options: Sequence[Hashable], kind: str) -> int:
        if kind != "proc" or not self.moves:
            return 0
        task, label = self.moves[0]
        stops = [r for r in self.holder["run"].trace if r["what"].startswith(("pausepoint", "crashpoint"))]
        last = stops[-1] if stops else None
        at = _LABEL.match(last["what"]) if last is not None else None
        if options[0] == task and last is not None and last["name"] == task and at and at.group(1) == label:
            self.moves.pop(0)
            return 1
        return 0


def switch_at(machine: type[CrashMachine], variant: str, scenario: Any, moves: list[tuple[str, str]]) -> list[int]:
    """Choices for: each ``(task, label)`` in turn, ``task`` runs until it stands at ``label``, then a switch."""
    holder: dict[str, Run] = {}

    class Peek(machine):  # type: ignore[valid-type,misc]
        @classmethod
        def driver(cls, v: Any, sc: Any) -> Driver:
            d = machine.driver(v, sc)
            start = d.start

            def peek_start(run: Run) -> None:
                holder["run"] = run
                start(run)

            d.start = peek_start  # type: ignore[method-assign]
            return d

    v = machine.system.variant(variant)
    todo = list(moves)
    chooser = _AtLabels(holder, todo)
    with Peek.session(v) as session:
        session.run(scenario, chooser)
    assert not todo, f"never stood at {todo[0]}"
    return chooser.choices
