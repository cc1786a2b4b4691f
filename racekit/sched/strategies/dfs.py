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
from racekit.sched.access import Access, ConflictIndex, dependent
from racekit.sched.runtime import Execution, RunResult
from racekit.sched.strategies import SleepBlocked


@dataclass
class _Node:
    at: int  # index of the step this decision makes (single-option steps make none)
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
        assert self.ex is not None
        ex = self.ex
        at = len(ex.steps)
        if i < len(s.stack):
            node = s.stack[i]
            if node.options != opts or node.at != at:
                raise RacekitInternalError(
                    f"DFS replay diverged at decision {i} (step {at}): expected options {node.options} "
                    f"at step {node.at}, got {opts}; is the code under test deterministic?"
                )
            return opts.index(node.chosen)
        threads = ex.threads
        prev_node = s.stack[i - 1] if i else None
        # The thread that ran last, which single-option steps since the
        # previous decision may have changed.
        prev = ex.current.tid if ex.current is not None else None
        preemptions = (prev_node.preemptions + prev_node.is_preemption(prev_node.chosen)) if prev_node else 0
        pending = {t: threads[t].pending for t in opts}
        sleep: frozenset[int] = frozenset()
        if s.por and prev_node is not None:
            # Every step since the previous decision (the one it chose and any
            # forced single-option steps after it) wakes the sleepers it
            # depends on, and a thread that ran is no longer asleep.
            since = ex.steps[prev_node.at:]
            ran = {st.tid for st in since}
            carried = (prev_node.sleep | prev_node.done) - ran
            sleep = frozenset(
                t
                for t in carried
                if t in pending and not any(dependent(prev_node.pending.get(t), st.access) for st in since)
            )
        node = _Node(at, opts, -1, prev, preemptions, pending, sleep)
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
        self._node_at: dict[int, int] = {}
        self._enabled_at: list[tuple[int, ...]] = []

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
        for tid, pending in sorted(result.unfinished.items()):
            if pending is not None:
                events.append((tid, pending))
        # Decisions are made only where several threads are enabled.
        self._node_at = {node.at: k for k, node in enumerate(self.stack)}
        self._enabled_at = [st.enabled for st in result.steps]
        clocks: list[dict[int, int]] = []
        last: dict[int, int] = {}
        index = ConflictIndex()
        for j, (p, acc) in enumerate(events):
            base = clocks[last[p]] if p in last else {}
            deps = [i for i in index.candidates(acc) if events[i][0] != p and dependent(events[i][1], acc)]
            if j < n_exec:
                index.add(j, acc)
            # j's own clock first: reversing a race needs to know which steps
            # between i and j happen before j.
            clock = dict(base)
            for i in deps:
                for q, v in clocks[i].items():
                    if clock.get(q, -1) < v:
                        clock[q] = v
            clock[p] = j
            clocks.append(clock)
            if j < n_exec:
                last[p] = j
            for i in deps:
                pi = events[i][0]
                if base.get(pi, -1) >= i:
                    continue
                if any(k > i and clocks[k].get(pi, -1) >= i for k in deps):
                    continue
                self._reverse(i, j, events, clocks)

    def _reverse(
        self,
        i: int,
        j: int,
        events: list[tuple[int, Access | None]],
        clocks: list[dict[int, int]],
    ) -> None:
        """Ask node i to try a thread that starts the sequence reversing race (i, j).

        A lock release and the blocking acquire it enables are never
        co-enabled (Flanagan & Godefroid): the race that matters is between
        the two acquires, so reverse j with the releasing thread's own acquire
        instead.  Other operations a release enables ("wait": semaphores with
        free slots, queue gets, event waits, timed or non-blocking acquires)
        may be co-enabled with it: reverse both races.
        """
        ai, aj = events[i][1], events[j][1]
        if ai is not None and aj is not None and ai.sync == "release" and aj.sync in ("acquire", "wait"):
            pi = events[i][0]
            for a in range(i - 1, -1, -1):
                ea = events[a]
                if ea[0] == pi and ea[1] is not None and ea[1].key == ai.key and ea[1].sync in ("acquire", "wait"):
                    self._reverse_at(a, j, events, clocks)
                    if aj.sync == "acquire":
                        return
                    break
        self._reverse_at(i, j, events, clocks)

    def _reverse_at(
        self, i: int, j: int, events: list[tuple[int, Access | None]], clocks: list[dict[int, int]]
    ) -> None:
        n = self._node_at.get(i)
        if n is not None:
            self._add_initial(self.stack[n], i, j, events, clocks)
        pj = events[j][0]
        if pj in self._enabled_at[i]:
            return
        # j's thread was blocked at i, so the race cannot be reversed there:
        # what blocked it came earlier.  E.g. T0: q.put(); q.get() and T1:
        # q.put() on a queue of size 1: T1's put races with T0's get, but
        # T1 can only overtake T0's put.  Reverse j with the latest earlier
        # step of another thread that it depends on.
        aj = events[j][1]
        for a in range(i - 1, -1, -1):
            if events[a][0] != pj and dependent(events[a][1], aj):
                self._reverse_at(a, j, events, clocks)
                return

    def _add_initial(
        self,
        node: _Node,
        i: int,
        j: int,
        events: list[tuple[int, Access | None]],
        clocks: list[dict[int, int]],
    ) -> None:
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
            if not any(clocks[k].get(events[m][0], -1) >= m for m in v[:idx]):
                initials.append(q)
        if node.backtrack.intersection(initials):
            return
        for q in node.options:
            if q in initials:
                node.backtrack.add(q)
                return
        node.backtrack.update(node.options)  # no initial enabled: try them all (Flanagan & Godefroid)

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
