"""The one Hypothesis settings block racekit searches with.

Derandomized and without an example database, so a search is a pure
function of the code and the profile: the same command finds the same
counterexample on every machine, under any load (no deadline, no
wall-clock health checks).
"""

from __future__ import annotations

from typing import Any


def search_settings(max_examples: int, *, shrink: bool = True, stateful_step_count: int | None = None) -> Any:
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    extra: dict[str, Any] = {}
    if stateful_step_count is not None:
        extra["stateful_step_count"] = stateful_step_count
    return settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink) if shrink else (Phase.explicit, Phase.generate),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        **extra,
    )
