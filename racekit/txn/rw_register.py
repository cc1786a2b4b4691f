"""Read-write register histories: version orders from unique writes, anomalies, edges.

A register read says only *which* write it saw, not what came before, so the
version order of each key is a graph assembled from sources, each an
assumption the user opts into (Elle's options):

* ``initial-state`` (always): ``nil`` comes before every value;
* ``transaction-order``: a given commit order of the transactions;
* ``wfr-keys?``: inside a transaction, writes follow reads, so a key read as
  ``v`` and then written ``v'`` went ``v -> v'``;
* ``sequential-keys?``: each key is sequentially consistent, so the process
  order orders the versions each process saw;
* ``linearizable-keys?``: each key is linearizable, so the real-time order does.

Sources are added in that order; one that would make some key's order cyclic
is left out and reported as ``cyclic-versions`` (with the sources that
produced the cycle).  From the orders: ``ww`` (T2 wrote the version after
T1's), ``rw`` (T1 read the version before T2's write); ``wr`` comes straight
from the unique writes (T2 read the value T1 wrote).  Values are a
transaction's *external* ones: the first read of a key before writing it,
and the last write.  Only ``:ok`` transactions take part in edges; ``:info``
writes still order versions.

Also found: aborted reads (G1a), intermediate reads (G1b), internal
inconsistency (a read that disagrees with the transaction's own earlier read
or write) and lost updates.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.formats.edn import dumps
from racekit.txn.graph import RW, WR, WW, DepGraph, Why, sccs
from racekit.txn.history import Op
from racekit.txn.lost_update import lost_update_cases

Key = Hashable
VersionGraph = dict[Any, set[Any]]
_NONE = object()


class DuplicateWrites(Exception):
    """A value read was written by more than one transaction: no unique writer to depend on."""

    def __init__(self, case: dict[str, Any]) -> None:
        super().__init__(case["explanation"])
        self.case = case


@dataclass
class Analysis:
    anomalies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: dict[Key, VersionGraph] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


def ext_reads(op: Op) -> dict[Key, Any]:
    """Keys read before the transaction touched them otherwise, with the value read."""
    out: dict[Key, Any] = {}
    touched: set[Key] = set()
    for f, k, v in op.value:
        if f == "r" and k not in touched:
            out[k] = v
        touched.add(k)
    return out


def ext_writes(op: Op) -> dict[Key, Any]:
    """Each key's last write in the transaction."""
    return {k: v for f, k, v in op.value if f == "w"}


def _mop_index(op: Op, f: str, k: Key, v: Any) -> int | None:
    for i, m in enumerate(op.value):
        if m == (f, k, v):
            return i
    return None


def _internal(op: Op) -> dict[str, Any] | None:
    state: dict[Key, Any] = {}
    for f, k, v in op.value:
        if f == "w":
            state[k] = v
        elif k in state and state[k] != v:
            return {"op": op.index, "mop": f"[:r {dumps(k)} {dumps(v)}]", "expected": dumps(state[k]),
                    "explanation": f"op {op.index} read {dumps(k)} = {dumps(v)}, but its own earlier read or "
                                   f"write says {dumps(k)} = {dumps(state[k])}"}
        else:
            state[k] = v
    return None


def _link_versions(graphs: dict[Key, VersionGraph], k: Key, a: Any, b: Any) -> None:
    graphs.setdefault(k, {}).setdefault(a, set()).add(b)


def _initial_state(completions: Sequence[Op]) -> dict[Key, VersionGraph]:
    graphs: dict[Key, VersionGraph] = {}
    for op in completions:
        if op.type not in ("ok", "info"):
            continue
        pairs = list(ext_writes(op).items()) + (list(ext_reads(op).items()) if op.type == "ok" else [])
        for k, v in pairs:
            if v is not None:
                _link_versions(graphs, k, None, v)
    return graphs


def _transaction_order(completions: Sequence[Op], order: Mapping[int, Any]) -> dict[Key, VersionGraph]:
    writes: dict[Key, list[tuple[Any, Any]]] = {}
    for op in completions:
        if op.type not in ("ok", "info"):
            continue
        version = order.get(op.index)
        for k, v in ext_writes(op).items():
            writes.setdefault(k, []).append((version, v))
    graphs: dict[Key, VersionGraph] = {}
    for k, vs in writes.items():
        ordered = [v for _, v in sorted(vs, key=lambda p: (p[0] is not None, p[0] if p[0] is not None else 0))]
        for a, b in zip(ordered, ordered[1:], strict=False):
            _link_versions(graphs, k, a, b)
    return graphs


