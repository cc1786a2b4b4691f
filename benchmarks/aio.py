"""racekit.aio: how fast the controlled loop runs, and how soon it finds the classic races.

1. Steps per second: three tasks each doing 2,000 ``await asyncio.sleep(0)``
   (and the same with ``sleep(0.001)``: a timer per step), FIFO, on the
   controlled loop (plain: the search's runs; detailed: a replay that names
   every step) and on asyncio's own loop, in this process: the ratio is the
   controlled loop's cost per callback.
2. Schedules to the first failure for each classic race of
   tests/test_aio_races.py, by strategy (``bounded``: iterative bounding
   over prefix DFS, the default; ``dfs``; ``random`` and ``hypothesis`` as
   the mean over 10 seeds), and how many orders the correct twin has in
   all (the space DFS walks to call it clean).

    .venv/bin/python benchmarks/aio.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit.aio import Program, explore_async, run_program  # noqa: E402
from racekit.choice import Boring  # noqa: E402
from tests.test_aio_races import RACES, Box  # noqa: E402

TASKS = 3
ITERATIONS = 2_000


async def spin(delay: float) -> None:
    for _ in range(ITERATIONS):
        await asyncio.sleep(delay)


async def main(delay: float) -> None:
    await asyncio.gather(*(spin(delay) for _ in range(TASKS)))


def steps_per_second() -> None:
    print(f"1. steps/s: {TASKS} tasks x {ITERATIONS} awaits, FIFO")
    for delay in (0.0, 0.001):
        t0 = time.perf_counter()
        asyncio.run(main(delay)) if delay == 0.0 else None
        base = time.perf_counter() - t0 if delay == 0.0 else None
        rows: list[tuple[str, float, int]] = []
        for detail in (False, True):
            program = Program(lambda: None, lambda _, d=delay: [lambda: main(d)], max_steps=10**6)
            t0 = time.perf_counter()
            run = run_program(program, Boring(), detail=detail)
            rows.append(("detailed" if detail else "plain", time.perf_counter() - t0, len(run.steps)))
        label = f"sleep({delay:g})"
        for name, seconds, steps in rows:
            line = f"   {label:<12} controlled/{name:<9} {steps:>6} steps {steps / seconds:>10,.0f} steps/s"
            if base is not None:
                line += f"   x{seconds / base:.1f} the time of asyncio's own loop ({base * 1000:.0f} ms)"
            else:
                line += f"   virtual time {run.time:g}s, no real waiting"
            print(line)


def first_failures() -> None:
    print("\n2. schedules to the first failure (lower is better); twin: orders in all")
    print(f"   {'race':<24} {'bounded':>8} {'dfs':>6} {'random':>8} {'hypoth.':>8} {'twin orders':>12}")
    for name, tasks, check, _kind, twin in RACES:
        cells: list[str] = []
        for strategy in ("bounded", "dfs"):
            r = explore_async(Box, tasks, check, strategy=strategy, minimize=False, budget=20_000)
            cells.append(str(r.first_failure) if r.failed else "-")
        for strategy in ("random", "hypothesis"):
            firsts: list[int] = []
            for seed in range(10):
                r = explore_async(Box, tasks, check, strategy=strategy, seed=seed, minimize=False, budget=500)
                firsts.append(r.first_failure or 500)
            cells.append(f"{statistics.mean(firsts):.1f}")
        t = explore_async(Box, twin, check, strategy="dfs", budget=100_000)
        cells.append(f"{t.schedules}{'' if t.exhausted else '+'}")
        print(f"   {name:<24} {cells[0]:>8} {cells[1]:>6} {cells[2]:>8} {cells[3]:>8} {cells[4]:>12}")


def main_() -> Any:
    steps_per_second()
    first_failures()


if __name__ == "__main__":
    main_()
