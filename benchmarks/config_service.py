"""Propagation and rollback time of the fixed config service, in the simulator.

The operator publishes ``c2`` at t=0 (canary first, the rest after the
300 ms bake) and rolls back at t=1 s.  Measured per run: publish -> canary
running it, publish -> every service running it, rollback -> every service
running the old content.  Each config message (push or poll answer) is lost
with probability p (a lossy link; the poll is the backstop).  30 runs per
cell, random delivery order within 10 ms, drift up to 10 %.  A rollout a
lost message holds up past the rollback counts as reaching the node then.

1. fleet size 3 / 10 / 30 at p = 0.1, poll every 100 ms, push + poll vs
   poll only (the baseline ratio);
2. rollback p50 and p90 against the poll interval (50-800 ms) for p = 0,
   0.1, 0.3, plotted to docs/systems/config_service.png.

    python benchmarks/config_service.py
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from racekit.choice.strategies.random import RandomChooser  # noqa: E402
from racekit.sim import ClientOp, ClientScript, Node, World, WorldConfig  # noqa: E402
from systems.config_service import STORE, Service, Store, Timing  # noqa: E402

ROLLBACK_AT = 1000
RUNS = 50


class LossyService(Service):
    """Loses each incoming config message with probability ``loss`` (seeded per node)."""

    loss = 0.0

    def on_message(self, src: str, msg: Any) -> None:
        if not isinstance(msg, tuple) or msg[0] != "config" or self.ctx.random.random() >= self.loss:
            super().on_message(src, msg)


class PollOnlyStore(Store):
    """Baseline: no push; services learn only by polling."""

    def retarget(self, nodes: tuple[str, ...], version: int, why: str) -> None:
        for n in nodes:
            self.target[n] = version
            self.note("target", node=n, version=version, content=self.contents[version], why=why)


def run(n: int, poll_ms: int, loss: float, push: bool, seed: int) -> tuple[int, int, int]:
    services = tuple(f"s{i + 1}" for i in range(n))
    timing = Timing(poll_ms=poll_ms)
    store_cls = Store if push else PollOnlyStore
    service_cls = type("Lossy", (LossyService,), {"loss": loss})
    rng = random.Random(seed)

    def make(nid: str) -> Node:
        return store_cls(timing, services, services[0]) if nid == STORE else service_cls(timing)

    admin = ClientScript("admin", (ClientOp(STORE, "publish", ("c2",)), ClientOp(STORE, "rollback", at=ROLLBACK_AT)))
    config = WorldConfig(
        nodes=(STORE, *services), window=10, horizon=ROLLBACK_AT + 20 * poll_ms, max_steps=2_000_000,
        initial_drift=tuple((s, rng.randint(-100_000, 100_000)) for s in services), seed=seed,
    )
    world = World(config, make, [admin])
    world.run(RandomChooser(rng))
    first: dict[tuple[str, int], int] = {}
    for note in world.notes_of("apply"):
        first.setdefault((note.node, note.data["version"]), note.t)
    publish = next(x.t for x in world.notes_of("publish") if x.data["version"] == 2)
    rollback = next(x.t for x in world.notes_of("rollback"))
    canary = first.get((services[0], 2), rollback) - publish  # the rollback may overtake a lost rollout
    everyone = max(first.get((s, 2), rollback) for s in services) - publish
    back = max(first[(s, 3)] for s in services) - rollback
    return canary, everyone, back


def p(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def table() -> None:
    print("1. fleet size, p = 0.1, poll 100 ms (ms; ratio = push+poll / poll only)")
    print(f"{'services':>9}{'mode':>11}{'canary p50':>12}{'all p50':>9}{'rollback p50':>14}{'p90':>6}{'x baseline':>12}")
    for n in (3, 10, 30):
        base = None
        for push in (False, True):
            results = [run(n, 100, 0.1, push, seed) for seed in range(RUNS)]
            canary = statistics.median(r[0] for r in results)
            everyone = statistics.median(r[1] for r in results)
            backs = [r[2] for r in results]
            back50 = statistics.median(backs)
            base = base or back50
            mode = "push+poll" if push else "poll only"
            print(f"{n:>9}{mode:>11}{canary:>12.0f}{everyone:>9.0f}{back50:>14.0f}{p(backs, 0.9):>6.0f}{back50 / base:>11.2f}x")


def sweep() -> dict[float, list[tuple[int, float, float]]]:
    print("2. rollback time vs poll interval, 10 services, push + poll")
    print(f"{'loss':>6}{'poll ms':>9}{'rollback p50':>14}{'p90':>7}{'max':>7}{'p90 / poll':>12}")
    curves: dict[float, list[tuple[int, float, float]]] = {}
    for loss in (0.0, 0.1, 0.3):
        for poll in (50, 100, 200, 400, 800):
            backs = [run(10, poll, loss, True, seed)[2] for seed in range(RUNS)]
            p50, p90 = statistics.median(backs), p(backs, 0.9)
            curves.setdefault(loss, []).append((poll, p50, p90))
            print(f"{loss:>6}{poll:>9}{p50:>14.0f}{p90:>7.0f}{max(backs):>7}{p90 / poll:>11.2f}x")
    return curves


def plot(curves: dict[float, list[tuple[int, float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for loss, points in curves.items():
        polls = [x[0] for x in points]
        line = ax.plot(polls, [x[2] for x in points], marker="o", label=f"p90, loss {loss:.0%}")[0]
        ax.plot(polls, [x[1] for x in points], linestyle="--", color=line.get_color(), label=f"p50, loss {loss:.0%}")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(bottom=0)
    ax.set_xticks([50, 100, 200, 400, 800], labels=["50", "100", "200", "400", "800"])
    ax.minorticks_off()
    ax.set_xlabel("poll interval (ms)")
    ax.set_ylabel("rollback reaches all 10 services (ms)")
    ax.set_title("config_service: rollback time (push + poll backstop)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


def main() -> None:
    if "--plot-only" not in sys.argv:
        table()
    curves = sweep()
    plot(curves, Path(__file__).resolve().parent.parent / "docs" / "systems" / "config_service.png")


if __name__ == "__main__":
    main()
