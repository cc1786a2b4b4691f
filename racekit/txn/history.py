"""Transactional histories in Elle's shape: ops whose values are lists of micro-ops.

A history is a sequence of op maps (``../shared/elle/FORMAT.md`` section 1):
``{:index 3, :type :ok, :process 1, :f :txn, :value [[:append :x 1] [:r :y [1]]]}``.
Only ops whose ``:process`` is an integer are client ops; the rest (nemesis
ops, ops without a process) are dropped before anything is checked, as Elle
does.  A process's invocation is completed by that process's next ``:ok``,
``:fail`` or ``:info``; a completion with no invocation (many small test
histories hold only ``:ok`` ops) stands alone.

Why a model of its own rather than :class:`racekit.history.History`: the
checker works on *completions* (what committed, what failed, what is
unknown), keeps every op's ``:index`` (Elle's explanations cite it), and
needs the invocation position of each completion only for the real-time
order.  An invocation never completed is treated as ``:info`` (its writes
may have taken effect), the way racekit's other history readers treat a call
still open at the end.

Bad input raises :class:`~racekit.errors.HistoryFormatError` naming the
source and line: a micro-op that is not ``[f k v]``, a micro-op the workload
does not have, a read of a list that is not a vector.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from racekit.errors import HistoryFormatError
from racekit.formats.edn import Keyword, dumps, read_records
from racekit.formats.jepsen import read_text

Workload = Literal["list-append", "rw-register"]
WORKLOADS: tuple[Workload, ...] = ("list-append", "rw-register")
OpType = Literal["invoke", "ok", "fail", "info"]
_TYPES = ("invoke", "ok", "fail", "info")
_MOPS: dict[str, tuple[str, ...]] = {"list-append": ("append", "r"), "rw-register": ("w", "r")}

Mop = tuple[str, Hashable, Any]
"""A micro-op ``(f, key, value)``: ``f`` is ``"append"``, ``"w"`` or ``"r"``."""


@dataclass(slots=True)
class Op:
    """One client op.  ``value`` holds its micro-ops with ``f`` as a plain string.

    ``position`` is the op's place in the client history (0, 1, ...);
    ``invoke_position`` is the position of the invocation a completion closes
    (``None`` when it has none).  ``synthetic`` marks an ``:info`` completion
    made up for an invocation that never completed.
    """

    index: int
    type: OpType
    process: int
    value: tuple[Mop, ...]
    f: Any = None
    time: int | None = None
    line: int = 0
    position: int = 0
    invoke_position: int | None = None
    synthetic: bool = False

    def to_edn(self) -> str:
        """The op as one EDN line, in the field order Elle's own tools print."""
        mops = " ".join(f"[{dumps(Keyword(f))} {dumps(k)} {dumps(v)}]" for f, k, v in self.value)
        parts = [f":index {self.index}"]
        if self.time is not None:
            parts.append(f":time {self.time}")
        parts += [f":type :{self.type}", f":process {self.process}", f":f {dumps(self.f)}", f":value [{mops}]"]
        return "{" + ", ".join(parts) + "}"

    def label(self) -> str:
        return f"op {self.index}"


@dataclass
class TxnHistory:
    """A client history: every op in order, and the completions the checker uses."""

    workload: Workload
    ops: list[Op]
    source: str = "<history>"
    dropped: int = 0  # non-client ops (nemesis, no :process)
    completions: list[Op] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.completions:
            self.completions = _pair(self.ops)

    def by_index(self) -> dict[int, Op]:
        return {op.index: op for op in self.ops}

    def to_edn(self) -> str:
        return "".join(op.to_edn() + "\n" for op in self.ops)


def _pair(ops: Sequence[Op]) -> list[Op]:
    """Completions in history order, each knowing its invocation's position.

    Pairing is first-in first-out per process, so the (malformed but
    harmless) histories where a process invokes twice before completing still
    pair each completion with an invocation.  An invocation left open gets a
    synthetic ``:info`` completion at the end.
    """
    open_: dict[int, deque[Op]] = {}
    out: list[Op] = []
    for op in ops:
        if op.type == "invoke":
            open_.setdefault(op.process, deque()).append(op)
            continue
        queue = open_.get(op.process)
        if queue:
            op.invoke_position = queue.popleft().position
        out.append(op)
    last_index = max((op.index for op in ops), default=-1)
    for queue in open_.values():
        for inv in queue:
            last_index += 1
            out.append(
                Op(last_index, "info", inv.process, inv.value, inv.f, None, inv.line,
                   position=len(ops) + len(out), invoke_position=inv.position, synthetic=True)
            )
    return out


