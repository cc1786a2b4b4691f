"""graceful_degradation: what callers get through an error spell and a hang, per variant.

A minute of virtual time (racekit.aio's controlled loop in asyncio's own
FIFO order: a deterministic run of the same classes the search checks, with
the stateful test's harness).  10 callers, each asking for its own key
every 200 ms (50 requests/s); SLA 0.3 s.  The dependency answers in 50 ms,
except: t=15..25 s it errors; t=35..45 s it hangs (5 s a call).

Printed per variant: answers within the SLA, errors, the slowest answer,
degraded (marked) answers, answers that were *not* the dependency's answer
but were served unmarked, and how old degraded data was (seconds behind
the data the dependency had when the request came).  The baseline is the
same variant with a healthy dependency, in the same run (its answers within
the SLA: 100 %).

    .venv/bin/python benchmarks/graceful_degradation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit import Variant  # noqa: E402
from racekit.aio import Program, run_program  # noqa: E402
from racekit.choice import Boring  # noqa: E402
from stateful_tests.test_graceful_degradation import World, caller, dependency  # noqa: E402
from systems import graceful_degradation as gd  # noqa: E402

HORIZON = 60.0
SLA = 0.3
CALLERS = 10


def scenario(healthy: bool) -> dict[str, Any]:
    phases: list[list[Any]] = [[0.0, "ok"]]
    if not healthy:
        phases += [[15.0, "error"], [25.0, "ok"], [35.0, "hang"], [45.0, "ok"]]
    callers = [{"key": f"k{i}", "times": [round(i * 0.02 + k * 0.2, 6) for k in range(int(HORIZON / 0.2))]}
               for i in range(CALLERS)]
    return {"sla": SLA, "phases": phases, "callers": callers}


def run(variant: Variant, healthy: bool) -> tuple[World, float]:
    world = World(scenario(healthy))
    world.service = variant.factory()(dependency(world), SLA)

    def tasks(state: World) -> dict[str, Any]:
        return {f"c{i}": (lambda i=i, c=c: caller(state, f"c{i}", c["key"], [float(t) for t in c["times"]]))
                for i, c in enumerate(state.scenario["callers"])}

    t0 = time.perf_counter()
    result = run_program(Program(lambda: world, tasks, max_steps=50_000_000), Boring())
    assert result.verdict is None, result.verdict
    return world, time.perf_counter() - t0


def measure(world: World) -> dict[str, float]:
    own = {c.request: c for c in world.call_log()}
    n = len(world.served)
    within = sum(1 for s in world.served if not s.error and s.at <= round(s.issued + SLA, 9))
    errors = sum(1 for s in world.served if s.error)
    degraded = [s for s in world.served if not s.error and s.degraded]
    unmarked_stale = sum(1 for s in world.served if not s.error and not s.degraded and (
        own[s.request].outcome != "ok" or own[s.request].version != s.version))
    ages = [(round(s.issued * 10) - s.version) / 10 for s in degraded if s.version >= 0]
    return {"within": within / n, "errors": errors / n, "slowest": max(s.at - s.issued for s in world.served),
            "degraded": len(degraded) / n, "unmarked": unmarked_stale / n,
            "age": sum(ages) / len(ages) if ages else 0.0}


def main() -> None:
    print(f"graceful_degradation: {HORIZON:g} s virtual, {CALLERS * 5}/s, SLA {SLA:g} s; errors t=15..25 s, "
          f"hangs t=35..45 s")
    print(f"{'variant':<18}{'in SLA':>8}{'vs healthy':>12}{'errors':>8}{'slowest s':>11}{'degraded':>10}"
          f"{'unmarked stale':>16}{'degraded age s':>16}{'wall s':>8}")
    for variant in gd.SYSTEM.variants:
        base = measure(run(variant, healthy=True)[0])
        world, wall = run(variant, healthy=False)
        m = measure(world)
        print(f"{variant.name:<18}{m['within']:>8.1%}{m['within'] / base['within']:>11.2f}x{m['errors']:>8.1%}"
              f"{m['slowest']:>11.2f}{m['degraded']:>10.1%}{m['unmarked']:>16.1%}{m['age']:>16.2f}{wall:>8.1f}")


if __name__ == "__main__":
    main()
