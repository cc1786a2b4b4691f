"""bulkhead: what a hung dependency does to a healthy one's latency, per variant.

Two minutes of traffic in virtual time (racekit.aio's controlled loop,
asyncio's own FIFO order - no exploration, just a deterministic run of the
same classes the search checks).  A service calls two dependencies through
the variant's bulkhead, each call under a 1 s timeout:

* ``f``, healthy: answers in 20 ms; 4 sequential callers, a request every
  50 ms each (limit 4);
* ``s``: answers in 30 ms, except during an *episode* from t=30 s to
  t=90 s where it hangs (every call runs into the timeout); 8 callers,
  a request every 50 ms each (limit 4).  The shared pool has 8 slots.

Printed per variant: f's p50 / p99 / max latency and its error share
during the episode, s's rejections, and the ratio of f's p99 to the
baseline (the same variant with no episode) in this run; ``--scale 10``
multiplies both caller counts and limits by ten (what breaks at 10x).
``--plot FILE`` draws f's latency over virtual time for each variant.

    .venv/bin/python benchmarks/bulkhead.py [--scale N] [--plot docs/systems/bulkhead.png]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit.aio import Program, run_program  # noqa: E402
from racekit.choice import Boring  # noqa: E402
from systems import bulkhead  # noqa: E402

HORIZON = 120.0
EPISODE = (30.0, 90.0)
TIMEOUT = 1.0
PERIOD = 0.05


@dataclass
class Load:
    scale: int
    episode: bool
    samples: dict[str, list[tuple[float, float, str]]] = field(default_factory=lambda: {"f": [], "s": []})


def dependency(name: str, latency: float, load: Load) -> bulkhead.Call:
    async def call() -> str:
        now = asyncio.get_running_loop().time()
        hung = name == "s" and load.episode and EPISODE[0] <= now < EPISODE[1]
        await asyncio.sleep(3600.0 if hung else latency)
        return name

    return call


async def caller(service: bulkhead.Bulkhead, name: str, offset: float, load: Load) -> None:
    loop = asyncio.get_running_loop()
    next_at = offset
    while next_at < HORIZON:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        issued = loop.time()
        try:
            await service.call(name)
            outcome = "ok"
        except bulkhead.Rejected:
            outcome = "rejected"
        except TimeoutError:
            outcome = "timeout"
        load.samples[name].append((issued, loop.time() - issued, outcome))
        next_at += PERIOD
        while next_at < loop.time():  # a late caller skips its missed turns, it does not burst
            next_at += PERIOD


def run(variant: str, scale: int, episode: bool) -> tuple[Load, float, int]:
    load = Load(scale, episode)
    deps = {"f": dependency("f", 0.02, load), "s": dependency("s", 0.03, load)}
    factory = bulkhead.SYSTEM.variant(variant).factory

    def tasks(state: Any) -> list[Any]:
        service = factory(deps, {"f": 4 * scale, "s": 4 * scale}, TIMEOUT)
        fs = [lambda i=i: caller(service, "f", i * PERIOD / (4 * scale), load) for i in range(4 * scale)]
        ss = [lambda i=i: caller(service, "s", i * PERIOD / (8 * scale), load) for i in range(8 * scale)]
        return fs + ss

    t0 = time.perf_counter()
    result = run_program(Program(lambda: None, tasks, max_steps=50_000_000), Boring())
    assert result.verdict is None, result.verdict
    return load, time.perf_counter() - t0, len(result.steps)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def during(samples: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    return [s for s in samples if EPISODE[0] <= s[0] < EPISODE[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    names = [v.name for v in bulkhead.SYSTEM.variants]
    print(f"bulkhead, scale x{args.scale}: {HORIZON:g} s virtual, s hangs during t={EPISODE[0]:g}..{EPISODE[1]:g} s")
    print(f"{'variant':<24}{'f p50 ms':>10}{'f p99 ms':>10}{'f max ms':>10}{'f errors':>10}"
          f"{'s p99 ms':>10}{'s rejected':>12}{'p99 vs base':>13}{'steps':>10}{'wall s':>8}")
    runs = {}
    for name in names:
        base, _, _ = run(name, args.scale, episode=False)
        load, wall, steps = run(name, args.scale, episode=True)
        runs[name] = load
        f = during(load.samples["f"])
        lat = [s[1] * 1000 for s in f]
        base_p99 = pct([s[1] * 1000 for s in during(base.samples["f"])], 0.99)
        errors = sum(1 for s in f if s[2] != "ok") / max(1, len(f))
        s_all = during(load.samples["s"])
        rejected = sum(1 for s in s_all if s[2] == "rejected") / max(1, len(s_all))
        print(f"{name:<24}{pct(lat, 0.5):>10.0f}{pct(lat, 0.99):>10.0f}{max(lat):>10.0f}{errors:>10.1%}"
              f"{pct([x[1] * 1000 for x in s_all], 0.99):>10.0f}{rejected:>12.1%}{pct(lat, 0.99) / base_p99:>12.1f}x{steps:>10}{wall:>8.1f}")
    if args.plot:
        plot(runs, args.plot)


def plot(runs: dict[str, Load], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for name, load in runs.items():
        samples = load.samples["f"]
        buckets: dict[int, list[float]] = {}
        for issued, took, _ in samples:
            buckets.setdefault(int(issued), []).append(took * 1000)
        xs = sorted(buckets)
        ax.plot(xs, [max(buckets[x]) for x in xs], label=f"{name} (max per second)")
    ax.axvspan(*EPISODE, color="0.9", label="s hangs")
    ax.set_yscale("log")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("healthy f: latency (ms)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
