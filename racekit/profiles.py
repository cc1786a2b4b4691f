"""How hard to look: ``smoke`` (seconds), ``ci`` (the suite stays under five
minutes), ``deep`` (long exploration).  Counts of runs, never times, so a
search is the same on a fast machine and a loaded one."""

from __future__ import annotations

from dataclasses import dataclass

from racekit.errors import UnknownSystem


@dataclass(frozen=True)
class ProfileSettings:
    """``budget``: runs of exhaustive search per variant; ``max_examples``:
    generated scenarios (Hypothesis); ``stateful_step_count``: steps of the
    live Hypothesis state machine (``Machine.TestCase``)."""

    name: str
    max_examples: int
    budget: int
    stateful_step_count: int


PROFILES: dict[str, ProfileSettings] = {
    "smoke": ProfileSettings("smoke", max_examples=15, budget=300, stateful_step_count=15),
    "ci": ProfileSettings("ci", max_examples=60, budget=2_000, stateful_step_count=25),
    "deep": ProfileSettings("deep", max_examples=3_000, budget=100_000, stateful_step_count=80),
}


def profile(name: str) -> ProfileSettings:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownSystem(f"unknown profile {name!r} (choose from: {', '.join(PROFILES)})") from None
