"""List-append histories: version orders from reads, anomalies, dependency edges.

Appends make versions traceable: a read of ``[1 2 3]`` says the key took the
versions ``[]``, ``[1]``, ``[1 2]``, ``[1 2 3]``, in that order.  Every read of
a key should be a prefix of the longest one; that longest read is the key's
version order (``incompatible-order`` when two reads disagree).  An append
nobody read still comes after the highest element anyone read.  Then, per
Adya's definitions over that order:

* ``ww`` T1 -> T2: T2 appended right after T1's append;
* ``wr`` T1 -> T2: the last element T2 read was appended by T1;
* ``rw`` T1 -> T2: T1 read the version T2's append replaced.

Found without the graph: aborted reads (G1a: a committed read of an element a
failed transaction appended), intermediate reads (G1b: a read ending in an
element its writer appended over later in the same transaction), internal
inconsistency (a read that disagrees with the transaction's own earlier
read or append), future reads (reading an element the transaction appends
later), dirty updates (a committed append after a failed one in a key's
order), duplicate elements, and lost updates.  ``:info`` transactions count
where they may have happened (their reads, when not ``nil``, and their
appends); ``:fail`` ones never do.

Elle's rules, with two deliberate normalisations: a committed read of
``nil`` is the empty list ``[]`` (so reading ``nil`` then ``[]`` is not an
internal anomaly, and both count as the same version for lost update), and
an element in a version order that no transaction appended is left
unattributed instead of stopping the check.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.formats.edn import dumps
from racekit.txn.graph import RW, WR, WW, DepGraph, Why
from racekit.txn.history import Op
from racekit.txn.lost_update import lost_update_cases


class _Init:
    """The initial (empty) version of every key."""

    def __repr__(self) -> str:
        return ":elle.list-append/init"


INIT: Any = _Init()

Key = Hashable


@dataclass
class Analysis:
    """What the workload analysis found: anomalies by type, and the version orders used."""

    anomalies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: dict[Key, list[Any]] = field(default_factory=dict)


def _reads(op: Op) -> list[tuple[int, Key, tuple[Any, ...]]]:
    out = []
    for i, (f, k, v) in enumerate(op.value):
        if f == "r":
            if v is None:
                if op.type == "info":
                    continue  # an :info read of nil was never observed
                v = ()
            out.append((i, k, v))
    return out


def duplicate_appends(ops: Sequence[Op]) -> list[dict[str, Any]]:
    """Values appended to one key by more than one invocation (the order is then ambiguous)."""
    seen: dict[tuple[Key, Any], int] = {}
    cases = []
    for op in ops:
        if op.type != "invoke" and op.invoke_position is not None:
            continue  # its invocation was already counted
        for f, k, v in op.value:
            if f == "append":
                if (k, v) in seen and seen[(k, v)] != op.index:
                    cases.append({"key": dumps(k), "value": dumps(v), "ops": [seen[(k, v)], op.index],
                                  "explanation": f"{dumps(v)} is appended to {dumps(k)} by op {seen[(k, v)]} "
                                                 f"and by op {op.index}; list-append needs unique appends"})
                seen.setdefault((k, v), op.index)
    return cases


def sorted_values(ops: Sequence[Op]) -> dict[Key, list[tuple[Any, ...]]]:
    """Every distinct non-empty value read per key, shortest first.

    A key nobody read but exactly one append touched took the values ``[]``
    and ``[x]``.
    """
    values: dict[Key, dict[tuple[Any, ...], None]] = {}
    appends: dict[Key, Any] = {}
    many = object()
    for op in ops:
        for f, k, v in op.value:
            if f == "append":
                appends[k] = many if k in appends else v
        for _, k, v in _reads(op):
            if v:
                values.setdefault(k, {})[v] = None
    out = {k: sorted(vs, key=len) for k, vs in values.items()}
    for k, v in appends.items():
        if k not in out and v is not many:
            out[k] = [(v,)]
    return out


def incompatible_orders(values: dict[Key, list[tuple[Any, ...]]]) -> list[dict[str, Any]]:
    cases = []
    for k, vs in values.items():
        for a, b in zip(vs, vs[1:], strict=False):
            if b[: len(a)] != a:
                cases.append({"key": dumps(k), "values": [dumps(a), dumps(b)],
                              "explanation": f"reads of {dumps(k)} saw {dumps(a)} and {dumps(b)}: "
                                             "neither is a prefix of the other, so no single order of appends explains both"})
                break
    return cases


def version_orders(values: dict[Key, list[tuple[Any, ...]]]) -> dict[Key, list[Any]]:
    """Each key's version order: the distinct elements of its longest read."""
    return {k: list(dict.fromkeys(vs[-1])) for k, vs in values.items()}


