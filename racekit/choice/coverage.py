"""How much of a search space a strategy covered, in words that do not overclaim.

"Exhaustively" is said only when the whole space was run; a search bounded
to k deviations says so; a sampling strategy says how many it sampled.

And none of that is said of a *vacuous* search: two or more threads ran but
no run ever reached a shared-access switch point, so there was nothing to
interleave and every "schedule" was the same one (code that is not traced,
or threads that share nothing racekit can see).  :func:`~racekit.choice.drive`
marks the coverage vacuous from the runs' ``Result.actors`` and
``Result.shared_points``; only the thread engine counts them today.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Extent = Literal["exhaustive", "bounded", "sampled"]

VACUOUS = (
    "two or more threads ran but no shared-access switch point was ever reached: nothing was "
    "interleaved, so this clean verdict says nothing (is the code under test traced? see "
    "docs/threading-model.md)"
)


@dataclass(frozen=True)
class Coverage:
    extent: Extent
    runs: int
    bound: int | None = None  # deviations (preemptions, faults, kills) for "bounded"
    unit: str = "preemptions"
    vacuous: bool = False  # nothing was interleaved (module doc): never an exhaustive clean

    @staticmethod
    def sampled(runs: int) -> Coverage:
        return Coverage("sampled", runs)

    @property
    def exhaustive(self) -> bool:
        return self.extent == "exhaustive" and not self.vacuous

    @property
    def warnings(self) -> list[str]:
        """What a clean verdict with this coverage must be read with."""
        return [VACUOUS] if self.vacuous else []

    def describe(self) -> str:
        if self.vacuous:
            return f"nothing interleaved in {self.runs} runs: no shared-access switch point reached"
        if self.extent == "exhaustive":
            return f"exhaustively: all {self.runs} schedules"
        if self.extent == "bounded":
            return f"all {self.runs} schedules with at most {self.bound} {self.unit}"
        return f"{self.runs} sampled schedules, not exhaustive"

    def to_json(self) -> dict[str, object]:
        return {"extent": self.extent, "runs": self.runs, "bound": self.bound, "vacuous": self.vacuous}
