"""Cycles of each anomaly class inside one strongly connected component.

A cycle's class comes from the relations its steps use (Adya; Elle's names):

========================  =====================================================
G0                        only ww
G1c                       ww and wr, at least one wr
G-single-item             exactly one rw, the rest ww/wr
G-nonadjacent-item        two or more rw, no two adjacent (around the cycle too)
G2-item                   two or more rw, some two adjacent
``<class>-process``       also at least one process edge
``<class>-realtime``      also at least one realtime edge
========================  =====================================================

An edge may carry several relations (``b`` overwrote ``a``'s append and also
read ``a``'s write of another key).  As in Elle, each edge is *labelled* by
one of them, the first in the workload's explanation order (list-append:
ww, wr, rw, then process/realtime; rw-register: wr, ww, rw, ...), and
cycles are classified by those labels.  What the labels hide - a realtime
edge that is also an anti-dependency can still make a strong model fail -
is caught by :meth:`SccSearch.cycle_exists`, which looks for cycles in each
model's projection of the unlabelled relations (Elle's
``<model>-cycle-exists``).  Cycles are closed walks: that is exactly
what the consistency models' acyclicity conditions forbid (Cerone and
Gotsman's characterisation of snapshot isolation is acyclicity of a composed
relation, whose cycles may revisit a transaction).  For every class except
G-nonadjacent the shortest such walk is a simple cycle whenever the class is
searched at all (a repeated vertex would split it into a shorter walk of the
same class, or of a class that implies it and was found first); a reported
G-nonadjacent walk can revisit a transaction only when a G0/G1c cycle shares
it, and it is then shown as the walk it is.

The search per class has two parts:

1. *Existence*, exactly and in linear time, from strongly connected
   components of a derived graph: e.g. a G-single-item cycle exists iff some
   rw edge ``u -> v`` has ``v`` reaching ``u`` over ww/wr edges (reachability
   through the condensation, as bit sets); a G-nonadjacent-item walk exists
   iff, in the two-state graph "was the last step rw?", some rw step lies
   inside a component.  This also yields the start vertices.
2. *The witness*: breadth-first search over (transaction, automaton state)
   from those starts, which returns a shortest closed walk through the start.
   Further starts are searched with the length bound of the best so far,
   within a deterministic budget of expanded states (never wall-clock time),
   so the cycle shown is the shortest in the component whenever the budget
   suffices, and a short one otherwise.

Existence tests assume the search order of :data:`CLASSES` (every class after
the classes that imply it): a class implied by one already found is never
searched, which is what the tests rely on (see ``docs/txncheck.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from racekit.txn.graph import PROCESS, REALTIME, RW, WR, WW, DepGraph, tarjan
from racekit.txn.lattice import stronger_models

D = WW | WR

# automaton state bits
_CNT = 3  # number of rw steps, saturating at 2
_LAST_RW = 4
_ADJ = 8
_HAS_X = 16


@dataclass(frozen=True)
class CycleClass:
    name: str
    base: str  # G0 | G1c | G-single-item | G-nonadjacent-item | G2-item
    x: int = 0  # PROCESS | REALTIME | 0


_BASES = ("G0", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item")
CLASSES: tuple[CycleClass, ...] = (
    tuple(CycleClass(b, b) for b in _BASES)
    + tuple(CycleClass(f"{b}-process", b, PROCESS) for b in _BASES)
    + tuple(CycleClass(f"{b}-realtime", b, REALTIME) for b in _BASES)
)
"""Every class searched, each after every class that implies it."""

DEFAULT_BUDGET = 200_000

LIST_APPEND_ORDER = (WW, WR, RW, PROCESS, REALTIME)
RW_REGISTER_ORDER = (WR, WW, RW, PROCESS, REALTIME)
"""Which relation explains an edge that has several: Elle's explainer order per workload."""