def _name(value: Any) -> str | None:
    if isinstance(value, Keyword):
        return value.name
    if isinstance(value, str):
        return value
    return None


def _mop(raw: Any, workload: Workload, source: str, line: int) -> Mop:
    if not (isinstance(raw, tuple) and len(raw) == 3):
        raise HistoryFormatError(f"{source}:{line}: a micro-op is a vector [f k v], got {dumps(raw)[:60]}")
    f = _name(raw[0])
    if f not in _MOPS[workload]:
        other = [w for w in WORKLOADS if w != workload and f in _MOPS[w]]
        hint = f" (is this a {other[0]} history? pass --workload {other[0]})" if other else ""
        allowed = " and ".join(f"[:{m} k v]" for m in _MOPS[workload])
        raise HistoryFormatError(f"{source}:{line}: {dumps(raw)[:60]} is not a {workload} micro-op; expected {allowed}{hint}")
    key, value = raw[1], raw[2]
    try:
        hash(key)
    except TypeError:
        raise HistoryFormatError(f"{source}:{line}: the key of {dumps(raw)[:60]} is not a plain value") from None
    if workload == "list-append" and f == "r" and value is not None and not isinstance(value, tuple):
        raise HistoryFormatError(f"{source}:{line}: a list-append read returns a vector or nil, got {dumps(raw)[:60]}")
    try:
        hash(value)
    except TypeError:
        raise HistoryFormatError(f"{source}:{line}: the value of {dumps(raw)[:60]} is not a plain value") from None
    return (f, key, value)


_K_TYPE, _K_PROCESS, _K_VALUE, _K_INDEX, _K_F, _K_TIME = (
    Keyword("type"), Keyword("process"), Keyword("value"), Keyword("index"), Keyword("f"), Keyword("time"))


def from_records(records: Iterable[tuple[int, Any]], workload: Workload, source: str = "<history>") -> TxnHistory:
    """A history from EDN records (``(line, op map)`` pairs)."""
    if workload not in WORKLOADS:
        raise HistoryFormatError(f"unknown workload {workload!r}; known: {', '.join(WORKLOADS)}")
    ops: list[Op] = []
    dropped = 0
    seen: set[int] = set()
    next_index = 0  # for ops without :index: 0, 1, 2, ... as Elle's test helpers number them
    for line, rec in records:
        if not isinstance(rec, dict):
            raise HistoryFormatError(f"{source}:{line}: expected an op map, got {dumps(rec)[:60]}")
        process = rec.get(_K_PROCESS)
        if not isinstance(process, int) or isinstance(process, bool):
            dropped += 1  # nemesis and other non-client ops: Elle drops them
            continue
        kind = _name(rec.get(_K_TYPE))
        if kind not in _TYPES:
            raise HistoryFormatError(f"{source}:{line}: :type must be :invoke, :ok, :fail or :info, got {dumps(rec.get(_K_TYPE))}")
        raw = rec.get(_K_VALUE)
        if raw is None:
            raw = ()
        if not isinstance(raw, tuple):
            raise HistoryFormatError(f"{source}:{line}: :value must be a vector of micro-ops, got {dumps(raw)[:60]}")
        index = rec.get(_K_INDEX, next_index)
        if not isinstance(index, int) or isinstance(index, bool):
            raise HistoryFormatError(f"{source}:{line}: :index must be an integer, got {dumps(index)}")
        if index in seen:
            raise HistoryFormatError(f"{source}:{line}: :index {index} appears twice")
        seen.add(index)
        next_index = max(next_index, index + 1)
        time = rec.get(_K_TIME)
        mops = tuple(_mop(m, workload, source, line) for m in raw)
        ops.append(Op(index, kind, process, mops, rec.get(_K_F),  # type: ignore[arg-type]
                      time if isinstance(time, int) else None, line, position=len(ops)))
    return TxnHistory(workload, ops, source, dropped)


def parse(text: str, workload: Workload, source: str = "<history>") -> TxnHistory:
    """Parse Elle/Jepsen EDN text: one op map per form, or one vector of them."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return from_records(read_records(text, source), workload, source)


def load(path: str | Path, workload: Workload) -> TxnHistory:
    """Read a history file; ``-`` is standard input."""
    if str(path) == "-":
        import sys

        return parse(sys.stdin.read(), workload, "<stdin>")
    return parse(read_text(path), workload, str(path))
