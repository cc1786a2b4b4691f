"""Convergence time of the fixed replicas after a partition heals, in the simulator.

For N replicas (3, 5, 9) and gossip interval G (25, 50, 100, 200 ms): one
replica is cut off for 500 ms while a client on each side of the cut writes
(a put, an inc and an add every 20 ms, for the first 300 ms of the cut);
after the heal, the time until every replica reads the same register,
counter and set is measured,
over 20 runs with random delivery order within a 10 ms window and random
clock drift up to 10 %.  Printed next to G (the ratio is what the gossip
design promises: about one period), with the gossip messages per second
the fleet pays for it (N (N - 1) / G).

    python benchmarks/eventual_consistency.py
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from racekit.choice.strategies.random import RandomChooser  # noqa: E402
from racekit.sim import ClientOp, ClientScript, FaultBudget, Node, World, WorldConfig  # noqa: E402
from systems.eventual_consistency import Design, Replica, Types  # noqa: E402

CUT_AT, CUT_MS = 100, 500


def convergence(n: int, gossip_ms: int, seed: int) -> int:
    replicas = tuple(f"r{i + 1}" for i in range(n))
    design = Design(Types, gossip_ms=gossip_ms)
    rng = random.Random(seed)

    def make(nid: str) -> Node:
        return Replica(design, replicas)

    def writes(node: str, tag: str) -> tuple[ClientOp, ...]:
        ops = []
        for k, at in enumerate(range(CUT_AT, CUT_AT + CUT_MS - 200, 20)):
            ops += [ClientOp(node, "put", (f"{tag}{k}",), at=at), ClientOp(node, "inc", at=at), ClientOp(node, "add", (f"{tag}{k % 3}",), at=at)]
        return tuple(ops)

    clients = [ClientScript(f"a@{replicas[0]}", writes(replicas[0], "a"), timeout=50), ClientScript(f"b@{replicas[-1]}", writes(replicas[-1], "b"), timeout=50)]
    drift = tuple((r, rng.randint(-100_000, 100_000)) for r in replicas)
    config = WorldConfig(
        nodes=replicas, window=10, horizon=CUT_AT + CUT_MS + 20 * gossip_ms, max_steps=500_000,
        faults=FaultBudget(partition=1), partition_duration=(CUT_MS,), initial_drift=drift,
    )
    world = World(config, make, clients)
    chooser = RandomChooser(rng)
    world.start()
    while world.now < CUT_AT and world.advance(chooser):
        pass
    world.inject(("isolate", replicas[0]), chooser)
    while world.advance(chooser):
        heals = [row["t"] for row in world.trace if row["what"] == "heal"]
        if not heals:
            continue
        last = max(heals[0], max(row["t"] for row in world.trace if row["what"] in ("invoke", "return", "timeout")))
        views = set()
        for r in replicas:
            node = world.node(r)
            assert isinstance(node, Replica)
            views.add(repr(node.snapshot()))
        if len(views) == 1:
            return world.now - last
    raise AssertionError("did not converge before the horizon")


def main() -> None:
    print(f"{'replicas':>9}{'gossip ms':>10}{'converge p50':>14}{'max':>6}{'p50 / G':>9}{'msgs/s':>8}")
    for n in (3, 5, 9):
        for gossip in (25, 50, 100, 200):
            times = sorted(convergence(n, gossip, seed) for seed in range(20))
            p50 = statistics.median(times)
            print(f"{n:>9}{gossip:>10}{p50:>14.0f}{times[-1]:>6}{p50 / gossip:>8.2f}x{n * (n - 1) * 1000 // gossip:>8}")


if __name__ == "__main__":
    main()
