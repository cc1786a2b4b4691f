"""Rate limiter measurements (ratios against the strict limit, same process).

1. Over-admission of the *approximate* (gossip) limiter vs gossip interval,
   in the simulator: 3 instances, 6 clients hammering one user back to
   back for 3 s through random instances, random delivery order within a
   10 ms window, no faults.  Reported: the most admissions in any 1 s
   window divided by the limit (1.00 = exact), next to the derived bound
   ``approx_bound`` and the strong variant as the baseline.
2. Token bucket vs sliding window vs fixed window, single authority, pure
   algorithms: worst admissions in any window for an adversarial boundary
   burst and for random traffic, and memory per user.

    python benchmarks/rate_limiter.py
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from racekit.choice.strategies.random import RandomChooser  # noqa: E402
from racekit.sim import ClientOp, ClientScript, World, WorldConfig  # noqa: E402
from specs.rate_limiter import worst_window  # noqa: E402
from systems.rate_limiter import (  # noqa: E402
    GossipSliding,
    Limits,
    SlidingLog,
    SlidingOwner,
    approx_bound,
)

INSTANCES = ("i1", "i2", "i3")
LIMIT, WINDOW = 100, 1000


def simulate(node_cls: type, limits: Limits, seed: int = 0) -> float:
    rng = random.Random(seed)
    clients = []
    for c in range(6):
        ops = tuple(ClientOp(rng.choice(INSTANCES), "hit", ("u1",)) for _ in range(1500))
        clients.append(ClientScript(f"c{c}", ops, timeout=60))
    config = WorldConfig(nodes=INSTANCES, window=10, horizon=3000, max_steps=200_000)
    world = World(config, lambda nid: node_cls(INSTANCES, limits), clients)
    world.run(RandomChooser(random.Random(seed)))
    most, _ = worst_window([n.t for n in world.notes_of("admit")], WINDOW)
    return most / LIMIT


def gossip_table() -> None:
    print("1. approximate limiter: worst admissions in any window / limit (limit 100/s, 3 instances)")
    print(f"{'variant':<34}{'measured':>10}{'bound':>8}")
    strong = simulate(SlidingOwner, Limits(limit=LIMIT, window_ms=WINDOW))
    print(f"{'strong (owner, sliding log)':<34}{strong:>9.2f}x{1.0:>7.2f}x")
    for gossip in (25, 50, 100, 200, 400):
        burst = -(-LIMIT * gossip // (len(INSTANCES) * WINDOW)) + 1
        limits = Limits(limit=LIMIT, window_ms=WINDOW, gossip_ms=gossip, stale_ms=gossip * 5 // 2, burst=burst)
        measured = simulate(GossipSliding, limits)
        bound = approx_bound(limits, len(INSTANCES), 11) / LIMIT
        print(f"{f'gossip every {gossip} ms (burst {burst})':<34}{measured:>9.2f}x{bound:>7.2f}x")


class TokenBucket:
    def __init__(self) -> None:
        self.tokens, self.at = float(LIMIT), 0

    def allow(self, now: int) -> bool:
        self.tokens = min(LIMIT, self.tokens + (now - self.at) * LIMIT / WINDOW)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def memory(self) -> int:
        return 2


class Sliding:
    def __init__(self) -> None:
        self.log = SlidingLog(WINDOW)

    def allow(self, now: int) -> bool:
        if self.log.count(now) < LIMIT:
            self.log.add(now)
            return True
        return False

    def memory(self) -> int:
        return len(self.log.times)


class FixedWindow:
    def __init__(self) -> None:
        self.window, self.count = -1, 0

    def allow(self, now: int) -> bool:
        if now // WINDOW != self.window:
            self.window, self.count = now // WINDOW, 0
        self.count += 1
        return self.count <= LIMIT

    def memory(self) -> int:
        return 2


class SlidingCounter:
    """Two fixed windows, the previous one weighted by how much of it still overlaps."""

    def __init__(self) -> None:
        self.window, self.current, self.previous = 0, 0, 0

    def allow(self, now: int) -> bool:
        window = now // WINDOW
        if window != self.window:
            self.previous = self.current if window == self.window + 1 else 0
            self.window, self.current = window, 0
        weight = 1 - (now % WINDOW) / WINDOW
        if self.previous * weight + self.current < LIMIT:
            self.current += 1
            return True
        return False

    def memory(self) -> int:
        return 3


def algorithms_table() -> None:
    boundary = [WINDOW - 1] * (2 * LIMIT) + [WINDOW] * (2 * LIMIT)  # all at the edge
    rng = random.Random(1)
    poisson = sorted(rng.randrange(0, 10 * WINDOW) for _ in range(30 * LIMIT))
    print("\n2. single authority: worst admissions in any window / limit, memory per user")
    print(f"{'algorithm':<18}{'boundary burst':>16}{'random 3x load':>16}{'memory':>8}")
    algos: list[tuple[str, Callable[[], object]]] = [
        ("sliding log", Sliding),
        ("token bucket", TokenBucket),
        ("fixed window", FixedWindow),
        ("sliding counter", SlidingCounter),
    ]
    for name, make in algos:
        cells = []
        memory = 0
        for times in (boundary, poisson):
            algo = make()
            admitted = [t for t in times if algo.allow(t)]  # type: ignore[attr-defined]
            cells.append(worst_window(admitted, WINDOW)[0] / LIMIT)
            memory = max(memory, algo.memory())  # type: ignore[attr-defined]
        print(f"{name:<18}{cells[0]:>15.2f}x{cells[1]:>15.2f}x{memory:>8}")


if __name__ == "__main__":
    gossip_table()
    algorithms_table()