def _internal(op: Op) -> dict[str, Any] | None:
    """The first read that disagrees with the transaction's own earlier read or appends."""
    known: dict[Key, tuple[bool, tuple[Any, ...]]] = {}  # key -> (prefix unknown?, expected state)
    for i, (f, k, v) in enumerate(op.value):
        if f == "append":
            unknown, state = known.get(k, (True, ()))
            known[k] = (unknown, state + (v,))
            continue
        got = () if v is None else v
        if k in known:
            unknown, state = known[k]
            bad = (len(got) < len(state) or got[len(got) - len(state):] != state) if unknown else got != state
            if bad:
                shown = ("[... " + " ".join(dumps(x) for x in state) + "]") if unknown else dumps(state)
                return {"op": op.index, "mop": _mop(op, i), "expected": shown,
                        "explanation": f"op {op.index} read {dumps(k)} = {dumps(got)}, but its own earlier "
                                       f"reads and appends say it should {'end with' if unknown else 'be'} {shown}"}
        known[k] = (False, got)
    return None


def _future_read(op: Op) -> dict[str, Any] | None:
    appended = {k for f, k, _ in op.value if f == "append"}
    if not appended:
        return None
    seen: dict[tuple[Key, Any], int] = {}
    for i, (f, k, v) in enumerate(op.value):
        if f == "r":
            if k in appended:
                for e in v or ():
                    seen.setdefault((k, e), i)
        elif (k, v) in seen:
            return {"op": op.index, "mop": _mop(op, seen[(k, v)]), "element": dumps(v),
                    "explanation": f"op {op.index} read {dumps(k)} containing {dumps(v)} before it appended "
                                   f"{dumps(v)} itself"}
    return None


def _mop(op: Op, i: int) -> str:
    f, k, v = op.value[i]
    return f"[:{f} {dumps(k)} {dumps(v)}]"


def _dirty_updates(orders: dict[Key, list[Any]], writer: dict[tuple[Key, Any], Op]) -> list[dict[str, Any]]:
    """A committed append following a failed one in a key's version order.

    Walking each order, remember the last writer whose outcome is known (the
    initial state counts as committed) and the versions since; a crashed
    writer's outcome is unknown, so it neither starts nor ends a span.
    """
    cases = []
    for k, order in orders.items():
        last: Op | None = None
        last_failed = False
        span: list[Any] = []
        for v in order:
            w = writer.get((k, v))
            span.append(v)
            if w is None or w.type == "info":
                continue
            if w.type == "ok":
                if last_failed and last is not None:
                    cases.append({"key": dumps(k), "values": [dumps(x) for x in span],
                                  "txns": [last.index, "...", w.index],
                                  "explanation": f"in {dumps(k)}'s version order, op {w.index}'s committed "
                                                 f"append of {dumps(v)} comes after failed op {last.index}'s "
                                                 f"append of {dumps(span[0])}"})
                last, last_failed, span = w, False, [v]
            elif not last_failed:
                last, last_failed, span = w, True, [v]
    return cases


