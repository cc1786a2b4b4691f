"""Operations and histories: what clients invoked, and what they were told.

A history is plain data.  Positions (``invoke``/``ret``) are integers on one
global order (event index or virtual nanoseconds); only their relative order
matters.  Operation A precedes B in real time iff ``A.ret < B.invoke``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "fail", "info"]


@dataclass(frozen=True)
class Operation:
    """One invocation and its outcome.

    ``status``: ``ok`` - returned ``result``; ``fail`` - definitely did not
    take effect; ``info`` - unknown (crash, timeout, never returned): it may
    take effect at any point after ``invoke``, or never.  ``ret`` is ``None``
    for operations that never returned.
    """

    id: int
    process: Hashable
    name: str
    args: tuple[Any, ...]
    invoke: int
    ret: int | None
    result: Any = None
    status: Status = "ok"

    def precedes(self, other: Operation) -> bool:
        return self.ret is not None and self.status != "info" and self.ret < other.invoke

    @property
    def label(self) -> str:
        """Short name used in explanations: ``get#2``."""
        return f"{self.name}#{self.id}"

    def call_repr(self) -> str:
        """The call as written in code: ``cas(1, 2)``."""
        return f"{self.name}({', '.join(repr(a) for a in self.args)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "process": self.process,
            "name": self.name,
            "args": list(self.args),
            "invoke": self.invoke,
            "ret": self.ret,
            "result": self.result,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Operation:
        return cls(
            id=int(data["id"]),
            process=data["process"],
            name=str(data["name"]),
            args=tuple(_tuplify(a) for a in data["args"]),
            invoke=int(data["invoke"]),
            ret=None if data["ret"] is None else int(data["ret"]),
            result=_tuplify(data["result"]),
            status=data["status"],
        )


def _tuplify(value: Any) -> Any:
    """JSON lists come back as tuples so values stay hashable."""
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


@dataclass
class History:
    """An ordered collection of operations, the checker's input."""

    operations: list[Operation] = field(default_factory=list)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    def __len__(self) -> int:
        return len(self.operations)

    def to_json(self) -> list[dict[str, Any]]:
        return [op.to_json() for op in self.operations]

    @classmethod
    def from_json(cls, data: Sequence[dict[str, Any]]) -> History:
        return cls([Operation.from_json(d) for d in data])


class HistoryRecorder:
    """Builds a history while a run happens: ``invoke`` then ``ok``/``fail``/``info``.

    Positions come from an internal event counter unless the caller passes a
    time (the simulator passes virtual nanoseconds).
    """

    def __init__(self) -> None:
        self._clock = 0
        self._open: dict[int, tuple[Hashable, str, tuple[Any, ...], int]] = {}
        self._done: dict[int, Operation] = {}
        self._next_id = 0

    def _tick(self, at: int | None) -> int:
        if at is None:
            self._clock += 1
            return self._clock
        self._clock = max(self._clock, at)
        return at

    def invoke(self, process: Hashable, name: str, args: tuple[Any, ...] = (), at: int | None = None) -> int:
        op_id = self._next_id
        self._next_id += 1
        self._open[op_id] = (process, name, tuple(args), self._tick(at))
        return op_id

    def _close(self, op_id: int, result: Any, status: Status, at: int | None) -> None:
        process, name, args, invoked = self._open.pop(op_id)
        ret = None if status == "info" else self._tick(at)
        self._done[op_id] = Operation(op_id, process, name, args, invoked, ret, result, status)

    def ok(self, op_id: int, result: Any = None, at: int | None = None) -> None:
        self._close(op_id, result, "ok", at)

    def fail(self, op_id: int, result: Any = None, at: int | None = None) -> None:
        self._close(op_id, result, "fail", at)

    def info(self, op_id: int, at: int | None = None) -> None:
        self._close(op_id, None, "info", at)

    def history(self) -> History:
        """The history so far; operations still open count as ``info``."""
        ops = dict(self._done)
        for op_id, (process, name, args, invoked) in self._open.items():
            ops[op_id] = Operation(op_id, process, name, args, invoked, None, None, "info")
        return History([ops[k] for k in sorted(ops)])
