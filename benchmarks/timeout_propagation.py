"""timeout_propagation: late answers and work done for nobody, per variant, through a slow-database episode.

Thirty seconds of virtual time (racekit.aio's controlled loop in asyncio's
own FIFO order: a deterministic run of the same classes the search checks,
with the stateful test's harness).  A chain front (10 ms) -> svc (20 ms)
-> db (30 ms); 50 requests/s, each with a 0.5 s budget; the broken
variant's fixed per-hop timeout is 1 s.  One caller in ten hangs up after
0.1 s (seeded).  From t=10 to t=20 s the database takes 2 s a query.

Printed per variant: answers after the deadline (share, and the latest,
past the deadline), work done after the caller left - in hop-seconds and as
a ratio against the useful work of the same run - and the most queries in
flight at the database during the episode (the load the slow database
gets).

    .venv/bin/python benchmarks/timeout_propagation.py
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit import Variant  # noqa: E402
from racekit.aio import Program, run_program  # noqa: E402
from racekit.choice import Boring  # noqa: E402
from stateful_tests.test_timeout_propagation import World, build, caller  # noqa: E402
from systems import timeout_propagation as tp  # noqa: E402

HORIZON = 30.0
EPISODE = (10.0, 20.0)
RATE = 50
BUDGET = 0.5


def scenario() -> dict[str, Any]:
    rng = random.Random("timeout_propagation")
    requests = []
    for k in range(int(HORIZON * RATE)):
        at = round(k / RATE, 6)
        req: dict[str, Any] = {"at": at, "budget": BUDGET}
        if EPISODE[0] <= at < EPISODE[1]:
            req["slow"] = {"db": 2.0}
        if rng.random() < 0.1:
            req["hangup"] = 0.1
        requests.append(req)
    return {"chain": [["front", 0.01], ["svc", 0.02], ["db", 0.03]], "hop_timeout": 1.0, "requests": requests}


def run(variant: Variant) -> tuple[World, float]:
    world = World(scenario())
    config: tp.Config = variant.factory()

    def tasks(state: World) -> dict[str, Any]:
        entry = build(state, config)
        return {f"r{i}": (lambda i=i, r=r: caller(state, config, entry, i, r))
                for i, r in enumerate(state.scenario["requests"])}

    t0 = time.perf_counter()
    result = run_program(Program(lambda: world, tasks, max_steps=50_000_000), Boring())
    assert result.verdict is None, result.verdict
    return world, time.perf_counter() - t0


def measure(world: World) -> dict[str, float]:
    left = {a.request: a.left for a in world.answers}
    waited = [a for a in world.answers if a.outcome != "hung up"]
    late = [a for a in waited if a.at is not None and a.at > a.deadline]
    wasted = useful = 0.0
    for hop, request, start, end in world.work:
        end = HORIZON * 2 if end is None else end
        cut = min(max(start, left[request]), end)
        useful += cut - start
        wasted += end - cut
    events = sorted([(s, 1) for h, r, s, e in world.work if h == "db" and EPISODE[0] <= s < EPISODE[1]]
                    + [(e, -1) for h, r, s, e in world.work if h == "db" and EPISODE[0] <= s < EPISODE[1]])
    peak = cur = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    return {"late": len(late) / len(waited), "worst": max((a.at - a.deadline for a in late if a.at), default=0.0),
            "wasted": wasted, "ratio": wasted / useful if useful else 0.0, "db_peak": peak,
            "ok": sum(a.outcome == "ok" for a in waited) / len(waited)}


def main() -> None:
    print(f"timeout_propagation: {HORIZON:g} s virtual, {RATE}/s, budget {BUDGET:g} s, db 2 s at "
          f"t={EPISODE[0]:g}..{EPISODE[1]:g} s, 10 % hang up after 0.1 s")
    print(f"{'variant':<22}{'late':>8}{'worst late s':>14}{'ok':>8}{'wasted hop-s':>14}{'wasted/useful':>15}"
          f"{'db in flight':>14}{'wall s':>8}")
    for variant in tp.SYSTEM.variants:
        world, wall = run(variant)
        m = measure(world)
        print(f"{variant.name:<22}{m['late']:>8.1%}{m['worst']:>14.2f}{m['ok']:>8.1%}{m['wasted']:>14.1f}"
              f"{m['ratio']:>14.2f}x{m['db_peak']:>14.0f}{wall:>8.1f}")


if __name__ == "__main__":
    main()