def analyze(completions: Sequence[Op], graph: DepGraph) -> Analysis:
    """Find the non-cycle anomalies and add ww, wr and rw edges to ``graph``.

    ``completions[v]`` is vertex ``v`` of ``graph``.
    """
    out = Analysis()
    anomalies = out.anomalies
    ok = [op for op in completions if op.type == "ok"]
    possible_v = [v for v, op in enumerate(completions) if op.type in ("ok", "info")]
    possible = [completions[v] for v in possible_v]

    # -- anomalies visible without a version order
    failed: dict[tuple[Key, Any], Op] = {}
    middle: dict[tuple[Key, Any], Op] = {}
    for op in completions:
        last: dict[Key, Any] = {}
        for f, k, v in op.value:
            if f != "append":
                continue
            if op.type == "fail":
                failed[(k, v)] = op
            if k in last:
                middle[(k, last[k])] = op
            last[k] = v
    g1a, g1b, internal, future = [], [], [], []
    failed_keys = {k for k, _ in failed}
    for op in ok:
        for i, k, v in _reads(op):
            for e in v if k in failed_keys else ():
                w = failed.get((k, e))
                if w is not None:
                    g1a.append({"op": op.index, "writer": w.index, "mop": _mop(op, i), "element": dumps(e),
                                "explanation": f"op {op.index} read {dumps(k)} = {dumps(v)}, including {dumps(e)}, "
                                               f"which op {w.index} appended and then failed (aborted)"})
            if v:
                w = middle.get((k, v[-1]))
                if w is not None and w.index != op.index:
                    g1b.append({"op": op.index, "writer": w.index, "mop": _mop(op, i), "element": dumps(v[-1]),
                                "explanation": f"op {op.index} read {dumps(k)} = {dumps(v)}, ending in "
                                               f"{dumps(v[-1])}, but op {w.index} appended more to "
                                               f"{dumps(k)} after {dumps(v[-1])} in the same transaction "
                                               "(an intermediate state)"})
        case = _internal(op)
        if case:
            internal.append(case)
        case = _future_read(op)
        if case:
            future.append(case)

    writer_all = {(k, v): op for op in completions for f, k, v in op.value if f == "append"}
    dirty = _dirty_updates(version_orders(sorted_values(completions)), writer_all)

    dups = []
    for op in possible:
        for i, k, v in _reads(op):
            if len(set(v)) == len(v):
                continue
            counts: dict[Any, int] = {}
            for e in v:
                counts[e] = counts.get(e, 0) + 1
            extra = {e: c for e, c in counts.items() if c > 1}
            if extra:
                dups.append({"op": op.index, "mop": _mop(op, i),
                             "duplicates": {dumps(e): c for e, c in extra.items()},
                             "explanation": f"op {op.index} read {dumps(k)} = {dumps(v)}, where "
                                            + ", ".join(f"{dumps(e)} appears {c} times" for e, c in extra.items())})
    values = sorted_values(possible)
    incompatible = incompatible_orders(values)
    lost = lost_update_cases(possible, "append", lambda v: () if v is None else v)
    for name, cases in (("G1a", g1a), ("G1b", g1b), ("internal", internal), ("future-read", future),
                        ("dirty-update", dirty), ("duplicate-elements", dups),
                        ("incompatible-order", incompatible), ("lost-update", lost)):
        if cases:
            anomalies[name] = cases

    # -- the dependency graph
    orders = version_orders(values)
    out.orders = orders
    position = {k: {e: i for i, e in enumerate(order)} for k, order in orders.items()}
    writer: dict[tuple[Key, Any], int] = {}
    readers: dict[tuple[Key, Any], list[tuple[int, int]]] = {}
    for v_ in possible_v:
        op = completions[v_]
        for f, k, v in op.value:
            if f == "append":
                writer[(k, v)] = v_
        for i, k, v in _reads(op):
            readers.setdefault((k, v[-1] if v else INIT), []).append((v_, i))

    def mop_index(v_: int, k: Key, e: Any) -> int | None:
        for i, (f, kk, vv) in enumerate(completions[v_].value):
            if f == "append" and kk == k and vv == e:
                return i
        return None

    for b in possible_v:
        op = completions[b]
        for i, (f, k, v) in enumerate(op.value):
            if f == "r":
                if v:
                    a = writer.get((k, v[-1]))
                    if a is not None and a != b:
                        graph.link(a, b, WR, Why(k, v[-1], None, mop_index(a, k, v[-1]), i))
                continue
            order = orders.get(k, [])
            at = position.get(k, {}).get(v)
            prev = (order[at - 1] if at else INIT) if at is not None else (order[-1] if order else INIT)
            if prev is not INIT:
                a = writer.get((k, prev))
                if a is not None and a != b:
                    graph.link(a, b, WW, Why(k, prev, v, mop_index(a, k, prev), i))
            for r, ri in readers.get((k, prev), ()):
                if r != b:
                    graph.link(r, b, RW, Why(k, prev, v, ri, i))
    return out
