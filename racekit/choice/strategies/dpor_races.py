"""DPOR's race analysis: which reversals a finished run asks for.

Split from ``dpor.py`` to keep each file small; the algorithm is the
source-set DPOR one described there, unchanged from the version validated by
the differential tests against brute-force enumeration
(tests/test_sched_counts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.sched.access import Access, ConflictIndex, dependent


@dataclass
class Node:
    at: int  # index of the step this decision makes (single-option steps make none)
    options: tuple[int, ...]
    chosen: int
    prev: int | None  # thread that ran the step before this one, if it could go on
    preemptions: int  # preemptions on the path before this node
    pending: dict[int, Any]
    sleep: frozenset[int]
    backtrack: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)

    def is_preemption(self, tid: int) -> bool:
        return self.prev is not None and self.prev in self.options and tid != self.prev


Event = tuple[int, Access | None]


def add_backtrack_points(
    stack: list[Node], steps: Sequence[Any], unfinished: Mapping[Any, Any], *, bounded: bool = False
) -> None:
    events: list[Event] = [(st.tid, st.access) for st in steps]
    n_exec = len(events)
    # Threads that never got to run their next step still race with the past.
    for tid, pending in sorted(unfinished.items()):
        if pending is not None:
            events.append((int(tid), pending))
    # Decisions are made only where several threads are enabled.
    r = _Races(stack, events, [st.enabled for st in steps], bounded)
    clocks = r.clocks
    last: dict[int, int] = {}
    # Earlier steps filed by what they touch: looking up the few that may
    # conflict with step j instead of testing every one (quadratic in the run
    # length, which opcode tracing makes long); dependent() still decides.
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
            r.reverse(i, j)


class _Races:
    def __init__(self, stack: list[Node], events: list[Event], enabled_at: list[tuple[int, ...]], bounded: bool) -> None:
        self.bounded = bounded
        self.stack = stack
        self.events = events
        self.enabled_at = enabled_at
        self.node_at = {node.at: k for k, node in enumerate(stack)}
        self.clocks: list[dict[int, int]] = []

    def reverse(self, i: int, j: int) -> None:
        """Ask node i to try a thread that starts the sequence reversing race (i, j).

        A lock release and the blocking acquire it enables are never
        co-enabled (Flanagan & Godefroid): the race that matters is between
        the two acquires, so reverse j with the releasing thread's own acquire
        instead.  Other operations a release enables ("wait": semaphores with
        free slots, queue gets, event waits, timed or non-blocking acquires)
        may be co-enabled with it: reverse both races.
        """
        events = self.events
        ai, aj = events[i][1], events[j][1]
        if ai is not None and aj is not None and ai.sync == "release" and aj.sync in ("acquire", "wait"):
            pi = events[i][0]
            for a in range(i - 1, -1, -1):
                ea = events[a]
                if ea[0] == pi and ea[1] is not None and ea[1].key == ai.key and ea[1].sync in ("acquire", "wait"):
                    self.reverse_at(a, j)
                    if aj.sync == "acquire":
                        return
                    break
        self.reverse_at(i, j)

    def reverse_at(self, i: int, j: int) -> None:
        n = self.node_at.get(i)
        if n is not None:
            self.add_initial(self.stack[n], i, j)
        events = self.events
        pj = events[j][0]
        if pj in self.enabled_at[i]:
            return
        # j's thread was blocked at i, so the race cannot be reversed there:
        # what blocked it came earlier.  E.g. T0: q.put(); q.get() and T1:
        # q.put() on a queue of size 1: T1's put races with T0's get, but
        # T1 can only overtake T0's put.  Reverse j with the latest earlier
        # step of another thread that it depends on.
        aj = events[j][1]
        for a in range(i - 1, -1, -1):
            if events[a][0] != pj and dependent(events[a][1], aj):
                self.reverse_at(a, j)
                return

    def add_initial(self, node: Node, i: int, j: int) -> None:
        events, clocks = self.events, self.clocks
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
                if self.bounded:
                    self.add_conservative(node, q)
                return
        node.backtrack.update(node.options)  # no initial enabled: try them all (Flanagan & Godefroid)

    def add_conservative(self, node: Node, q: int) -> None:
        """Bounded search only: running ``q`` at ``node`` may be a preemption
        the bound forbids, so also try ``q`` at the latest earlier decision
        where it is not one (bounded partial-order reduction, Coons, Musuvathi
        & McKinley, OOPSLA 2013).  Unbounded DPOR never needs it."""
        if not node.is_preemption(q):
            return
        k = self.stack.index(node)
        for m in range(k - 1, -1, -1):
            earlier = self.stack[m]
            if q in earlier.options and not earlier.is_preemption(q):
                earlier.backtrack.add(q)
                return