CYCLE_EXISTS: tuple[tuple[str, int, int], ...] = (
    ("read-uncommitted", WW, 0),
    ("read-committed", WW | WR, 0),
    ("snapshot-isolation", WW | WR, RW),
    ("repeatable-read", WW | WR | RW, 0),
    ("serializable", WW | WR | RW, 0),
    ("strong-session-read-uncommitted", WW | PROCESS, 0),
    ("strong-session-read-committed", WW | WR | PROCESS, 0),
    ("strong-session-snapshot-isolation", WW | WR | PROCESS, RW),
    ("strong-session-serializable", WW | WR | RW | PROCESS, 0),
    ("strong-read-uncommitted", WW | REALTIME, 0),
    ("strong-read-committed", WW | WR | REALTIME, 0),
    ("strong-snapshot-isolation", WW | WR | REALTIME, RW),
    ("strong-serializable", WW | WR | RW | REALTIME, 0),
)
"""Elle's cycle-exists specs: the subgraph each model requires to be acyclic."""

CYCLE_EXISTS_TYPE = {
    "read-uncommitted": "PL-1", "read-committed": "PL-2", "snapshot-isolation": "PL-SI",
    "repeatable-read": "PL-2.99", "serializable": "PL-3", "strong-serializable": "PL-SS",
    "strong-session-read-uncommitted": "strong-session-PL-1", "strong-session-read-committed": "strong-session-PL-2",
    "strong-read-uncommitted": "strong-PL-1", "strong-read-committed": "strong-PL-2",
}
"""The anomaly name of a model's cycle-exists: ``<Adya name>-cycle-exists``."""


def cycle_exists_type(model: str) -> str:
    return f"{CYCLE_EXISTS_TYPE.get(model, model)}-cycle-exists"


def label(mask: int, order: Sequence[int]) -> int:
    """The relation that explains an edge with relations ``mask``."""
    for rel in order:
        if mask & rel:
            return rel
    return 0


@dataclass
class Walk:
    """A closed walk: ``steps[i] = (a, b, rel)``, ``steps[0][0] == steps[-1][1]``."""

    cls: str
    steps: list[tuple[int, int, int]]

    @property
    def vertices(self) -> list[int]:
        return [a for a, _, _ in self.steps] + [self.steps[0][0]]

    @property
    def simple(self) -> bool:
        vs = [a for a, _, _ in self.steps]
        return len(set(vs)) == len(vs)


def classify(rels: Sequence[int]) -> str:
    """The class of a closed walk from the relation picked at each step."""
    n_rw = sum(1 for r in rels if r == RW)
    if n_rw == 1:
        base = "G-single-item"
    elif n_rw > 1:
        adjacent = any(rels[i] == RW and rels[i - 1] == RW for i in range(len(rels)))
        base = "G2-item" if adjacent else "G-nonadjacent-item"
    elif WR in rels:
        base = "G1c"
    else:
        base = "G0"
    if REALTIME in rels:
        return base + "-realtime"
    if PROCESS in rels:
        return base + "-process"
    return base