def _wfr(completions: Sequence[Op]) -> dict[Key, VersionGraph]:
    graphs: dict[Key, VersionGraph] = {}
    for op in completions:
        if op.type != "ok":
            continue
        writes = ext_writes(op)
        for k, v in ext_reads(op).items():
            if v is not None and k in writes and writes[k] is not None:
                _link_versions(graphs, k, v, writes[k])
    return graphs


def _from_order(completions: Sequence[Op], order: DepGraph) -> dict[Key, VersionGraph]:
    """Versions ordered by a transaction order (process or real time), assuming per-key order follows it.

    For each transaction ``a`` and key ``k``, the transactions that next
    touch ``k`` after ``a`` (the first ones on each path from ``a``) saw
    versions after the last one ``a`` left.  The orders are acyclic and point
    forward in the history, so one backward pass computes those first hits.
    """
    n = len(completions)
    reads = [ext_reads(op) if op.type == "ok" else {} for op in completions]
    writes = [ext_writes(op) if op.type in ("ok", "info") else {} for op in completions]
    keys = [set(reads[v]) | set(writes[v]) for v in range(n)]
    first: list[dict[Key, set[int]]] = [{} for _ in range(n)]
    for a in sorted(range(n), key=lambda v: completions[v].position, reverse=True):
        down: dict[Key, set[int]] = {}
        for b in order.out[a]:
            for k in keys[b]:
                down.setdefault(k, set()).add(b)
            for k, bs in first[b].items():
                if k not in keys[b]:
                    down.setdefault(k, set()).update(bs)
        first[a] = down
    graphs: dict[Key, VersionGraph] = {}
    for a in range(n):
        op = completions[a]
        for k, bs in first[a].items():
            if op.type == "ok":
                # Elle's (or write read): an ok transaction that never touched k left it at nil
                w = writes[a].get(k)
                v1 = w if w is not None else reads[a].get(k)
            elif op.type == "info":
                v1 = writes[a].get(k, _NONE)
            else:
                continue
            if v1 is _NONE:
                continue
            for b in bs:
                ob = completions[b]
                if ob.type == "ok":
                    r = reads[b].get(k)
                    v2 = r if r is not None else writes[b].get(k)
                elif ob.type == "info":
                    v2 = writes[b].get(k, _NONE)
                else:
                    continue
                if v2 is _NONE or v2 == v1:
                    continue
                _link_versions(graphs, k, v1, v2)
    return graphs


def _cycles(graphs: Mapping[Key, VersionGraph]) -> list[tuple[Key, set[Any]]]:
    out = []
    for k, g in graphs.items():
        nodes = list(set(g) | {b for bs in g.values() for b in bs})
        at = {x: i for i, x in enumerate(nodes)}
        succ = [[at[b] for b in g.get(x, ())] for x in nodes]
        for comp in sccs(len(nodes), succ):
            out.append((k, {nodes[i] for i in comp}))
    return out


def _merge(a: Mapping[Key, VersionGraph], b: Mapping[Key, VersionGraph]) -> dict[Key, VersionGraph]:
    out = {k: {x: set(ys) for x, ys in g.items()} for k, g in a.items()}
    for k, g in b.items():
        for x, ys in g.items():
            for y in ys:
                _link_versions(out, k, x, y)
    return out


def version_orders(completions: Sequence[Op], options: Mapping[str, Any],
                   realtime: DepGraph | None, process: DepGraph | None) -> tuple[dict[Key, VersionGraph], list[str], list[dict[str, Any]]]:
    """The version graphs, the sources used, and ``cyclic-versions`` cases."""
    sources: list[tuple[str, Any]] = [("initial-state", lambda: _initial_state(completions))]
    if options.get("transaction-order"):
        sources.append(("transaction-order-keys", lambda: _transaction_order(completions, options["transaction-order"])))
    if options.get("wfr-keys?"):
        sources.append(("wfr-keys", lambda: _wfr(completions)))
    if options.get("sequential-keys?") and process is not None:
        sources.append(("sequential-keys", lambda: _from_order(completions, process)))
    if options.get("linearizable-keys?") and realtime is not None:
        sources.append(("linearizable-keys", lambda: _from_order(completions, realtime)))
    used: list[str] = []
    graphs: dict[Key, VersionGraph] = {}
    cyclic: list[dict[str, Any]] = []
    for name, build in sources:
        merged = _merge(graphs, build())
        cycles = _cycles(merged)
        if cycles:
            for k, scc in cycles:
                values = sorted(dumps(v) for v in scc)
                cyclic.append({"key": dumps(k), "scc": values, "sources": used + [name],
                               "explanation": f"the versions {', '.join(values)} of {dumps(k)} are ordered in a "
                                              f"cycle by {', '.join(used + [name])}: no single order of writes fits"})
            continue
        graphs = merged
        used.append(name)
    return graphs, used, cyclic


