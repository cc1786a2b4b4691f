"""The checker: a transactional history in, a verdict with named anomalies out.

``check(history, options)`` follows Elle's checker end to end:

1. the workload's own anomalies and dependency edges
   (:mod:`~racekit.txn.list_append`, :mod:`~racekit.txn.rw_register`), plus
   real-time or process edges when a model asked for needs them (real time
   subsumes process order, so only one of the two is added);
2. strongly connected components of the dependency graph; inside each, every
   cycle class of :data:`~racekit.txn.cycles.CLASSES` that is not implied by
   one already found there (:mod:`~racekit.txn.cycles`);
3. the verdict (:mod:`~racekit.txn.lattice`): invalid if a forbidden anomaly
   was found, unknown if only ``empty-transaction-graph`` (no dependency at
   all could be inferred) or an order ambiguity (duplicate appends or
   writes) was, else valid; the weakest models ruled out, computed from
   *every* anomaly found, reported or not.

Options are Elle's (``consistency-models``, ``anomalies``,
``sequential-keys?``, ``linearizable-keys?``, ``wfr-keys?``,
``transaction-order``), plus ``cycle-search-budget`` (states each shortest
cycle search may expand beyond the first witness; deterministic).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from racekit.errors import RacekitInternalError
from racekit.txn import lattice
from racekit.txn import list_append as la
from racekit.txn import rw_register as rw
from racekit.txn.cycles import (
    CLASSES,
    CYCLE_EXISTS,
    DEFAULT_BUDGET,
    LIST_APPEND_ORDER,
    RW_REGISTER_ORDER,
    SccSearch,
    classify,
    cycle_exists_type,
)
from racekit.txn.explain import Cycle, explain
from racekit.txn.graph import PROCESS, REALTIME, DepGraph, process_order, realtime_order, sccs
from racekit.txn.history import TxnHistory

Valid = bool | Literal["unknown"]
CYCLE_TYPES = frozenset(c.name for c in CLASSES)
OPTION_KEYS = ("consistency-models", "anomalies", "sequential-keys?", "linearizable-keys?", "wfr-keys?",
               "transaction-order", "cycle-search-budget")


@dataclass
class TxnResult:
    """The verdict.  ``anomalies`` holds the reported anomaly types' cases; ``found`` every type found."""

    valid: Valid
    anomaly_types: list[str]
    anomalies: dict[str, list[Any]]
    not_: list[str]
    also_not: list[str]
    found: list[str]
    workload: str
    operations: int
    seconds: float = 0.0
    graph: DepGraph | None = field(default=None, repr=False)
    history: TxnHistory | None = field(default=None, repr=False)

    @property
    def cycles(self) -> list[Cycle]:
        return [c for cases in self.anomalies.values() for c in cases if isinstance(c, Cycle)]

    def to_json(self) -> dict[str, Any]:
        """``{"valid", "anomalies", "not", "also_not", "cycles", "details", ...}``."""
        details = {t: [c.to_json() if isinstance(c, Cycle) else c for c in cases]
                   for t, cases in self.anomalies.items() if not t.startswith("empty-")}
        return {"valid": self.valid, "anomalies": self.anomaly_types, "not": self.not_, "also_not": self.also_not,
                "cycles": [c.to_json() for c in self.cycles], "details": details, "workload": self.workload,
                "operations": self.operations, "seconds": round(self.seconds, 6)}


def normalize_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Elle's option map with names checked; ``ValueError`` names the problem."""
    opts = dict(options or {})
    for key in opts:
        if key not in OPTION_KEYS:
            raise ValueError(f"unknown option {key!r}; known: {', '.join(OPTION_KEYS)}")
    if "consistency-models" in opts:
        models = opts["consistency-models"]
        opts["consistency-models"] = None if models is None else lattice.check_models(_names(models, "consistency-models"))
    else:
        opts["consistency-models"] = list(lattice.DEFAULT_MODELS)
    opts["anomalies"] = lattice.check_anomalies(_names(opts.get("anomalies") or (), "anomalies"))
    for key in ("sequential-keys?", "linearizable-keys?", "wfr-keys?"):
        if not isinstance(opts.get(key, False), bool):
            raise ValueError(f"{key} must be true or false, got {opts[key]!r}")
    order = opts.get("transaction-order")
    if order is not None:
        if not isinstance(order, Mapping):
            raise ValueError("transaction-order must map op indices to positions")
        opts["transaction-order"] = {int(k): v for k, v in order.items()}
    budget = opts.get("cycle-search-budget", DEFAULT_BUDGET)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        raise ValueError(f"cycle-search-budget must be a non-negative integer, got {budget!r}")
    opts["cycle-search-budget"] = budget
    return opts


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    out = []
    for v in value:
        name = getattr(v, "name", v)
        if not isinstance(name, str):
            raise ValueError(f"{what} must be names, got {v!r}")
        out.append(name)
    return out


