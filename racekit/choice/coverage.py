"""How much of a search space a strategy covered, in words that do not overclaim.

"Exhaustively" is said only when the whole space was run; a search bounded
to k deviations says so; a sampling strategy says how many it sampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Extent = Literal["exhaustive", "bounded", "sampled"]


@dataclass(frozen=True)
class Coverage:
    extent: Extent
    runs: int
    bound: int | None = None  # deviations (preemptions, faults, kills) for "bounded"
    unit: str = "preemptions"

    @staticmethod
    def sampled(runs: int) -> Coverage:
        return Coverage("sampled", runs)

    @property
    def exhaustive(self) -> bool:
        return self.extent == "exhaustive"

    def describe(self) -> str:
        if self.extent == "exhaustive":
            return f"exhaustively: all {self.runs} schedules"
        if self.extent == "bounded":
            return f"all {self.runs} schedules with at most {self.bound} {self.unit}"
        return f"{self.runs} sampled schedules, not exhaustive"

    def to_json(self) -> dict[str, object]:
        return {"extent": self.extent, "runs": self.runs, "bound": self.bound}
