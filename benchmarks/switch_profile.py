"""Where a controlled switch's time goes: each piece timed alone, in this process.

A controlled switch (one step: the scheduler picks a thread, it runs to its
next switch point and hands back) is measured whole, as in
benchmarks/scheduler.py, and then piece by piece with ``timeit`` on the same
statements the runtime executes:

* the greenlet round trip (two switches: scheduler -> thread -> scheduler),
  the floor no scheduler on greenlets can go under;
* the enabled set / options (the common case: nobody waits, nobody spins);
* the chooser call;
* the Step record (built with ``tuple.__new__``, appended);
* the thread side: ``yield_point`` -> ``pass_baton`` up to the switch
  (current-execution lookup, pending access, spin bookkeeping);
* the same pieces as they were before (a ``@dataclass(slots=True)`` Step with a
  ``default_factory`` dict, the enabled list through a method per thread, a
  sorted tuple of options, ``current_execution()`` + ``switch_point``), so the
  profile shows what each change bought.

All times are CPU time (``time.process_time``), median of 5, in microseconds.
Run: ``.venv/bin/python benchmarks/switch_profile.py``
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import greenlet  # noqa: E402

from racekit import sync  # noqa: E402
from racekit.sched.access import Access  # noqa: E402
from racekit.sched.runtime import _NO_PENDING, Execution, Step  # noqa: E402

N = 100_000


class Alternate:
    def choose(self, options: Any, kind: str) -> int:
        return 1 if len(options) > 1 else 0


def median_us(fn: Callable[[], float], repeat: int = 5) -> float:
    return statistics.median(fn() for _ in range(repeat))


def timed(stmt: str, env: dict[str, Any], number: int = N) -> float:
    return median_us(lambda: timeit.Timer(stmt, globals=env, timer=time.process_time).timeit(number) / number * 1e6)


def whole_switch() -> float:
    def run() -> float:
        def body() -> None:
            for _ in range(N // 2):
                sync.yield_point()

        ex = Execution(Alternate(), max_steps=10 * N, record_where=False)
        ex.spawn(body)
        ex.spawn(body)
        start = time.process_time()
        result = ex.run()
        return (time.process_time() - start) / len(result.steps) * 1e6

    return median_us(run, 3)


def greenlet_round_trip() -> float:
    def run() -> float:
        main = greenlet.getcurrent()

        def other() -> None:
            while True:
                main.switch()

        g = greenlet.greenlet(other)
        start = time.process_time()
        for _ in range(N):
            g.switch()
        return (time.process_time() - start) / N * 1e6

    return median_us(run)


@dataclass(slots=True)
class OldStep:
    """The Step record as it was: a slotted dataclass with a default factory."""

    index: int
    tid: int
    access: Access | None
    where: str
    enabled: tuple[int, ...]
    preemption: bool
    pending: dict[int, Access | None] = field(default_factory=dict)


@dataclass(slots=True)
class OldThread:
    tid: int
    done: bool = False
    ready: Any = None
    deadline: int | None = None

    def enabled(self, clock: int) -> bool:
        if self.done:
            return False
        if self.ready is None or self.ready():
            return True
        return self.deadline is not None and clock >= self.deadline


def pieces() -> dict[str, float]:
    ex = Execution(Alternate(), record_where=False)
    ex.spawn(lambda: None)
    ex.spawn(lambda: None)
    ex.current = ex.threads[1]
    steps: list[Any] = []
    acc = Access(("yield",), False, "yield")
    old_threads = [OldThread(0), OldThread(1)]
    env: dict[str, Any] = {
        "ex": ex, "Step": Step, "OldStep": OldStep, "acc": acc, "steps": steps, "_NO_PENDING": _NO_PENDING,
        "new": tuple.__new__, "choose": ex.chooser.choose, "old_threads": old_threads, "cur": old_threads[1],
    }
    out = {
        "options (nobody waits: cached tuples)": timed(
            "tids = ex._live_tids\n"
            "if not ex._waiting and not ex._spin_marks and tids:\n"
            "    enabled = ex._enabled_now = tids\n"
            "    c = ex.current\n"
            "    options = tids if c is None or c.tid == tids[0] or c.done else ex._current_first.get(c.tid) or ex.options()",
            env,
        ),
        "  before: a method call per thread, sorted tuple": timed(
            "en = [t.tid for t in old_threads if t.enabled(0)]\n"
            "opts = (cur.tid, *[e for e in en if e != cur.tid]) if cur.tid in en and en[0] != cur.tid else tuple(en)\n"
            "tuple(sorted(opts))",
            env,
        ),
        "chooser call": timed("choose((1, 0), 'thread')", env),
        "Step record (tuple.__new__ + append)": timed(
            "steps.append(new(Step, (5, 1, acc, '', (0, 1), True, _NO_PENDING)))\nif len(steps) > 1000: steps.clear()", env
        ),
        "  before: slotted dataclass, default_factory": timed(
            "steps.append(OldStep(5, 1, acc, '', (0, 1), True))\nif len(steps) > 1000: steps.clear()", env
        ),
    }
    return out


def thread_side() -> tuple[float, float]:
    """yield_point -> pass_baton up to (not including) the greenlet switch, and the
    old path (current_execution() + switch_point with its defaults)."""

    class NoSwitch:
        def switch(self) -> None:
            pass

    class Glet:
        parent = NoSwitch()

    ex = Execution(Alternate(), record_where=False)
    t = ex.spawn(lambda: None)
    t.done = False
    t.glet = Glet()
    ex._sched_glet = Glet.parent
    from racekit.sched import runtime

    runtime._local.execution = ex
    ex.controlled = True
    ex.current = t
    try:
        new = timed("yield_point()", {"yield_point": sync.yield_point})
        old = timed("ex = current_execution()\nex.switch_point(acc)", {
            "current_execution": sync.current_execution, "acc": Access(("yield",), False, "yield"),
        })
    finally:
        runtime._local.execution = None
    return new, old


def main() -> None:
    floor = greenlet_round_trip()
    whole = whole_switch()
    parts = pieces()
    new_thread, old_thread = thread_side()
    print(f"{'controlled switch, whole (yield_point, 2 threads)':<52} {whole:6.2f} us")
    print(f"{'greenlet round trip (2 switches): the floor':<52} {floor:6.2f} us   ({whole / floor:.1f}x)")
    for name, us in parts.items():
        print(f"{name:<52} {us:6.2f} us")
    print(f"{'thread side up to the switch (pass_baton)':<52} {new_thread:6.2f} us")
    print(f"{'  before: current_execution() + switch_point':<52} {old_thread:6.2f} us")
    listed = floor + parts["options (nobody waits: cached tuples)"] + parts["chooser call"]
    listed += parts["Step record (tuple.__new__ + append)"] + new_thread
    print(f"{'sum of the pieces above (current)':<52} {listed:6.2f} us   (the rest: the loop itself)")


if __name__ == "__main__":
    main()
