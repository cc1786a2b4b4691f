"""retry_storm: load amplification and goodput over time, through a spike and after it.

Forty seconds of virtual time (racekit.aio's controlled loop in asyncio's
own FIFO order: a deterministic run of the same classes the search checks,
with the stateful test's harness).  The server: 4 workers, 40 ms a
request - 100 requests/s.  The users: 14 open-loop clients, one request
each every 200 ms, staggered - 70 requests/s (70 % of capacity).  The
trigger: t=10..12 s, 5 more clients at 20 requests/s each (+100/s: 170/s
offered).  Client settings are ``Settings``' defaults (timeout 0.5 s, 3
retries, backoff cap 50 ms doubling, budget 10 % + 2); the fixed server's
queue bound is 32 (0.32 s of work for 4 workers).

Printed per variant, each against the same variant without the spike in
the same run (the baseline): goodput (requests answered per second)
before, during and after the trigger, load amplification (attempts sent
per request issued) in each phase, and when goodput came back to 90 % of
the offered load for good.

    .venv/bin/python benchmarks/retry_storm.py [--plot docs/systems/retry_storm.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit import Variant  # noqa: E402
from racekit.aio import Program, run_program  # noqa: E402
from racekit.choice import Boring  # noqa: E402
from stateful_tests.test_retry_storm import World, build, settings_of, source, times_of  # noqa: E402
from systems import retry_storm as rs  # noqa: E402

HORIZON = 40.0
SPIKE = (10.0, 12.0)
USERS = 14
PERIOD = 0.2
PHASES = {"before": (2.0, SPIKE[0]), "spike": SPIKE, "after": (SPIKE[1] + 3.0, HORIZON)}


def scenario(spike: bool) -> dict[str, Any]:
    clients: list[dict[str, Any]] = [{"from": round(i * PERIOD / USERS, 6), "every": PERIOD, "until": HORIZON}
                                     for i in range(USERS)]
    if spike:
        clients += [{"from": SPIKE[0] + i * 0.01, "every": 0.05, "until": SPIKE[1], "spike": True} for i in range(5)]
    return {"service": 0.04, "settings": {"workers": 4, "queue_limit": 32}, "clients": clients}


def run(variant: Variant, spike: bool) -> tuple[World, float, int]:
    sc = scenario(spike)
    world = World(sc, settings_of(sc))

    def tasks(state: World) -> dict[str, Any]:
        build(state, variant.factory())
        return {f"c{i}": (lambda i=i, c=c: source(state, f"c{i}", times_of(c))) for i, c in enumerate(sc["clients"])}

    t0 = time.perf_counter()
    result = run_program(Program(lambda: world, tasks, max_steps=50_000_000), Boring())
    assert result.verdict is None, result.verdict
    return world, time.perf_counter() - t0, len(result.steps)


def per_second(world: World) -> tuple[list[int], list[float], list[float]]:
    """Per second of issue time: goodput (requests answered ok) and amplification (attempts / requests)."""
    secs = list(range(int(HORIZON)))
    issued = [0] * len(secs)
    good = [0] * len(secs)
    attempts = [0] * len(secs)
    for o in world.outcomes:
        issued[int(o.issued)] += 1
        good[int(o.issued)] += o.ok
    for s in world.sent:
        if int(s.t) < len(secs):
            attempts[int(s.t)] += 1
    return secs, [float(g) for g in good], [a / i if i else 0.0 for a, i in zip(attempts, issued, strict=True)]


def phase(world: World, lo: float, hi: float) -> tuple[float, float]:
    """Goodput (ok answers per second) and amplification for requests issued in [lo, hi)."""
    reqs = [o for o in world.outcomes if lo <= o.issued < hi]
    attempts = sum(1 for s in world.sent if lo <= s.t < hi)
    return sum(o.ok for o in reqs) / (hi - lo), attempts / max(1, len(reqs))


def recovered_at(world: World) -> str:
    """The first second after the spike from which goodput stays at >= 90 % of the users' load."""
    secs, good, _ = per_second(world)
    offered = USERS / PERIOD
    for s in secs:
        if s >= SPIKE[1] and all(g >= 0.9 * offered for g in good[s:]):
            return f"t={s}s ({s - SPIKE[1]:g}s after)"
    return "never"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, help="write the goodput/amplification plot here")
    args = parser.parse_args()
    print(f"retry_storm: {HORIZON:g} s virtual, capacity 100/s, users {USERS / PERIOD:g}/s, "
          f"spike +100/s at t={SPIKE[0]:g}..{SPIKE[1]:g} s")
    print(f"{'variant':<22}{'goodput before/spike/after':>28}{'after vs no spike':>19}"
          f"{'amplif. before/spike/after':>28}{'recovered':>20}{'steps':>10}{'wall s':>8}")
    runs: dict[str, World] = {}
    for variant in rs.SYSTEM.variants:
        base, _, _ = run(variant, spike=False)
        world, wall, steps = run(variant, spike=True)
        runs[variant.name] = world
        goods, amps = zip(*(phase(world, *PHASES[p]) for p in ("before", "spike", "after")), strict=True)
        base_after = phase(base, *PHASES["after"])[0]
        print(f"{variant.name:<22}{' / '.join(f'{g:.0f}' for g in goods):>28}{goods[2] / base_after:>18.2f}x"
              f"{' / '.join(f'{a:.2f}' for a in amps):>28}{recovered_at(world):>20}{steps:>10}{wall:>8.1f}")
    if args.plot:
        plot(runs, args.plot)


def plot(runs: dict[str, World], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True)
    for name, world in runs.items():
        secs, good, amp = per_second(world)
        top.plot(secs, good, label=name)
        bottom.plot(secs, amp, label=name)
    for ax in (top, bottom):
        ax.axvspan(*SPIKE, color="0.9", label="spike (+100/s)")
    top.axhline(USERS / PERIOD, color="0.6", linestyle=":", label="users' load")
    top.set_ylabel("goodput (ok requests/s)")
    bottom.set_ylabel("attempts per request")
    bottom.set_xlabel("virtual time (s), by when the request was issued")
    top.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
