"""How runs end badly: deadlock, livelock, exception; and nothing outlives a run."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import racekit
from racekit import sync
from tests.sched_util import line_of, live_greenlets

HERE = __file__


class TwoLocks:
    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


def ab_ba(s: TwoLocks) -> list[Callable[[], None]]:
    def t1() -> None:
        with s.a:  # noqa: SIM117 - the inner acquire's line is asserted
            with s.b:  # T0 wants b
                pass

    def t2() -> None:
        with s.b:  # noqa: SIM117
            with s.a:  # T1 wants a
                pass

    return [t1, t2]


@pytest.mark.parametrize("strategy", ["dpor", "dfs", "pct", "random", "hypothesis"])
def test_ab_ba_deadlock_is_reported_with_its_cycle(strategy: str) -> None:
    r = racekit.explore(TwoLocks, ab_ba, strategy=strategy)
    assert r.failed and r.kind == "deadlock"
    assert r.preemptions == 1
    # the cycle: both threads, both locks, each holding one and wanting the other
    assert {row["thread"] for row in r.cycle} == {"T0", "T1"}
    assert {row["holds"] for row in r.cycle} == {row["wants"] for row in r.cycle} == {"Lock#1", "Lock#2"}
    for row in r.cycle:
        assert row["holds"] != row["wants"]
    t0_line = line_of(HERE, "# T0 wants b")
    t1_line = line_of(HERE, "# T1 wants a")
    assert f"test_sched_deadlock.py:{t0_line}" in r.message
    assert f"test_sched_deadlock.py:{t1_line}" in r.message
    assert "T0 holds Lock#" in r.message and "T1 holds Lock#" in r.message


def test_consistent_lock_order_is_deadlock_free() -> None:
    def same_order(s: TwoLocks) -> list[Callable[[], None]]:
        def t() -> None:
            with s.a, s.b:
                pass

        return [t, t]

    r = racekit.explore(TwoLocks, same_order)
    assert r.exhausted and not r.failed


def test_self_deadlock_on_a_plain_lock_is_a_hang() -> None:
    def nested(s: TwoLocks) -> list[Callable[[], None]]:
        def t() -> None:
            with s.a:  # noqa: SIM117
                with s.a:
                    pass

        return [t]

    r = racekit.explore(TwoLocks, nested)
    assert r.kind == "deadlock"
    assert "no thread can run" in r.message and "T0 waits for Lock#1" in r.message


def test_threads_joining_each_other_deadlock() -> None:
    class Pair:
        def __init__(self) -> None:
            self.a: sync.Thread | None = None
            self.b: sync.Thread | None = None

    def threads(p: Pair) -> list[Callable[[], None]]:
        def a() -> None:
            assert p.b is not None
            p.b.join()

        def b() -> None:
            assert p.a is not None
            p.a.join()

        def main() -> None:
            p.a = sync.Thread(target=a, name="A")
            p.b = sync.Thread(target=b, name="B")
            p.a.start()
            p.b.start()

        return [main]

    r = racekit.explore(Pair, threads)
    assert r.kind == "deadlock"
    assert {row["thread"] for row in r.cycle} == {"A", "B"}
    assert "A holds nothing and wants Thread#" in r.message


def test_a_thread_joining_itself_raises_like_threading() -> None:
    def threads(state: object) -> list[Callable[[], None]]:
        def body() -> None:
            t = sync.Thread(target=lambda: t.join())
            t.start()
            t.join()

        return [body]

    r = racekit.explore(object, threads)
    assert r.kind == "exception"
    assert "cannot join current thread" in r.message


class Flag:
    def __init__(self) -> None:
        self.flag = False


def spinner(s: Flag) -> list[Callable[[], None]]:
    def wait() -> None:
        while not s.flag:
            pass

    def setter() -> None:
        s.flag = True

    return [wait, setter]


def test_a_spin_wait_is_not_a_livelock() -> None:
    # Correct on CPython: the waiter spins until the setter runs.  The
    # scheduler sees the waiter back at the same switch point with the same
    # locals and nothing changed, and passes it over for the setter (fair
    # scheduling) instead of spinning until the step bound.
    r = racekit.explore(Flag, spinner, max_steps=300)
    assert not r.failed and r.exhausted, r


def test_a_spin_wait_nobody_ends_is_a_livelock_with_a_short_trace() -> None:
    def threads(s: Flag) -> list[Callable[[], None]]:
        def wait() -> None:
            while not s.flag:
                pass

        return [wait, wait]

    r = racekit.explore(Flag, threads, max_steps=20_000)
    assert r.failed and r.kind == "livelock"
    assert "loops without progress" in r.message and "T0" in r.message and "T1" in r.message
    assert len(r.trace) < 20


def test_spin_wait_is_fine_when_the_setter_runs_first() -> None:
    r = racekit.replay(Flag, spinner, None, [1], max_steps=300)
    assert not r.failed


def test_an_exception_in_a_thread_is_reported() -> None:
    def threads(s: Flag) -> list[Callable[[], None]]:
        def boom() -> None:
            if not s.flag:
                raise ValueError("flag not set")

        def setter() -> None:
            s.flag = True

        return [boom, setter]

    r = racekit.explore(Flag, threads)
    assert r.failed and r.kind == "exception"
    assert "ValueError: flag not set" in r.message and "T0 raised" in r.message


# ----------------------------------------------------------------- teardown
class Held:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cv = threading.Condition()
        self.q: sync.Queue[int] = sync.Queue(maxsize=1)
        self.finally_ran = 0


def hang_everywhere(s: Held) -> list[Callable[[], None]]:
    def waits_forever() -> None:
        try:
            with s.cv:
                s.cv.wait()
        finally:
            s.finally_ran += 1

    def blocks_on_queue() -> None:
        s.q.put(1)
        s.q.put(2)

    def child_spawner() -> None:
        t = sync.Thread(target=lambda: s.q.get() and s.q.get() and s.q.get())
        t.start()
        with s.lock:
            pass

    return [waits_forever, blocks_on_queue, child_spawner]


def raiser(s: Held) -> list[Callable[[], None]]:
    def bad() -> None:
        raise RuntimeError("boom")

    def blocked() -> None:
        with s.cv:
            s.cv.wait()

    return [blocked, bad]


def spin(s: Flag) -> list[Callable[[], None]]:
    def wait() -> None:
        while not s.flag:
            pass

    def other() -> None:
        with threading.Lock():
            sync.sleep(5)

    return [wait, other]


ENDINGS: list[tuple[str, Callable[[], Any], Callable[[Any], list[Callable[[], None]]], str]] = [
    ("deadlock", TwoLocks, ab_ba, "dpor"),
    ("deadlock", Held, hang_everywhere, "dpor"),
    ("exception", Held, raiser, "dpor"),
    ("livelock", Flag, spin, "dpor"),
    ("deadlock", TwoLocks, ab_ba, "random"),
    ("deadlock", TwoLocks, ab_ba, "hypothesis"),
]


@pytest.mark.parametrize(("kind", "setup", "threads", "strategy"), ENDINGS)
def test_no_thread_outlives_a_run(kind: str, setup: Any, threads: Any, strategy: str) -> None:
    before = threading.active_count()
    trace_before = sys.gettrace()
    r = racekit.explore(setup, threads, strategy=strategy, max_steps=200, budget=200)
    assert r.kind == kind
    assert live_greenlets() == []
    assert threading.active_count() == before
    assert sys.gettrace() is trace_before


def test_finally_blocks_of_killed_threads_run() -> None:
    from racekit.sched.explore import _program, replay_program

    program = _program(Held, hang_everywhere, None, True, 200)
    run = replay_program(program, [])
    assert run.kind == "deadlock"
    assert run.state.finally_ran == 1
    assert all(t.glet.dead for t in run.result.threads)
    assert set(run.result.unfinished) == {0, 3}  # the child (3) waits for a third item
