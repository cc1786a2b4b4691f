"""Exhaustive depth-first search over schedules, with optional DPOR.

Plain DFS tries every enabled thread at every step (optionally only schedules
with at most ``preemption_bound`` preemptions, as in CHESS).  With
``por=True`` it becomes dynamic partial-order reduction:

* *Source-set DPOR* (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014): after each
  execution, every race - two dependent steps of different threads with no
  other happens-before path between them - asks for the reversed order to be
  tried, by adding one *initial* of the reversing sequence to the backtrack set
  at the earlier step, unless one is there already.
* *Sleep sets* (Godefroid 1996): a thread whose alternative was already
  explored at a node, and whose next step is independent of the step taken,
  need not run next.  A run whose enabled threads are all asleep is cut short.

Executions are replayed from the start (stateless search), so the stack keeps,
per step, the options, the chosen thread, and the backtrack/done/sleep sets.

DPOR is sound only if every shared access is a switch point: racekit
primitives always are; plain attribute accesses are only with opcode tracing.
Combined with a preemption bound DPOR is a heuristic (bounding prunes
backtrack points that DPOR relies on).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from racekit.errors import RacekitInternalError
from racekit.sched.access import Access, dependent
from racekit.sched.runtime import Execution, RunResult
from racekit.sched.strategies import SleepBlocked


@dataclass
class _Node:
    options: tuple[int, ...]
    chosen: int
    prev: int | None  # thread that ran the step before this one
    preemptions: int  # preemptions on the path before this node
    pending: dict[int, Access | None]
    sleep: frozenset[int]
    backtrack: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)

    def is_preemption(self, tid: int) -> bool:
        return self.prev is not None and self.prev in self.options and tid != self.prev


class _DFSChooser:
    def __init__(self, strategy: DFSStrategy) -> None:
        self.s = strategy
        self.step = 0
        self.ex: Execution | None = None

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        s = self.s
        i = self.step
        self.step += 1
        opts = tuple(int(o) for o in options)  # type: ignore[call-overload]
        if i < len(s.stack):
            node = s.stack[i]
            if node.options != opts:
                raise RacekitInternalError(
                    f"DFS replay diverged at step {i}: expected options {node.options}, got {opts}; "
                    "is the code under test deterministic?"
                )
            return opts.index(node.chosen)
        assert self.ex is not None
        threads = self.ex.threads
        prev_node = s.stack[i - 1] if i else None
        prev = threads[prev_node.chosen].tid if prev_node else None
        preemptions = (prev_node.preemptions + prev_node.is_preemption(prev_node.chosen)) if prev_node else 0
        pending = {t: threads[t].pending for t in opts}
        sleep: frozenset[int] = frozenset()
        if s.por and prev_node is not None:
            taken = prev_node.pending[prev_node.chosen]
            carried = (prev_node.sleep | prev_node.done) - {prev_node.chosen}
            sleep = frozenset(
                t for t in carried if t in pending and not dependent(prev_node.pending.get(t), taken)
            )
        node = _Node(opts, -1, prev, preemptions, pending, sleep)
        candidates = [t for t in opts if t not in sleep and s.allowed(node, t)]
        if not candidates:
            raise SleepBlocked()
        node.chosen = candidates[0]
        node.done.add(node.chosen)
        node.backtrack = {node.chosen} if s.por else set(t for t in opts if s.allowed(node, t))
        s.stack.append(node)
        return opts.index(node.chosen)


class DFSStrategy:
    """Exhaustive search; ``por`` turns on DPOR + sleep sets."""

    name = "dfs"

    def __init__(self, preemption_bound: int | None = None, por: bool = True) -> None:
        self.bound = preemption_bound
        self.por = por
        self.stack: list[_Node] = []
        self.started = False
        self.exhausted = False
        self.sleep_blocked_runs = 0
        self._chooser: _DFSChooser | None = None

    def allowed(self, node: _Node, tid: int) -> bool:
        if self.bound is None:
            return True
        return node.preemptions + node.is_preemption(tid) <= self.bound

    def next_chooser(self) -> _DFSChooser | None:
        if self.started and not self._backtrack():
            self.exhausted = True
            return None
        self.started = True
        self._chooser = _DFSChooser(self)
        return self._chooser

    def attach(self, execution: Execution) -> None:
        assert self._chooser is not None
        self._chooser.ex = execution

    def observe(self, result: RunResult) -> None:
        if result.sleep_blocked:
            self.sleep_blocked_runs += 1
        if self.por:
            self._add_backtrack_points(result)

    # ------------------------------------------------------------------ DPOR
    def _add_backtrack_points(self, result: RunResult) -> None:
        events: list[tuple[int, Access | None]] = [(st.tid, st.access) for st in result.steps]
        n_exec = len(events)
        # Threads that never got to run their next step still race with the past.
        for t in result.threads:
            if not t.done and t.pending is not None:
                events.append((t.tid, t.pending))
        clocks: list[dict[int, int]] = []
        last: dict[int, int] = {}
        for j, (p, acc) in enumerate(events):
            base = dict(clocks[last[p]]) if p in last else {}
            deps = [i for i in range(min(j, n_exec)) if events[i][0] != p and dependent(events[i][1], acc)]
            for i in deps:
                pi = events[i][0]
                if base.get(pi, -1) >= i:
                    continue
                if any(k > i and clocks[k].get(pi, -1) >= i for k in deps):
                    continue
                if i < len(self.stack):
                    self._reverse(i, j, events, clocks)
            clock = base
            for i in deps:
                for q, v in clocks[i].items():
                    if clock.get(q, -1) < v:
                        clock[q] = v
            clock[p] = j
            if j < n_exec:
                clocks.append(clock)
                last[p] = j
            else:
                clocks.append(clock)

    def _reverse(self, i: int, j: int, events: list[tuple[int, Access | None]], clocks: list[dict[int, int]]) -> None:
        """Ask node i to try a thread that starts the sequence reversing race (i, j).

        A release and the acquire it enables are never co-enabled, so that
        pair cannot be reversed; the race that matters is between the two
        acquires (Flanagan & Godefroid's co-enabledness condition).  Redirect
        to the releasing thread's own acquire of the same object.
        """
        ai, aj = events[i][1], events[j][1]
        if ai is not None and aj is not None and ai.sync == "release" and aj.sync == "acquire":
            pi = events[i][0]
            for a in range(i - 1, -1, -1):
                ea = events[a]
                if ea[0] == pi and ea[1] is not None and ea[1].key == ai.key and ea[1].sync == "acquire":
                    i = a
                    break
            else:
                pass
        node = self.stack[i]
        pi = events[i][0]
        # v = the steps after i that do not happen-after i, then j
        v = [k for k in range(i + 1, j) if clocks[k].get(pi, -1) < i] + [j]
        initials: list[int] = []
        seen_threads: set[int] = set()
        for idx, k in enumerate(v):
            q = events[k][0]
            if q in seen_threads:
                continue
            seen_threads.add(q)
            kclock = clocks[k] if k < len(clocks) else {}
            if not any(kclock.get(events[m][0], -1) >= m for m in v[:idx]):
                initials.append(q)
        if node.backtrack.intersection(initials):
            return
        for q in node.options:
            if q in initials:
                node.backtrack.add(q)
                return
        node.backtrack.update(node.options)

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
