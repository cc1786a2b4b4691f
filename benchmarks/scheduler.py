"""Scheduler costs, each printed with its ratio to a baseline measured in this process.

1. controlled switch (greenlet logical threads, yield_point) vs an OS-thread
   baton pass (two real threads handing a lock back and forth);
2. a switch made from an opcode trace callback (attribute writes in traced code);
3. opcode-tracing slowdown on a pure-Python loop (traced vs untraced);
4. exhaustive exploration of W1a 3x2 (DPOR) in schedules per minute, and the
   DPOR vs plain-DFS schedule counts on a few programs (both exhaustive,
   same outcomes: tests/test_sched_strategies.py checks that on generated
   programs).

The raw greenlet switch is printed as the floor: the rest of a controlled
switch is racekit's bookkeeping (enabled set, chooser, Step, the thread's
pending access); benchmarks/switch_profile.py breaks it down.  Switch costs
are CPU time (``time.process_time``), the median of 3, so a busy machine
moves them less; the OS baton pass is wall time (it is mostly waiting).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import greenlet  # noqa: E402

import racekit  # noqa: E402
from racekit import sync  # noqa: E402
from racekit.choice import Boring as BoringChooser  # noqa: E402
from racekit.sched.runtime import Execution  # noqa: E402

N = 50_000


class Alternate:
    """Always the other thread: every step is a real switch between logical threads."""

    def choose(self, options: object, kind: str, view: object = None) -> int:
        return 1 if len(options) > 1 else 0  # type: ignore[arg-type]


def controlled_switch_us() -> float:
    def body() -> None:
        for _ in range(N):
            sync.yield_point()

    ex = Execution(Alternate(), max_steps=10 * N, record_where=False)
    ex.spawn(body)
    ex.spawn(body)
    start = time.process_time()
    result = ex.run()
    return (time.process_time() - start) / len(result.steps) * 1e6


def viewed_switch_us() -> float:
    """The same switch as a search makes it: through run_program, whose chooser
    is wrapped in the kernel's Recorder and gets a ThreadView per decision."""
    from racekit.sched.program import Program, run_program

    def body() -> None:
        for _ in range(N):
            sync.yield_point()

    program = Program(lambda: None, lambda state: [body, body], max_steps=10 * N)
    start = time.process_time()
    run = run_program(program, Alternate(), record_where=False)
    return (time.process_time() - start) / len(run.result.steps) * 1e6


class Box:
    def __init__(self) -> None:
        self.value = 0


def traced_switch_us() -> float:
    box = Box()

    def body() -> None:
        for i in range(N):
            box.value = i

    ex = Execution(Alternate(), max_steps=10 * N, trace_files=frozenset({__file__}), record_where=False)
    ex.spawn(body)
    ex.spawn(body)
    start = time.process_time()
    result = ex.run()
    return (time.process_time() - start) / len(result.steps) * 1e6


def greenlet_round_trip_us() -> float:
    main = greenlet.getcurrent()

    def other() -> None:
        while True:
            main.switch()

    g = greenlet.greenlet(other)
    start = time.process_time()
    for _ in range(N):
        g.switch()
    return (time.process_time() - start) / (2 * N) * 1e6


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
    start = time.process_time()
    pure_loop()
    plain = time.process_time() - start
    ex = Execution(BoringChooser(), trace_files=frozenset({__file__}), record_where=False)
    ex.spawn(pure_loop)
    start = time.process_time()
    ex.run()
    traced = time.process_time() - start
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

    start = time.process_time()
    result = racekit.explore(setup, bodies, strategy=strategy)
    assert result.exhausted
    return result.schedules, time.process_time() - start


class Account:
    def __init__(self) -> None:
        self.balance = 100

    def withdraw(self, amount: int) -> None:
        if self.balance >= amount:
            self.balance -= amount


class TwoLocks:
    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


class Buffer:
    def __init__(self) -> None:
        self.items: list[int] = []
        self.cv = threading.Condition()

    def put(self, x: int) -> None:
        with self.cv:
            self.items.append(x)
            self.cv.notify()

    def take(self) -> None:
        with self.cv:
            while not self.items:
                self.cv.wait()
            self.items.pop(0)


class Fields:
    def __init__(self) -> None:
        self.a = self.b = self.c = 0


