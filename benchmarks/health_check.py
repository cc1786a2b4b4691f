"""What hysteresis costs and buys: detection time vs flapping, in the simulator.

For each policy - ``one_strike`` (the baseline: out on one failure, back on
one success) and the fixed ``hysteresis`` with fall = 2, 3 (the default), 5 -
two runs of 20 s of virtual time, 10 seeds each:

* **dead**: ``b1`` dies at t = 1 s; detection = time until it is out of rotation;
* **flaky**: ``b1`` is sick in each 100 ms slot with probability p; counted:
  rotation changes per minute, and the share of time it is out of rotation.

Printed with ratios to the baseline in the same run.

    python benchmarks/health_check.py
"""

from __future__ import annotations

import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from racekit.choice.strategies.random import RandomChooser  # noqa: E402
from racekit.sim import Node, World, WorldConfig  # noqa: E402
from specs.health_check import Backend  # noqa: E402
from systems.health_check import (  # noqa: E402
    BACKENDS,
    CHECKER,
    HealthChecker,
    Hysteresis,
    OneStrike,
    Policy,
)

HORIZON = 20_000
SEEDS = 10


def run(cls: type[HealthChecker], policy: Policy, sick: tuple[tuple[int, int], ...], seed: int) -> World:
    def make(nid: str) -> Node:
        return cls(policy) if nid == CHECKER else Backend(sick if nid == "b1" else ())

    world = World(WorldConfig(nodes=(CHECKER, *BACKENDS), window=10, horizon=HORIZON, max_steps=100_000), make)
    world.run(RandomChooser(random.Random(seed)))
    return world


def changes(world: World) -> list[tuple[int, bool]]:
    return [(n.t, n.what == "enable") for n in world.notes if n.what in ("enable", "disable") and n.data["node"] == "b1"]


def detection(cls: type[HealthChecker], policy: Policy, seed: int) -> int:
    world = run(cls, policy, ((1000, HORIZON),), seed)
    out = [t for t, on in changes(world) if not on and t >= 1000]
    return out[0] - 1000 if out else HORIZON


def flaky(cls: type[HealthChecker], policy: Policy, p: float, seed: int) -> tuple[float, float]:
    rng = random.Random(f"sick/{p}/{seed}")
    sick = tuple((t, t + 100) for t in range(0, HORIZON, 100) if rng.random() < p)
    moves = changes(run(cls, policy, sick, seed))
    out_ms, since = 0, None
    for t, on in moves:
        if not on:
            since = t
        elif since is not None:
            out_ms, since = out_ms + t - since, None
    if since is not None:
        out_ms += HORIZON - since
    return len(moves) * 60_000 / HORIZON, out_ms / HORIZON


def main() -> None:
    base = Policy()
    policies = [("one_strike", OneStrike, base)] + [
        (f"hysteresis fall={f}", Hysteresis, replace(base, fall=f)) for f in (2, 3, 5)
    ]
    rates = (0.1, 0.3, 0.5)
    print(f"{'policy':<22}{'detect p50 ms':>14}{'x base':>8}" + "".join(f"{f'flaps/min p={p}':>17}{'out':>6}" for p in rates))
    baseline: dict[str, float] = {}
    for name, cls, policy in policies:
        det = statistics.median(detection(cls, policy, s) for s in range(SEEDS))
        row = f"{name:<22}{det:>14.0f}"
        baseline.setdefault("det", det)
        row += f"{det / baseline['det']:>7.1f}x"
        for p in rates:
            results = [flaky(cls, policy, p, s) for s in range(SEEDS)]
            flaps = statistics.mean(r[0] for r in results)
            out = statistics.mean(r[1] for r in results)
            row += f"{flaps:>17.1f}{out:>6.0%}"
        print(row)
    print("(flaps/min: rotation changes of the flaky node per minute; out: share of time it was out of rotation)")


if __name__ == "__main__":
    main()
