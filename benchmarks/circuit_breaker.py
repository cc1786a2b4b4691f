"""circuit_breaker: what each variant does to a dependency through an outage and its recovery.

A minute of traffic in virtual time (racekit.aio's controlled loop in
asyncio's own FIFO order: a deterministic run of the same classes the search
checks).  20 callers each make a request every 100 ms on average (200/s;
think times jittered by a seeded generator); half of them
give up after 0.3 s (a request budget), the others rely on the breaker's
0.5 s call timeout.  The dependency answers in 20 ms, except:

* t=10..30 s: an outage - every call hangs (runs into a timeout);
* t=30..35 s: a slow recovery - calls take 1 s (longer than the impatient
  callers wait); healthy again from t=35 s.

Breaker: threshold 5 consecutive failures, cooldown 1 s, 1 probe.  Printed
per variant, with the no-breaker baseline (every call goes through) in the
same run: calls that reached the dependency during the outage (the load the
breaker spared it - the ratio is against the baseline), the most calls in
flight to it at once during the slow recovery (the half-open race sends the
backlog in), when the breaker closed for good, and the share of requests served
from t=38 s on.

    .venv/bin/python benchmarks/circuit_breaker.py
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit.aio import Program, run_program  # noqa: E402
from racekit.choice import Boring  # noqa: E402
from systems import circuit_breaker as cb  # noqa: E402

HORIZON = 60.0
OUTAGE = (10.0, 30.0)
RECOVERY = (30.0, 35.0)
CALLERS = 20
PERIOD = 0.1


@dataclass
class Stats:
    outage_calls: int = 0
    in_flight: int = 0
    peak_recovery: int = 0
    served_late: int = 0
    asked_late: int = 0
    transitions: list[tuple[float, str]] = field(default_factory=list)


class Down(Exception):
    pass


def dependency(stats: Stats) -> cb.Callable[[], Any]:
    async def call() -> str:
        now = asyncio.get_running_loop().time()
        if OUTAGE[0] <= now < OUTAGE[1]:
            stats.outage_calls += 1
        stats.in_flight += 1
        if RECOVERY[0] <= now < RECOVERY[1]:
            stats.peak_recovery = max(stats.peak_recovery, stats.in_flight)
        try:
            latency = 3600.0 if OUTAGE[0] <= now < OUTAGE[1] else 1.0 if RECOVERY[0] <= now < RECOVERY[1] else 0.02
            await asyncio.sleep(latency)
            return "ok"
        finally:
            stats.in_flight -= 1

    return call


class NoBreaker(cb.Guarded):
    async def call(self, fn: cb.Callable[[], Any]) -> Any:
        return await asyncio.wait_for(fn(), self.timeout)


class Watched:
    """The breaker with its mode changes logged."""

    def __init__(self, inner: cb.Breaker, stats: Stats) -> None:
        self.inner, self.stats = inner, stats

    def _note(self) -> None:
        if not self.stats.transitions or self.stats.transitions[-1][1] != self.inner.mode:
            self.stats.transitions.append((self.inner.clock() / 1000, self.inner.mode))

    def acquire(self) -> cb.Permit | None:
        permit = self.inner.acquire()
        self._note()
        return permit

    def release(self, permit: cb.Permit, ok: bool) -> None:
        self.inner.release(permit, ok)
        self._note()


async def caller(guarded: cb.Guarded, i: int, stats: Stats) -> None:
    loop = asyncio.get_running_loop()
    rng = random.Random(f"circuit_breaker/{i}")  # jittered think time, the same in every run
    deadline = 0.3 if i % 2 else None
    next_at = i * PERIOD / CALLERS
    while next_at < HORIZON:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        late = loop.time() >= RECOVERY[1] + 3.0
        stats.asked_late += late
        try:
            call = guarded.call(dependency(stats))
            await (call if deadline is None else asyncio.wait_for(call, deadline))
            stats.served_late += late
        except (cb.BreakerOpen, TimeoutError, Down):
            pass
        next_at += PERIOD * rng.uniform(0.5, 1.5)
        next_at = max(next_at, loop.time())


def run(config: cb.Config | None) -> tuple[Stats, float]:
    stats = Stats()

    def tasks(_: Any) -> list[Any]:
        clock = lambda: round(asyncio.get_running_loop().time() * 1000)  # noqa: E731
        if config is None:
            guarded: cb.Guarded = NoBreaker(cb.Breaker(clock), 0.5)
        else:
            guarded = config.build(clock, threshold=5, cooldown_ms=1000, probes=1, timeout=0.5)
            guarded.breaker = Watched(guarded.breaker, stats)  # type: ignore[assignment]
        return [lambda i=i: caller(guarded, i, stats) for i in range(CALLERS)]

    t0 = time.perf_counter()
    result = run_program(Program(lambda: None, tasks, max_steps=50_000_000), Boring())
    assert result.verdict is None, result.verdict
    return stats, time.perf_counter() - t0


def closed_for_good(stats: Stats) -> str:
    if not stats.transitions or stats.transitions[-1][1] != "closed":
        return "never"
    return f"t={stats.transitions[-1][0]:.2f}s"


def main() -> None:
    print(f"circuit_breaker: {HORIZON:g} s virtual, {CALLERS} callers x {1 / PERIOD:g}/s, "
          f"outage t={OUTAGE[0]:g}..{OUTAGE[1]:g} s, slow recovery until t={RECOVERY[1]:g} s")
    base, wall = run(None)
    print(f"{'variant':<16}{'outage calls':>14}{'vs none':>9}{'peak in flight':>16}{'closed for good':>17}"
          f"{'served from 38s':>18}{'wall s':>8}")
    print(f"{'(no breaker)':<16}{base.outage_calls:>14}{1:>8.2f}x{base.peak_recovery:>16}{'-':>17}"
          f"{base.served_late / base.asked_late:>18.1%}{wall:>8.1f}")
    for variant in cb.SYSTEM.variants:
        stats, wall = run(variant.factory())
        print(f"{variant.name:<16}{stats.outage_calls:>14}{stats.outage_calls / base.outage_calls:>8.3f}x"
              f"{stats.peak_recovery:>16}{closed_for_good(stats):>17}"
              f"{stats.served_late / stats.asked_late:>18.1%}{wall:>8.1f}")


if __name__ == "__main__":
    main()