def independent(f: Fields) -> list:
    def ta() -> None:
        f.a = 1
        f.a = 2

    def tb() -> None:
        f.b = 1
        f.b = 2

    def tc() -> None:
        f.c = 1
        f.c = 2

    return [ta, tb, tc]


def ab_ba(s: TwoLocks) -> list:
    def t1() -> None:
        with s.a, s.b:
            pass

    def t2() -> None:
        with s.b, s.a:
            pass

    return [t1, t2]


# name -> (setup, threads, opcode tracing on?)
PROGRAMS = {
    "3 threads, independent writes": (Fields, independent, True),
    "W2 withdraw x2": (Account, lambda a: [lambda: a.withdraw(80), lambda: a.withdraw(80)], True),
    "W3 AB/BA locks": (TwoLocks, ab_ba, True),
    "condition buffer 2+2 (untraced)": (Buffer, lambda b: [b.take, b.take, lambda: b.put(1), lambda: b.put(2)], False),
}


def exhaustive_count(setup: object, threads: object, trace: bool, strategy: str) -> tuple[int, float]:
    from racekit.sched.explore import _program
    from tests.sched_util import outcomes

    start = time.process_time()
    program = _program(setup, threads, None, trace, 20_000)  # type: ignore[arg-type]
    _, n, done = outcomes(program, strategy, lambda s: None, budget=10**6)
    assert done
    return n, time.process_time() - start


def median3(fn: Callable[[], float]) -> float:
    return sorted(fn() for _ in range(3))[1]


def main() -> None:
    baton = os_baton_us()
    floor = median3(greenlet_round_trip_us)
    switch = median3(controlled_switch_us)
    viewed = median3(viewed_switch_us)
    traced = median3(traced_switch_us)
    print(f"OS-thread baton pass           {baton:8.2f} us   (baseline, two threads, two locks)")
    print(f"greenlet switch (floor)        {floor:8.2f} us   x{baton / floor:.0f} cheaper than the baton pass")
    print(f"controlled switch (yield_point){switch:8.2f} us   x{baton / switch:.1f} cheaper than the baton pass, "
          f"x{switch / floor:.1f} the greenlet floor ({switch / (2 * floor):.1f}x the two switches a step makes)")
    print(f"  as a search makes it (view)  {viewed:8.2f} us   x{viewed / floor:.1f} the greenlet floor "
          f"(run_program: the kernel's Recorder and the ThreadView)")
    print(f"switch from opcode tracing     {traced:8.2f} us   x{baton / traced:.1f} cheaper than the baton pass, "
          f"x{traced / floor:.1f} the greenlet floor")
    print(f"opcode tracing slowdown on a pure loop: x{tracing_factor():.1f}")
    n, secs = w1a(3, 2, "dpor")
    print(f"W1a 3x2 exhaustive (DPOR): {n} schedules in {secs:.2f} s CPU = {n / secs * 60:,.0f} schedules/min "
          f"(frontrun 0.7: 95,245 executions in 503 s -> x{503 / secs:.0f} faster)")
    n2, secs2 = w1a(3, 2, "dfs")
    print(f"W1a 3x2 exhaustive (plain DFS): {n2} schedules in {secs2:.2f} s CPU = {n2 / secs2 * 60:,.0f} schedules/min")
    print("DPOR vs plain DFS, exhaustive (schedules, seconds):")
    dpor, _ = w1a(2, 2, "dpor")
    plain, _ = w1a(2, 2, "dfs")
    print(f"  {'W1a 2x2':<32} DPOR {dpor:>6}  plain {plain:>7}  x{plain / dpor:.1f} fewer")
    print(f"  {'W1a 3x2':<32} DPOR {n:>6}  plain {n2:>7}  x{n2 / n:.1f} fewer")
    for name, (setup, threads, trace) in PROGRAMS.items():
        d, ds = exhaustive_count(setup, threads, trace, "dpor")
        p, ps = exhaustive_count(setup, threads, trace, "dfs")
        print(f"  {name:<32} DPOR {d:>6}  plain {p:>7}  x{p / d:.1f} fewer  ({ds:.2f} s vs {ps:.2f} s)")


if __name__ == "__main__":
    main()
