"""World configuration and client workloads: plain, JSON-able data.

A counterexample's *scenario* is a :class:`WorldConfig` plus the client
scripts; together with the choice list they determine the run completely.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAULT_KINDS = ("drop", "dup", "delay", "crash", "partition", "skew", "pause")
"""Every fault the world can inject; each has its own budget."""


@dataclass(frozen=True)
class FaultBudget:
    """How many faults of each kind one run may inject (0 = never offered).

    Bounding faults keeps runs meaningful (a network that drops everything
    proves nothing) and keeps exhaustive search finite.  ``total`` caps the
    sum when set.
    """

    drop: int = 0
    dup: int = 0
    delay: int = 0
    crash: int = 0
    partition: int = 0
    skew: int = 0
    pause: int = 0
    total: int | None = None

    def get(self, kind: str) -> int:
        value = getattr(self, kind)
        assert isinstance(value, int)
        return value

    @property
    def any(self) -> bool:
        return any(self.get(k) for k in FAULT_KINDS) and self.total != 0


@dataclass(frozen=True)
class WorldConfig:
    """Everything about a world except the node code.

    Time is in integer ms (see ``clock.py``).  ``latency`` is the one-way
    base delay; ``jitter`` lists extra delays a message may get (a choice of
    kind "jitter" per send when it has more than one entry).  ``window``
    bounds reordering: only events due within ``window`` ms of the earliest
    pending one may be picked, so every event happens at most ``window`` ms
    late (default 10 ms; ``None`` = fully asynchronous, where a pending
    timeout is as likely next as a message due now).  ``max_options`` caps how many
    pending events are offered per step.
    """

    nodes: tuple[str, ...]
    latency: int = 1
    jitter: tuple[int, ...] = (0,)
    window: int | None = 10
    max_options: int = 4
    horizon: int = 10_000
    max_steps: int = 5_000
    faults: FaultBudget = field(default_factory=FaultBudget)
    crashable: tuple[str, ...] | None = None
    skewable: tuple[str, ...] | None = None
    partitionable: tuple[str, ...] | None = None
    one_way: bool = True
    crash_downtime: tuple[int, ...] = (500,)
    partition_duration: tuple[int, ...] = (1000,)
    pause_duration: tuple[int, ...] = (1000,)
    delay_extra: tuple[int, ...] = (1000,)
    skew_jumps: tuple[int, ...] = (-1000, 1000)
    drifts_ppm: tuple[int, ...] = ()
    offsets: tuple[tuple[str, int], ...] = ()
    initial_drift: tuple[tuple[str, int], ...] = ()
    torn_writes: bool = False
    # crashable / skewable / partitionable: which nodes those faults may hit
    # (None = all).  "isolate n" cuts n from every node; one-way cuts are
    # between partitionable nodes.
    fault_options: int = 4
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorldConfig:
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "faults":
                value = FaultBudget(**value)
            elif f.name in ("offsets", "initial_drift"):
                value = tuple((str(k), int(v)) for k, v in value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass(frozen=True)
class ClientOp:
    """One operation a client will invoke: ``name(*args)`` at node ``node``.

    It is issued no earlier than ``at`` (true ms) and only after the
    client's previous operation returned or timed out (clients are
    sequential processes, as in Jepsen).
    """

    node: str
    name: str
    args: tuple[Any, ...] = ()
    at: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "name": self.name, "args": list(self.args), "at": self.at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientOp:
        return cls(str(data["node"]), str(data["name"]), _tuplify(data.get("args", ())), int(data.get("at", 0)))


@dataclass(frozen=True)
class ClientScript:
    """A client process: its id (a network address) and its operations in order.

    An operation not answered within ``timeout`` ms is recorded as ``info``
    (unknown outcome) and the client moves on.
    """

    id: str
    ops: tuple[ClientOp, ...]
    timeout: int = 1000
    think: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ops": [op.to_json() for op in self.ops], "timeout": self.timeout, "think": self.think}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClientScript:
        return cls(
            str(data["id"]),
            tuple(ClientOp.from_json(op) for op in data["ops"]),
            int(data.get("timeout", 1000)),
            int(data.get("think", 0)),
        )


def _tuplify(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuplify(v) for v in value)
    return value
