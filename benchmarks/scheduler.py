"""Scheduler costs, each printed with its ratio to a baseline measured in this process.

1. controlled switch (greenlet logical threads, yield_point) vs an OS-thread
   baton pass (two real threads handing a lock back and forth);
2. a switch made from an opcode trace callback (attribute writes in traced code);
3. opcode-tracing slowdown on a pure-Python loop (traced vs untraced);
4. exhaustive exploration of W1a 3x2 (DPOR) in schedules per minute, and the
   DPOR vs plain-DFS schedule counts on W1a 2x2.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import racekit  # noqa: E402
from racekit import sync  # noqa: E402
from racekit.sched.chooser import BoringChooser, RandomChooser  # noqa: E402
from racekit.sched.runtime import Execution  # noqa: E402

N = 50_000


def controlled_switch_us() -> float:
    def body() -> None:
        for _ in range(N):
            sync.yield_point()

    ex = Execution(RandomChooser(0), max_steps=10 * N, record_where=False)
    ex.spawn(body)
    ex.spawn(body)
    start = time.perf_counter()
    result = ex.run()
    return (time.perf_counter() - start) / len(result.steps) * 1e6


class Box:
    def __init__(self) -> None:
        self.value = 0


def traced_switch_us() -> float:
    box = Box()

    def body() -> None:
        for i in range(N):
            box.value = i

    ex = Execution(RandomChooser(0), max_steps=10 * N, trace_files=frozenset({__file__}), record_where=False)
    ex.spawn(body)
    ex.spawn(body)
    start = time.perf_counter()
    result = ex.run()
    return (time.perf_counter() - start) / len(result.steps) * 1e6


def os_baton_us() -> float:
    a, b = threading.Lock(), threading.Lock()
    a.acquire()
    b.acquire()
    rounds = 5_000

    def pong() -> None:
        for _ in range(rounds):
            a.acquire()
            b.release()

    t = threading.Thread(target=pong)
    t.start()
    start = time.perf_counter()
    for _ in range(rounds):
        a.release()
        b.acquire()
    elapsed = time.perf_counter() - start
    t.join()
    return elapsed / (2 * rounds) * 1e6


def pure_loop() -> int:
    total = 0
    for i in range(200_000):
        total += i * 2 % 7
    return total


def tracing_factor() -> float:
    start = time.perf_counter()
    pure_loop()
    plain = time.perf_counter() - start
    ex = Execution(BoringChooser(), trace_files=frozenset({__file__}), record_where=False)
    ex.spawn(pure_loop)
    start = time.perf_counter()
    ex.run()
    traced = time.perf_counter() - start
    return traced / plain


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        v = self.value
        self.value = v + 1


def w1a(threads: int, incs: int, strategy: str) -> tuple[int, float]:
    def setup() -> Counter:
        return Counter()

    def bodies(c: Counter) -> list:
        def body() -> None:
            for _ in range(incs):
                c.inc()

        return [body] * threads

    start = time.perf_counter()
    result = racekit.explore(setup, bodies, strategy=strategy)
    assert result.exhausted
    return result.schedules, time.perf_counter() - start


def main() -> None:
    baton = os_baton_us()
    switch = controlled_switch_us()
    traced = traced_switch_us()
    print(f"OS-thread baton pass        {baton:8.2f} us   (baseline)")
    print(f"controlled switch (greenlet) {switch:7.2f} us   x{switch / baton:.3f} of the baton pass")
    print(f"switch from opcode tracing  {traced:8.2f} us   x{traced / baton:.3f} of the baton pass")
    print(f"opcode tracing slowdown on a pure loop: x{tracing_factor():.1f}")
    n, secs = w1a(3, 2, "dfs")
    print(f"W1a 3x2 exhaustive (DPOR): {n} schedules in {secs:.2f} s = {n / secs * 60:,.0f} schedules/min "
          f"(frontrun 0.7: 95,245 executions in 503 s -> x{503 / secs:.0f} faster)")
    dpor, _ = w1a(2, 2, "dfs")
    plain, _ = w1a(2, 2, "dfs-nopor")
    print(f"W1a 2x2 schedules: DPOR {dpor}, plain DFS {plain} (x{plain / dpor:.1f} saved)")


if __name__ == "__main__":
    main()
