"""Dynamic partial-order reduction with sleep sets (thread engine).

* *Source-set DPOR* (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014): after
  each run, every race - two dependent steps of different threads with no
  other happens-before path between them - asks for the reversed order to be
  tried, by adding one *initial* of the reversing sequence to the backtrack
  set at the earlier step, unless one is there already.
* *Sleep sets* (Godefroid 1996): a thread whose alternative was already
  explored at a node, and whose next step is independent of the step taken,
  need not run next.  A run whose enabled threads are all asleep is cut short
  (:class:`~racekit.choice.chooser.Prune`).

Runs are replayed from the start (stateless search), so the stack keeps, per
decision, the options, the chosen thread, and the backtrack/done/sleep sets.
What a decision needs comes through the engine's :class:`View`; what a run
did (steps with their accesses and enabled sets) through its Result.

DPOR is sound only if every shared access is a switch point: racekit
primitives always are; plain attribute accesses are only with opcode
tracing.  With a preemption ``bound`` it is a heuristic (bounding prunes
backtrack points DPOR relies on).  The race analysis is in ``dpor_races.py``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from racekit.choice.chooser import Prune, View
from racekit.choice.coverage import Coverage
from racekit.choice.result import Result
from racekit.choice.strategies.dpor_races import Node, add_backtrack_points
from racekit.choice.strategy import Knobs, Trial, register
from racekit.errors import RacekitInternalError
from racekit.sched.access import dependent


class DPORChooser:
    def __init__(self, strategy: DPORStrategy) -> None:
        self.s = strategy
        self.decision = 0

    def choose(self, options: Sequence[Hashable], kind: str, view: View | None = None) -> int:
        if len(options) == 1:
            return 0
        if view is None:
            raise RacekitInternalError("DPOR needs the thread engine's view of each decision")
        s = self.s
        i = self.decision
        self.decision += 1
        opts = tuple(int(o) for o in options)  # type: ignore[call-overload]
        at = view.at
        if i < len(s.stack):
            node = s.stack[i]
            if node.options != opts or node.at != at:
                raise RacekitInternalError(
                    f"DPOR replay diverged at decision {i} (step {at}): expected options {node.options} "
                    f"at step {node.at}, got {opts}; is the code under test deterministic?"
                )
            return opts.index(node.chosen)
        prev_node = s.stack[i - 1] if i else None
        current = view.current
        preemptions = (prev_node.preemptions + prev_node.is_preemption(prev_node.chosen)) if prev_node else 0
        pending: dict[int, Any] = {t: view.pending(t) for t in opts}
        sleep: frozenset[int] = frozenset()
        if s.por and prev_node is not None:
            # Every step since the previous decision (the one it chose and any
            # forced single-option steps after it) wakes the sleepers it
            # depends on, and a thread that ran is no longer asleep.
            since = view.steps_since(prev_node.at)
            ran = {st.tid for st in since}  # type: ignore[attr-defined]
            carried = (prev_node.sleep | prev_node.done) - ran
            sleep = frozenset(
                t
                for t in carried
                if t in pending
                and not any(dependent(prev_node.pending.get(t), st.access) for st in since)  # type: ignore[attr-defined]
            )
        node = Node(at, opts, -1, current if isinstance(current, int) else None, preemptions, pending, sleep)
        candidates = [t for t in opts if t not in sleep and s.allowed(node, t)]
        if not candidates:
            raise Prune()
        node.chosen = candidates[0]
        node.done.add(node.chosen)
        node.backtrack = {node.chosen} if s.por else {t for t in opts if s.allowed(node, t)}
        s.stack.append(node)
        return opts.index(node.chosen)


@register("dpor", "DPOR + sleep sets over thread schedules; knob bound (preemptions)", needs_view=True)
class DPORStrategy:
    """Exhaustive search up to Mazurkiewicz equivalence (``por=False``: every schedule, for tests)."""

    name = "dpor"

    def __init__(self, knobs: Knobs, por: bool = True) -> None:
        self.bound = knobs.bound
        self.unit = knobs.unit
        self.por = por
        self.stack: list[Node] = []
        self.started = False
        self.exhausted = False
        self.done = False
        self.runs = 0
        self.cut = False

    def allowed(self, node: Node, tid: int) -> bool:
        if self.bound is None:
            return True
        ok = node.preemptions + node.is_preemption(tid) <= self.bound
        self.cut = self.cut or not ok
        return ok

    def next_trial(self) -> Trial | None:
        if self.done:
            return None
        if self.started and not self._backtrack():
            self.exhausted = True
            self.done = True
            return None
        self.started = True
        return Trial(DPORChooser(self))

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1
        if hit:
            self.done = True
            return
        if self.por:
            add_backtrack_points(self.stack, result.events, result.unfinished, bounded=self.bound is not None)

    def _backtrack(self) -> bool:
        """Move to the next unexplored branch; False when the tree is exhausted."""
        while self.stack:
            node = self.stack[-1]
            todo = [
                t
                for t in node.options
                if t in node.backtrack and t not in node.done and t not in node.sleep and self.allowed(node, t)
            ]
            if todo:
                node.chosen = todo[0]
                node.done.add(node.chosen)
                return True
            self.stack.pop()
        return False

    def coverage(self) -> Coverage:
        if not self.exhausted:
            return Coverage.sampled(self.runs)
        if self.bound is not None and self.cut:
            return Coverage("bounded", self.runs, self.bound, self.unit)
        return Coverage("exhaustive", self.runs)

    def abandon(self, error: BaseException) -> bool:
        return False

    def close(self) -> None:
        pass