def analyze(completions: Sequence[Op], graph: DepGraph, options: Mapping[str, Any],
            realtime: DepGraph | None = None, process: DepGraph | None = None) -> Analysis:
    """Find the non-cycle anomalies and add wr, ww and rw edges to ``graph``.

    ``realtime``/``process`` are the orders to infer versions from when
    ``linearizable-keys?``/``sequential-keys?`` ask for them.  Raises
    :class:`DuplicateWrites` when a value read has two writers.
    """
    out = Analysis()
    anomalies = out.anomalies
    ok_v = [v for v, op in enumerate(completions) if op.type == "ok"]

    failed: dict[tuple[Key, Any], Op] = {}
    middle: dict[tuple[Key, Any], Op] = {}
    for op in completions:
        last: dict[Key, Any] = {}
        for f, k, v in op.value:
            if f != "w":
                continue
            if op.type == "fail":
                failed[(k, v)] = op
            if k in last:
                middle[(k, last[k])] = op
            last[k] = v
    g1a, g1b, internal = [], [], []
    for v_ in ok_v:
        op = completions[v_]
        for f, k, v in op.value:
            if f != "r":
                continue
            w = failed.get((k, v))
            if w is not None:
                g1a.append({"op": op.index, "writer": w.index, "mop": f"[:r {dumps(k)} {dumps(v)}]",
                            "explanation": f"op {op.index} read {dumps(k)} = {dumps(v)}, which op {w.index} "
                                           "wrote and then failed (aborted)"})
            w = middle.get((k, v))
            if w is not None and w.index != op.index:
                g1b.append({"op": op.index, "writer": w.index, "mop": f"[:r {dumps(k)} {dumps(v)}]",
                            "explanation": f"op {op.index} read {dumps(k)} = {dumps(v)}, which op {w.index} "
                                           f"overwrote later in the same transaction (an intermediate state)"})
        case = _internal(op)
        if case:
            internal.append(case)
    lost = lost_update_cases(completions, "w")

    graphs, used, cyclic = version_orders(completions, options, realtime, process)
    out.orders, out.sources = graphs, used
    for name, cases in (("G1a", g1a), ("G1b", g1b), ("internal", internal), ("lost-update", lost),
                        ("cyclic-versions", cyclic)):
        if cases:
            anomalies[name] = cases

    # -- wr straight from unique writes; ww and rw from the version graphs
    writers: dict[tuple[Key, Any], list[int]] = {}
    readers: dict[tuple[Key, Any], list[int]] = {}
    for v_ in ok_v:
        op = completions[v_]
        for k, v in ext_writes(op).items():
            writers.setdefault((k, v), []).append(v_)
        for k, v in ext_reads(op).items():
            readers.setdefault((k, v), []).append(v_)
    for (k, v), rs in readers.items():
        ws = writers.get((k, v), [])
        if len(ws) > 1:
            idx = [completions[w].index for w in ws]
            raise DuplicateWrites({"key": dumps(k), "value": dumps(v), "ops": idx,
                                   "explanation": f"{dumps(k)} = {dumps(v)} was read, and written by "
                                                  f"{len(ws)} transactions (ops {', '.join(map(str, idx))}); "
                                                  "rw-register needs each value written at most once"})
        if ws:
            a = ws[0]
            for b in rs:
                graph.link(a, b, WR, Why(k, v, None, _mop_index(completions[a], "w", k, v),
                                         _mop_index(completions[b], "r", k, v)))
    for k, g in graphs.items():
        for v1, v2s in g.items():
            for v2 in v2s:
                for b in writers.get((k, v2), ()):
                    bm = _mop_index(completions[b], "w", k, v2)
                    for a in writers.get((k, v1), ()):
                        graph.link(a, b, WW, Why(k, v1, v2, _mop_index(completions[a], "w", k, v1), bm))
                    for a in readers.get((k, v1), ()):
                        graph.link(a, b, RW, Why(k, v1, v2, _mop_index(completions[a], "r", k, v1), bm))
    return out
