"""Failover time vs lease length (fenced variant), in the simulator.

For each lease length (heartbeat = lease/4, the task period = lease/2), the
current leader is crashed at t = 3 lease and the time until the lock
service grants a new token is measured, over 20 runs with random delivery
order within a 10 ms window.  Printed as ratios to the lease length, with
the number of task periods skipped (at-most-once: a period whose leader
dies is not redone).

    python benchmarks/leader_election.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from racekit.choice.strategies.random import RandomChooser  # noqa: E402
from racekit.sim import FaultBudget, Node, World, WorldConfig  # noqa: E402
from systems.leader_election import CANDIDATES, Candidate, LockService, Resource, Timing  # noqa: E402


def failover(lease: int, seed: int) -> tuple[int, int]:
    timing = Timing(lease_ms=lease, renew_ms=lease // 4, period_ms=lease // 2, work_ms=lease // 10, margin_ms=lease // 20)

    def make(nid: str) -> Node:
        if nid == "lock":
            return LockService(timing)
        return Resource() if nid == "res" else Candidate(timing)

    horizon = 8 * lease
    config = WorldConfig(nodes=("lock", "res", *CANDIDATES), window=10, horizon=horizon, faults=FaultBudget(crash=1), crash_downtime=(10 * lease,))
    world = World(config, make)
    chooser = RandomChooser(random.Random(seed))
    world.start()
    while world.now < 3 * lease and world.advance(chooser):
        pass
    lock = world.node("lock")
    assert isinstance(lock, LockService) and lock.holder is not None
    crashed_at, tokens = world.now, lock.token
    world.inject(("crash", lock.holder), chooser)
    while world.advance(chooser):
        pass
    grant = next(n for n in world.notes_of("grant") if n.data["token"] > tokens)
    periods = {n.data["period"] for n in world.notes_of("accept")}
    skipped = max(periods) - min(periods) + 1 - len(periods)
    return grant.t - crashed_at, skipped


def main() -> None:
    print(f"{'lease ms':>9}{'failover p50':>14}{'max':>8}{'/ lease':>9}{'skipped periods':>17}")
    for lease in (500, 1000, 2000, 4000):
        rng = random.Random(lease)
        results = sorted(failover(lease, rng.randrange(1 << 30)) for _ in range(20))
        times = sorted(t for t, _ in results)
        p50, worst = times[len(times) // 2], times[-1]
        skipped = max(s for _, s in results)
        print(f"{lease:>9}{p50:>14}{worst:>8}{p50 / lease:>8.2f}x{skipped:>17}")


if __name__ == "__main__":
    main()
