"""What one simulated run produced: plain data for explorers and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from racekit.history import History

if TYPE_CHECKING:
    from racekit.sim.world import World


@dataclass(frozen=True)
class Violation:
    """A property that failed: its catalogue name, the kind of check, one line of why."""

    property: str
    kind: str
    message: str


@dataclass(frozen=True)
class Note:
    """A ghost fact a node recorded with ``ctx.note``: for properties, not for nodes."""

    step: int
    t: int
    node: str
    what: str
    data: dict[str, Any]


@dataclass
class RunResult:
    """The outcome of ``World.run``: the violation (if any) and the evidence."""

    violation: Violation | None
    trace: list[dict[str, Any]]
    history: History
    steps: int
    faults: int
    world: World
    choices: list[int] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.violation is not None
