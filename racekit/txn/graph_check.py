"""Elle's bare cycle check: one dependency graph, valid iff it has no cycle.

``elle.core/check`` runs a single analyzer (a graph builder) over the
history and reports ``{:valid? (no cycle), :scc-count, :cycles}`` with one
explained cycle per strongly connected component, and no anomaly names.
Elle's own tests use it to pin down what each graph builder infers;
racekit's tests do the same through :func:`check_graph`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from racekit.txn import list_append as la
from racekit.txn import rw_register as rw
from racekit.txn.cycles import LIST_APPEND_ORDER, RW_REGISTER_ORDER, Walk, classify, label
from racekit.txn.explain import Cycle, explain
from racekit.txn.graph import WR, DepGraph, process_order, realtime_order, sccs
from racekit.txn.history import TxnHistory

ANALYZERS = ("list-append/graph", "rw-register/graph", "rw-register/wr-graph", "realtime-graph", "process-graph")


@dataclass
class GraphResult:
    valid: bool
    scc_count: int
    cycles: list[Cycle] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "scc-count": self.scc_count, "cycles": [c.to_json() for c in self.cycles]}


def build(history: TxnHistory, analyzer: str) -> DepGraph:
    """The graph one analyzer infers (``elle.`` prefixes, as in Elle's names, are accepted)."""
    name = analyzer.removeprefix("elle.").replace("core/", "")
    ops = history.completions
    graph = DepGraph(len(ops))
    if name == "list-append/graph":
        la.analyze(ops, graph)
    elif name == "rw-register/graph":
        rw.analyze(ops, graph, {})
    elif name == "rw-register/wr-graph":
        full = DepGraph(len(ops))
        rw.analyze(ops, full, {})
        for a, b, m in full.edges():
            if m & WR:
                graph.link(a, b, WR, full.why.get((a, b, WR)))
    elif name == "realtime-graph":
        realtime_order(graph, history.ops, {op.position: v for v, op in enumerate(ops)})
    elif name == "process-graph":
        process_order(graph, ops)
    else:
        raise ValueError(f"unknown analyzer {analyzer!r}; known: {', '.join(ANALYZERS)}")
    return graph


def check_graph(history: TxnHistory, analyzer: str) -> GraphResult:
    """Valid iff the analyzer's graph is acyclic; one shortest cycle per component otherwise."""
    graph = build(history, analyzer)
    order = LIST_APPEND_ORDER if history.workload == "list-append" else RW_REGISTER_ORDER
    comps = sccs(graph.n, graph.out)
    cycles = []
    for comp in comps:
        steps = _shortest_cycle(graph, comp, order)
        walk = Walk(classify([r for _, _, r in steps]), steps)
        cycles.append(explain(walk, graph, history))
    return GraphResult(not comps, len(comps), cycles)


def _shortest_cycle(graph: DepGraph, comp: list[int], order: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """A shortest cycle through the component's first vertex (BFS; one exists, it is strongly connected)."""
    inside = set(comp)
    start = comp[0]
    parent: dict[int, int] = {}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for w in graph.out[u]:
            if w not in inside:
                continue
            if w == start:
                path = [u]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                path.reverse()
                vs = path + [start]
                return [(a, b, label(graph.rels(a, b), order)) for a, b in zip(vs, vs[1:], strict=False)]
            if w not in parent:
                parent[w] = u
                queue.append(w)
    raise AssertionError("a strongly connected component always has a cycle")