def check(history: TxnHistory, options: Mapping[str, Any] | None = None) -> TxnResult:
    """Check ``history`` (see the module doc)."""
    started = time.perf_counter()
    opts = normalize_options(options)
    prohibited = lattice.prohibited(opts["consistency-models"], opts["anomalies"])
    reportable = prohibited | lattice.UNKNOWN_TYPES | {"duplicate-appends", "duplicate-writes"}
    need_rt = any(t.endswith("-realtime") for t in reportable & CYCLE_TYPES)
    need_proc = not need_rt and any(t.endswith("-process") for t in reportable & CYCLE_TYPES)
    completions = history.completions
    n = len(completions)
    position_of = {op.position: v for v, op in enumerate(completions)}

    rt_graph = proc_graph = None
    if need_rt or (history.workload == "rw-register" and opts.get("linearizable-keys?")):
        rt_graph = DepGraph(n)
        realtime_order(rt_graph, history.ops, position_of)
    if need_proc or (history.workload == "rw-register" and opts.get("sequential-keys?")):
        proc_graph = DepGraph(n)
        process_order(proc_graph, completions)

    graph = DepGraph(n)
    anomalies: dict[str, list[Any]] = {}
    if history.workload == "list-append":
        dups = la.duplicate_appends(history.ops)
        if dups:
            return _ambiguous(history, "duplicate-appends", dups, started)
        anomalies.update(la.analyze(completions, graph).anomalies)
    else:
        try:
            anomalies.update(rw.analyze(completions, graph, opts, rt_graph, proc_graph).anomalies)
        except rw.DuplicateWrites as exc:
            return _ambiguous(history, "duplicate-writes", [exc.case], started)
    for extra, rel in ((rt_graph if need_rt else None, REALTIME), (proc_graph if need_proc else None, PROCESS)):
        if extra is not None:
            for a, b, _ in extra.edges():
                graph.link(a, b, rel)
    if graph.empty():
        anomalies["empty-transaction-graph"] = [True]

    budget = opts["cycle-search-budget"]
    order = LIST_APPEND_ORDER if history.workload == "list-append" else RW_REGISTER_ORDER
    exists_models: dict[str, str] = {}  # cycle-exists anomaly -> its model
    for comp in sccs(n, graph.out):
        search = SccSearch(graph, comp, order, budget)
        for model in search.cycle_exists(CYCLE_EXISTS):
            name = cycle_exists_type(model)
            exists_models[name] = model
            anomalies.setdefault(name, []).append({"model": model, "scc-size": len(comp),
                                                   "scc": sorted(completions[v].index for v in comp)})
        redundant: set[str] = set()
        for cls in CLASSES:
            if cls.name in redundant or (cls.x and cls.x & ~search.rels):
                continue
            walk = search.find(cls)
            if walk is None:
                continue
            got = classify([r for _, _, r in walk.steps])
            if got != cls.name:
                raise RacekitInternalError(f"cycle search for {cls.name} returned a {got} cycle")
            anomalies.setdefault(cls.name, []).append(explain(walk, graph, history))
            redundant |= lattice.implied_anomalies([cls.name])

    reported = {t: cases for t, cases in anomalies.items() if t in reportable}
    # A named anomaly that already rules a model out makes its cycle-exists redundant.
    named = lattice.impossible_models(t for t in reported if t not in exists_models)
    reported = {t: c for t, c in reported.items() if exists_models.get(t) not in named}
    found = sorted(anomalies)
    seconds = time.perf_counter() - started
    if not reported:
        return TxnResult(True, [], {}, [], [], found, history.workload, n, seconds, graph, history)
    valid: Valid = False if any(t in prohibited for t in anomalies) else "unknown"
    not_, also_not = lattice.boundary(anomalies)
    return TxnResult(valid, sorted(reported), reported, not_, also_not, found, history.workload, n,
                     seconds, graph, history)


def _ambiguous(history: TxnHistory, kind: str, cases: list[Any], started: float) -> TxnResult:
    """Elle gives up (``unknown``) when unique writes, which its inference needs, are not unique."""
    return TxnResult("unknown", [kind], {kind: cases}, [], [], [kind], history.workload,
                     len(history.completions), time.perf_counter() - started, None, history)