class SccSearch:
    """The cycle searches of one strongly connected component of a dependency graph."""

    def __init__(self, graph: DepGraph, members: Sequence[int], order: Sequence[int] = LIST_APPEND_ORDER,
                 budget: int = DEFAULT_BUDGET) -> None:
        self.members = list(members)
        self.local = {v: i for i, v in enumerate(self.members)}
        self.out_all: list[list[tuple[int, int]]] = [
            [(self.local[w], m) for w, m in graph.out[v].items() if w in self.local] for v in self.members
        ]
        self.out = [[(w, label(m, order)) for w, m in edges] for edges in self.out_all]
        self.budget = budget
        self.rels = 0
        for edges in self.out:
            for _, m in edges:
                self.rels |= m
        self._comp: dict[int, list[int]] = {}

    # -- Elle's cycle-exists: models ruled out by some cycle, without naming it

    def cycle_exists(self, specs: Sequence[tuple[str, int, int]]) -> list[str]:
        """Models (in ``specs`` order) whose forbidden cycles exist here, weakest per chain.

        Each spec is ``(model, base mask, extension mask)``: a cycle in the
        projection onto ``base`` (unlabelled relations), or, with an
        extension mask, a closed walk in ``base`` that may also take
        ``extension`` steps, never two in a row (the sequential extension
        ``A u A;B``).  A model is skipped once a weaker one has a cycle.
        """
        found: list[str] = []
        skip: set[str] = set()
        n = len(self.out_all)
        for model, base, ext in specs:
            if model in skip:
                continue
            if ext:
                succ: list[list[int]] = [[] for _ in range(2 * n)]
                for u, edges in enumerate(self.out_all):
                    for w, m in edges:
                        if m & base:
                            succ[2 * u].append(2 * w)
                            succ[2 * u + 1].append(2 * w)
                        if m & ext:
                            succ[2 * u].append(2 * w + 1)
            else:
                succ = [[w for w, m in edges if m & base] for edges in self.out_all]
            comp, ncomp = tarjan(len(succ), succ)
            if ncomp < len(succ):  # some component has two or more members
                found.append(model)
                skip |= stronger_models(model)
        return found

    # -- existence ---------------------------------------------------------

    def _components(self, mask: int) -> list[int]:
        """Component of each local vertex in the subgraph of edges with a relation in ``mask``."""
        if mask not in self._comp:
            succ = [[w for w, m in edges if m & mask] for edges in self.out]
            self._comp[mask] = tarjan(len(succ), succ)[0]
        return self._comp[mask]

    def _has_internal(self, comp: list[int], mask: int) -> set[int]:
        """Components holding an internal edge with a relation in ``mask``."""
        return {comp[u] for u, edges in enumerate(self.out) for w, m in edges if m & mask and comp[u] == comp[w]}

    def candidates(self, cls: CycleClass) -> list[int]:
        """Start vertices (local) of walks of class ``cls``; empty iff none exists (see module doc)."""
        x, base, out = cls.x, cls.base, self.out
        if x and not self.rels & x:
            return []
        if base == "G0":
            first = x or WW
            comp = self._components(WW | x)
            return [u for u, edges in enumerate(out) if any(m & first and comp[u] == comp[w] for w, m in edges)]
        if base == "G1c":
            comp = self._components(D | x)
            ok = self._has_internal(comp, x) if x else None
            return [u for u, edges in enumerate(out)
                    if any(m & WR and comp[u] == comp[w] and (ok is None or comp[u] in ok) for w, m in edges)]
        if not self.rels & RW:
            return []
        if base == "G-single-item":
            return self._single(D | x)
        if base == "G-nonadjacent-item":
            return self._nonadjacent(D | x, x)
        comp = self._components(D | RW | x)
        ok = self._has_internal(comp, x) if x else None
        rw_out = [{w for w, m in edges if m & RW and comp[w] == comp[u]} for u, edges in enumerate(out)]
        return [u for u in range(len(out))
                if (ok is None or comp[u] in ok) and any(rw_out[t] for t in rw_out[u])]

    def _single(self, mask: int) -> list[int]:
        """Starts of rw edges ``u -> t`` with ``t`` reaching ``u`` over ``mask`` edges."""
        succ = [[w for w, m in edges if m & mask] for edges in self.out]
        comp, ncomp = tarjan(len(succ), succ)
        reach = [0] * ncomp
        members: list[list[int]] = [[] for _ in range(ncomp)]
        for u, c in enumerate(comp):
            members[c].append(u)
        for c in range(ncomp):  # reverse topological: successors come first
            r = 1 << c
            for u in members[c]:
                for w in succ[u]:
                    if comp[w] != c:
                        r |= reach[comp[w]]
            reach[c] = r
        return [u for u, edges in enumerate(self.out)
                if any(m & RW and reach[comp[t]] >> comp[u] & 1 for t, m in edges)]

    def _nonadjacent(self, mask: int, x: int) -> list[int]:
        """Starts of rw steps inside a component of the graph of (vertex, last step was rw)."""
        n = len(self.out)
        succ: list[list[int]] = [[] for _ in range(2 * n)]
        for u, edges in enumerate(self.out):
            for w, m in edges:
                if m & mask:
                    succ[2 * u].append(2 * w)
                    succ[2 * u + 1].append(2 * w)
                if m & RW:
                    succ[2 * u].append(2 * w + 1)
        comp = tarjan(2 * n, succ)[0]
        ok = None
        if x:
            ok = {comp[2 * u + b] for u, edges in enumerate(self.out) for w, m in edges if m & x
                  for b in (0, 1) if comp[2 * u + b] == comp[2 * w]}
        return [u for u, edges in enumerate(self.out)
                if any(m & RW and comp[2 * u] == comp[2 * t + 1] and (ok is None or comp[2 * u] in ok)
                       for t, m in edges)]

    # -- witnesses ---------------------------------------------------------

    def find(self, cls: CycleClass) -> Walk | None:
        """A shortest walk of class ``cls`` (within the budget), or None when there is none."""
        starts = self.candidates(cls)
        best: list[tuple[int, int, int]] | None = None
        best_simple = False
        budget = self.budget
        for s in starts:
            limit = None if best is None else (len(best) - 1 if best_simple else len(best))
            if limit is not None and (limit < 2 or budget <= 0):
                break
            steps, used = self._bfs(cls, s, limit, budget if best is not None else None)
            budget -= used
            if steps is None:
                continue
            simple = len({a for a, _, _ in steps}) == len(steps)
            if best is None or len(steps) < len(best) or (simple and not best_simple):
                best, best_simple = steps, simple
        if best is None:
            return None
        m = self.members
        return Walk(cls.name, [(m[a], m[b], r) for a, b, r in best])

    def _bfs(self, cls: CycleClass, s: int, limit: int | None, budget: int | None
             ) -> tuple[list[tuple[int, int, int]] | None, int]:
        """Shortest closed walk of class ``cls`` through ``s`` of at most ``limit`` steps."""
        base, x = cls.base, cls.x
        allowed = (WW if base == "G0" else D if base == "G1c" else D | RW) | x
        first = (x or WW) if base == "G0" else WR if base == "G1c" else RW
        single, nonadj, g2 = base == "G-single-item", base == "G-nonadjacent-item", base == "G2-item"

        def step(st: int, rel: int) -> int:
            if rel == RW:
                cnt = st & _CNT
                if (single and cnt) or (nonadj and st & _LAST_RW):
                    return -1
                st = (st & ~_CNT) | min(cnt + 1, 2) | _LAST_RW | (_ADJ if st & _LAST_RW else 0)
            else:
                st &= ~_LAST_RW
            if rel == x:
                st |= _HAS_X
            return st

        def accepts(st: int) -> bool:
            if x and not st & _HAS_X:
                return False
            cnt = st & _CNT
            if single:
                return cnt == 1
            if nonadj:
                return cnt == 2 and not st & _LAST_RW
            if g2:
                return cnt == 2 and bool(st & (_ADJ | _LAST_RW))
            return True

        out = self.out
        parent: dict[tuple[int, int], tuple[int, int, int]] = {}
        layer: list[tuple[int, int]] = []
        used = 0
        for t, m in out[s]:
            if m & first:
                st = step(0, first)
                if t == s or (t, st) in parent:
                    continue
                parent[(t, st)] = (s, -1, first)
                layer.append((t, st))
        depth = 1
        while layer:
            if limit is not None and depth >= limit:
                return None, used
            depth += 1
            nxt: list[tuple[int, int]] = []
            for node in layer:
                u, st = node
                used += 1
                if budget is not None and used > budget:
                    return None, used
                for w, m in out[u]:
                    rels = m & allowed
                    while rels:
                        rel = rels & -rels
                        rels ^= rel
                        st2 = step(st, rel)
                        if st2 < 0:
                            continue
                        if w == s and accepts(st2):
                            return self._path(parent, node, (s, rel)), used
                        key = (w, st2)
                        if key not in parent:
                            parent[key] = (u, st, rel)
                            nxt.append(key)
            layer = nxt
        return None, used

    @staticmethod
    def _path(parent: dict[tuple[int, int], tuple[int, int, int]], node: tuple[int, int],
              close: tuple[int, int]) -> list[tuple[int, int, int]]:
        steps = [(node[0], close[0], close[1])]
        while True:
            pu, pst, rel = parent[node]
            steps.append((pu, node[0], rel))
            if pst == -1:
                break
            node = (pu, pst)
        steps.reverse()
        return steps
