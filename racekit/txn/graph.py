"""The dependency graph over transactions, and the real-time and process orders.

Vertices are completions (positions in ``TxnHistory.completions``).  An edge
``a -> b`` carries a bit set of relations, because one pair can be related in
several ways at once (``b`` overwrote ``a``'s append *and* read ``a``'s write
of another key): ``WW`` (b overwrote a's version), ``WR`` (b read a's
version), ``RW`` (a read a version that b overwrote: an anti-dependency),
``PROCESS`` (the same process ran a, then b) and ``REALTIME`` (a completed
before b was invoked).  For each (a, b, relation) the graph keeps the first
piece of evidence seen - the key and versions - so a cycle can be explained.

The real-time order is kept as Elle keeps it: not every pair, only a
transitive reduction built in one pass (each new invocation is linked from
the completions not already implied by a later one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from racekit.txn.history import Op

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
DATA = WW | WR | RW
REL_NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}
REL_BITS = (WW, WR, RW, PROCESS, REALTIME)


@dataclass(frozen=True, slots=True)
class Why:
    """Evidence for one relation: ``key``, the version ``a`` left or saw, the one ``b`` made or saw."""

    key: Any = None
    value: Any = None
    value2: Any = None
    a_mop: int | None = None
    b_mop: int | None = None


class DepGraph:
    """A directed graph of completions with relation bit sets on its edges."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.out: list[dict[int, int]] = [{} for _ in range(n)]
        self.why: dict[tuple[int, int, int], Why] = {}
        self.touched: set[int] = set()  # vertices ever linked, even by a dropped self-edge

    def link(self, a: int, b: int, rel: int, why: Why | None = None) -> None:
        """Add relation ``rel`` to edge ``a -> b`` (self-edges are dropped, their vertex kept)."""
        self.touched.add(a)
        self.touched.add(b)
        if a == b:
            return
        edges = self.out[a]
        edges[b] = edges.get(b, 0) | rel
        if why is not None:
            self.why.setdefault((a, b, rel), why)

    def rels(self, a: int, b: int) -> int:
        return self.out[a].get(b, 0)

    def edges(self) -> Iterator[tuple[int, int, int]]:
        for a, succ in enumerate(self.out):
            for b, rels in succ.items():
                yield a, b, rels

    def edge_count(self) -> int:
        return sum(len(s) for s in self.out)

    def empty(self) -> bool:
        """No vertex was ever linked: Elle's ``empty-transaction-graph``."""
        return not self.touched


def realtime_order(graph: DepGraph, ops: Sequence[Op], position_of: dict[int, int]) -> None:
    """Add ``REALTIME`` edges: ``a -> b`` when ``a`` completed ``:ok`` before ``b`` was invoked.

    ``ops`` is the client history in order; ``position_of`` maps a
    completion's history position to its vertex.  Walking the history, the
    ``:ok`` completions seen are kept in a frontier; an invocation is linked
    from every frontier member, and a new completion evicts the members that
    already precede it (they reach everything after it through it).  Only
    ``:ok`` ops precede anything: a failed op did not happen and a crashed one
    may have happened at any later time.  Edges go to any completion
    (including failed and crashed ones), as Elle draws them.
    """
    completion_of: dict[int, int] = {}
    for pos, v in position_of.items():
        inv = ops_invoke(ops, pos)
        if inv is not None:
            completion_of[inv] = v
    frontier: set[int] = set()
    preds: dict[int, set[int]] = {}
    for op in ops:
        if op.type == "invoke":
            b = completion_of.get(op.position)
            if b is None:
                continue
            preds[b] = set(frontier)
            for a in frontier:
                graph.link(a, b, REALTIME)
        elif op.type == "ok":
            done = position_of.get(op.position)
            if done is None:
                continue
            frontier -= preds.get(done, set())
            frontier.add(done)


def ops_invoke(ops: Sequence[Op], position: int) -> int | None:
    """The invocation position of the completion at ``position`` (None: none, or synthetic)."""
    if position >= len(ops):
        return None
    return ops[position].invoke_position


def process_order(graph: DepGraph, completions: Sequence[Op]) -> None:
    """Add ``PROCESS`` edges between each process's consecutive ``:ok`` completions."""
    last: dict[int, int] = {}
    for v, op in enumerate(completions):
        if op.type != "ok":
            continue
        prev = last.get(op.process)
        if prev is not None:
            graph.link(prev, v, PROCESS)
        last[op.process] = v


def tarjan(n: int, succ: Sequence[Iterable[int]]) -> tuple[list[int], int]:
    """Every strongly connected component (Tarjan, iterative): ``(component of each vertex, count)``.

    Components are numbered in the order Tarjan closes them, which is a
    reverse topological order of the condensation: every edge between two
    components goes from a higher number to a lower one.
    """
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work: list[tuple[int, Iterator[int]]] = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    work.append((w, iter(succ[w])))
                    advanced = True
                    break
                if comp[w] == -1 and index[w] < low[v]:
                    low[v] = index[w]
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
    return comp, ncomp


def sccs(n: int, succ: Sequence[Iterable[int]]) -> list[list[int]]:
    """Strongly connected components with more than one vertex, each sorted, ordered by smallest vertex."""
    comp, ncomp = tarjan(n, succ)
    members: list[list[int]] = [[] for _ in range(ncomp)]
    for v, c in enumerate(comp):
        members[c].append(v)
    return sorted((m for m in members if len(m) > 1), key=lambda m: m[0])
