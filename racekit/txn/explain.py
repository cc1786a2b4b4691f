"""Anomaly cycles explained in words.

Transactions in a cycle are named T1, T2, ... in the order the cycle visits
them.  Each step says why the next transaction must come after the previous
one, from the evidence the graph kept (the key and the versions involved),
and the whole reads like:

    T1 read :x = [1 2] and T2 appended 3 right after 2, which T1 did not
    see (T1 →rw T2); T2 appended 1 to :y and T1 read :y = [1], ending in it
    (T2 →wr T1): a G-single-item cycle T1 →rw T2 →wr T1

Values are written as EDN, the way the history wrote them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.formats.edn import Keyword, dumps
from racekit.txn.cycles import Walk
from racekit.txn.graph import PROCESS, REALTIME, REL_NAMES, RW, WR, WW, DepGraph, Why
from racekit.txn.history import Op, TxnHistory
from racekit.txn.list_append import INIT


@dataclass
class Step:
    """One step of an explained cycle, as data."""

    rel: str
    a: int  # op index
    b: int
    key: str | None = None
    value: str | None = None
    value2: str | None = None
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.rel, "from": self.a, "to": self.b}
        if self.key is not None:
            out["key"] = self.key
            out["value"] = self.value
            if self.value2 is not None:
                out["value'"] = self.value2
        out["text"] = self.text
        return out


@dataclass
class Cycle:
    """An anomaly cycle: its class, the ops in order (first repeated at the end), steps and words."""

    type: str
    ops: list[int]
    names: list[str]
    steps: list[Step] = field(default_factory=list)
    explanation: str = ""
    simple: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "cycle": self.ops, "steps": [s.to_json() for s in self.steps],
                "explanation": self.explanation, "simple": self.simple}


def _read_value(op: Op, mop: int | None, key: Any) -> Any:
    if mop is not None and 0 <= mop < len(op.value):
        return op.value[mop][2]
    for f, k, v in op.value:
        if f == "r" and k == key:
            return v
    return None


def key_name(key: Any) -> str:
    """A key as the history wrote it, marked as a key when it is a bare number or string (``key 9``)."""
    return dumps(key) if isinstance(key, Keyword) else f"key {dumps(key)}"


def _phrase(workload: str, rel: int, why: Why | None, a: Op, b: Op, na: str, nb: str,
            history: TxnHistory) -> Step:
    arrow = f"({na} →{REL_NAMES[rel]} {nb})"
    if rel == REALTIME:
        inv = history.ops[b.invoke_position].index if b.invoke_position is not None else "?"
        return Step("realtime", a.index, b.index,
                    text=f"{na} completed (op {a.index}) before {nb} was invoked (op {inv}) {arrow}")
    if rel == PROCESS:
        return Step("process", a.index, b.index,
                    text=f"process {a.process} ran {na} and then {nb} {arrow}")
    assert why is not None
    k, v1, v2 = key_name(why.key), why.value, why.value2
    append = workload == "list-append"
    if rel == WW:
        text = (f"{na} appended {dumps(v1)} to {k} and {nb} appended {dumps(v2)} right after it" if append
                else f"{na} wrote {k} = {dumps(v1)} and {nb} wrote {dumps(v2)}, the next version of {k}")
        return Step("ww", a.index, b.index, dumps(why.key), dumps(v1), dumps(v2), f"{text} {arrow}")
    if rel == WR:
        if append:
            seen = _read_value(b, why.b_mop, why.key)
            text = f"{na} appended {dumps(v1)} to {k} and {nb} read {k} = {dumps(seen)}, ending in it"
        else:
            text = f"{na} wrote {k} = {dumps(v1)} and {nb} read it"
        return Step("wr", a.index, b.index, dumps(why.key), dumps(v1), None, f"{text} {arrow}")
    seen = _read_value(a, why.a_mop, why.key)
    if append:
        if v1 is INIT:
            text = (f"{na} read {k} = {dumps(seen if seen is not None else ())}, its initial empty state, "
                    f"and {nb} appended {dumps(v2)}, the first element of {k}")
        else:
            text = (f"{na} read {k} = {dumps(seen)} and {nb} appended {dumps(v2)} right after "
                    f"{dumps(v1)}, which {na} did not see")
        shown = ":elle.list-append/init" if v1 is INIT else dumps(v1)
    else:
        text = (f"{na} read {k} = {dumps(v1)}{' (its initial state)' if v1 is None else ''} and {nb} wrote "
                f"{dumps(v2)}, the next version of {k}")
        shown = dumps(v1)
    assert rel == RW
    return Step("rw", a.index, b.index, dumps(why.key), shown, dumps(v2), f"{text} {arrow}")


def explain(walk: Walk, graph: DepGraph, history: TxnHistory) -> Cycle:
    """Explain a walk found by :mod:`racekit.txn.cycles`."""
    ops = history.completions
    names: dict[int, str] = {}
    for a, _, _ in walk.steps:
        names.setdefault(a, f"T{len(names) + 1}")
    steps = [
        _phrase(history.workload, rel, graph.why.get((a, b, rel)), ops[a], ops[b], names[a], names[b], history)
        for a, b, rel in walk.steps
    ]
    chain = " ".join([names[walk.steps[0][0]]] + [f"→{REL_NAMES[r]} {names[b]}" for _, b, r in walk.steps])
    text = "; ".join(s.text for s in steps) + f": a {walk.cls} cycle {chain}"
    if not walk.simple:
        text += " (a closed walk: it passes some transaction twice)"
    return Cycle(walk.cls, [ops[v].index for v in walk.vertices],
                 [f"{names[v]} = op {ops[v].index}" for v in dict.fromkeys(a for a, _, _ in walk.steps)],
                 steps, text, walk.simple)


def bindings(cycle: Cycle, history: TxnHistory) -> list[str]:
    """``T1 = {:index 3, ...}`` lines for the ops of a cycle."""
    by_index = {op.index: op for op in history.completions}
    out = []
    for name in cycle.names:
        label, _, idx = name.partition(" = op ")
        op = by_index.get(int(idx))
        out.append(f"{label} = {op.to_edn() if op else 'op ' + idx}")
    return out


def render_list(cycles: Sequence[Cycle]) -> list[str]:
    return [c.explanation for c in cycles]
