"""racekit.sync primitives under control (and, at the end, with real threads).

Each primitive gets a correct use that exhaustive DFS proves clean and a
broken use it must catch.  Time is virtual: timed waits and sleeps advance
the execution's clock when every thread waits, never the wall clock.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import racekit
from racekit import sync
from racekit.sched.explore import Program, replay_program, search

Threads = Callable[[Any], list[Callable[[], Any]]]


def exhaustive(setup: Callable[[], Any], threads: Threads, check: Callable[[Any], None] | None = None) -> None:
    r = racekit.explore(setup, threads, check, strategy="dpor")
    assert r.exhausted, r
    assert not r.failed, r


# --------------------------------------------------------------- condition
class Buffer:
    def __init__(self) -> None:
        self.items: list[int] = []
        self.cv = threading.Condition()
        self.taken: list[int] = []

    def put(self, x: int) -> None:
        with self.cv:
            self.items.append(x)
            self.cv.notify()

    def take_while(self) -> None:
        with self.cv:
            while not self.items:
                self.cv.wait()
            self.taken.append(self.items.pop(0))

    def take_if(self) -> None:
        with self.cv:
            if not self.items:  # bug: a woken consumer may find the item gone
                self.cv.wait()
            self.taken.append(self.items.pop(0))


def consumers_and_producers(take: str) -> Threads:
    def threads(b: Buffer) -> list[Callable[[], Any]]:
        return [getattr(b, take), getattr(b, take), lambda: b.put(1), lambda: b.put(2)]

    return threads


def all_taken(b: Buffer) -> None:
    assert sorted(b.taken) == [1, 2] and b.items == []


def test_condition_wait_in_a_while_loop_is_clean() -> None:
    # Primitive switch points only (trace=False): the list is only touched
    # under the condition's lock, and the opcode-level space is ~20x larger.
    r = racekit.explore(Buffer, consumers_and_producers("take_while"), all_taken, trace=False)
    assert r.exhausted and not r.failed and r.schedules > 50


@pytest.mark.parametrize("strategy", ["dpor", "pct", "random", "hypothesis"])
def test_condition_wait_under_if_is_caught(strategy: str) -> None:
    r = racekit.explore(
        Buffer, consumers_and_producers("take_if"), all_taken, strategy=strategy, budget=2000, trace=False
    )
    assert r.failed and r.kind == "exception"
    assert "IndexError" in r.message


def test_lost_wakeup_without_a_predicate_hangs() -> None:
    def threads(b: Buffer) -> list[Callable[[], Any]]:
        def waiter() -> None:
            with b.cv:
                b.cv.wait()  # if the notify came first, nobody wakes us

        def notifier() -> None:
            with b.cv:
                b.cv.notify()

        return [waiter, notifier]

    r = racekit.explore(Buffer, threads)
    assert r.kind == "deadlock" and "Condition#" in r.message


def test_notify_all_wakes_every_waiter() -> None:
    def threads(b: Buffer) -> list[Callable[[], Any]]:
        def waiter() -> None:
            with b.cv:
                while not b.items:
                    b.cv.wait()
                b.taken.append(b.items[0])

        def opener() -> None:
            with b.cv:
                b.items.append(7)
                b.cv.notify_all()

        return [waiter, waiter, opener]

    exhaustive(Buffer, threads, lambda b: None if b.taken == [7, 7] else pytest.fail(str(b.taken)))


def test_wait_without_the_lock_is_an_error() -> None:
    def threads(b: Buffer) -> list[Callable[[], Any]]:
        return [lambda: b.cv.wait()]

    r = racekit.explore(Buffer, threads)
    assert r.kind == "exception" and "un-acquired lock" in r.message


# ------------------------------------------------------------------- event
class Published:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.data = 0
        self.seen = -1


def test_event_orders_a_publication() -> None:
    def threads(p: Published) -> list[Callable[[], Any]]:
        def writer() -> None:
            p.data = 42
            p.ready.set()

        def reader() -> None:
            p.ready.wait()
            p.seen = p.data

        return [reader, writer]

    exhaustive(Published, threads, lambda p: None if p.seen == 42 else pytest.fail(f"saw {p.seen}"))


def test_event_set_too_early_is_caught() -> None:
    def threads(p: Published) -> list[Callable[[], Any]]:
        def writer() -> None:
            p.ready.set()  # bug: published before the data
            p.data = 42

        def reader() -> None:
            p.ready.wait()
            p.seen = p.data

        return [reader, writer]

    def check(p: Published) -> None:
        assert p.seen == 42, f"reader saw {p.seen}"

    r = racekit.explore(Published, threads, check)
    assert r.failed and r.message.startswith("reader saw 0") and r.preemptions == 1


def test_event_clear_and_is_set() -> None:
    def threads(p: Published) -> list[Callable[[], Any]]:
        def body() -> None:
            p.ready.set()
            p.ready.clear()
            p.seen = int(p.ready.is_set())

        return [body]

    r = racekit.explore(Published, threads, lambda p: None if p.seen == 0 else pytest.fail("set"))
    assert not r.failed


# ------------------------------------------------------------------- rlock
class Reentrant:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.n = 0

    def inc(self) -> None:
        with self.lock:
            self.n += 1

    def inc_twice(self) -> None:
        with self.lock:
            self.inc()
            self.inc()


def test_nested_rlock_is_clean() -> None:
    def threads(r: Reentrant) -> list[Callable[[], Any]]:
        return [r.inc_twice, r.inc_twice]

    exhaustive(Reentrant, threads, lambda r: None if r.n == 4 else pytest.fail(str(r.n)))


def test_rlock_released_by_another_thread_is_an_error() -> None:
    def threads(r: Reentrant) -> list[Callable[[], Any]]:
        def owner() -> None:
            r.lock.acquire()
            sync.yield_point()

        def thief() -> None:
            r.lock.release()

        return [owner, thief]

    r = racekit.explore(Reentrant, threads)
    assert r.kind == "exception" and "un-acquired lock" in r.message


# --------------------------------------------------------------- semaphore
class Pool:
    def __init__(self, slots: int) -> None:
        self.sem = threading.Semaphore(slots)
        self.inside = sync.Atomic(0)


def pool_threads(p: Pool) -> list[Callable[[], Any]]:
    def worker() -> None:
        with p.sem:
            n = p.inside.add_and_get(1)
            assert n <= 2, f"{n} workers inside"
            p.inside.add_and_get(-1)

    return [worker, worker, worker]


def test_semaphore_bounds_concurrency() -> None:
    exhaustive(lambda: Pool(2), pool_threads)


def test_semaphore_with_too_many_slots_is_caught() -> None:
    r = racekit.explore(lambda: Pool(3), pool_threads)
    assert r.kind == "exception" and "3 workers inside" in r.message


def test_bounded_semaphore_refuses_an_extra_release() -> None:
    def threads(s: Any) -> list[Callable[[], Any]]:
        return [s.release]

    r = racekit.explore(lambda: threading.BoundedSemaphore(1), threads)
    assert r.kind == "exception" and "released too many times" in r.message


# ------------------------------------------------------------------- queue
class Pipe:
    def __init__(self) -> None:
        self.q: queue.Queue[int] = queue.Queue(maxsize=1)
        self.got: list[int] = []
        self.full_raised = False


def test_bounded_queue_blocks_the_producer_and_keeps_order() -> None:
    def threads(p: Pipe) -> list[Callable[[], Any]]:
        def producer() -> None:
            for i in range(3):
                p.q.put(i)

        def consumer() -> None:
            for _ in range(3):
                p.got.append(p.q.get())
                assert p.q.qsize() <= 1

        return [producer, consumer]

    exhaustive(Pipe, threads, lambda p: None if p.got == [0, 1, 2] else pytest.fail(str(p.got)))


def test_put_into_a_full_queue_with_no_consumer_hangs() -> None:
    def threads(p: Pipe) -> list[Callable[[], Any]]:
        return [lambda: (p.q.put(1), p.q.put(2))]

    r = racekit.explore(Pipe, threads)
    assert r.kind == "deadlock" and "T0 waits for Queue#1" in r.message


def test_timed_put_raises_full_after_virtual_time() -> None:
    def threads(p: Pipe) -> list[Callable[[], Any]]:
        def producer() -> None:
            p.q.put(1)
            start = time.monotonic()
            try:
                p.q.put(2, timeout=30)
            except queue.Full:
                p.full_raised = True
                p.got.append(round(time.monotonic() - start))

        return [producer]

    wall = time.perf_counter()
    r = racekit.explore(Pipe, threads, lambda p: None if p.full_raised and p.got == [30] else pytest.fail(str(p.got)))
    assert not r.failed
    assert time.perf_counter() - wall < 2


def test_queue_state_is_visible_to_the_check() -> None:
    def threads(p: Pipe) -> list[Callable[[], Any]]:
        return [lambda: p.q.put(5)]

    r = racekit.explore(Pipe, threads, lambda p: None if p.q.get_nowait() == 5 else pytest.fail("empty"))
    assert not r.failed


def test_get_nowait_and_task_done() -> None:
    def threads(p: Pipe) -> list[Callable[[], Any]]:
        def body() -> None:
            try:
                p.q.get_nowait()
            except queue.Empty:
                p.got.append(-1)
            p.q.put_nowait(1)
            p.got.append(p.q.get())
            p.q.task_done()
            p.q.join()

        return [body]

    r = racekit.explore(Pipe, threads, lambda p: None if p.got == [-1, 1] else pytest.fail(str(p.got)))
    assert not r.failed


# ------------------------------------------------------------------ threads
class Spawned:
    def __init__(self) -> None:
        self.result = 0
        self.seen = -1


def test_join_makes_the_child_result_visible() -> None:
    def threads(s: Spawned) -> list[Callable[[], Any]]:
        def parent() -> None:
            child = threading.Thread(target=lambda: setattr(s, "result", 9))
            child.start()
            child.join()
            s.seen = s.result

        def bystander() -> None:
            assert s.result in (0, 9)

        return [parent, bystander]

    exhaustive(Spawned, threads, lambda s: None if s.seen == 9 else pytest.fail(str(s.seen)))


def test_reading_before_join_is_caught() -> None:
    def threads(s: Spawned) -> list[Callable[[], Any]]:
        def work() -> None:
            s.result = 9

        def parent() -> None:
            child = threading.Thread(target=work)
            child.start()
            s.seen = s.result  # bug: no join
            child.join()

        return [parent]

    def check(s: Spawned) -> None:
        assert s.seen == 9, f"parent saw {s.seen}"

    r = racekit.explore(Spawned, threads, check)
    assert r.failed and r.message.startswith("parent saw 0")


def test_threads_started_inside_threads_nest() -> None:
    def threads(s: Spawned) -> list[Callable[[], Any]]:
        lock = threading.Lock()

        def leaf() -> None:
            with lock:
                s.result += 1

        def middle() -> None:
            ts = [threading.Thread(target=leaf) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            assert not ts[0].is_alive()
            s.seen = s.result

        return [middle, leaf]

    exhaustive(Spawned, threads, lambda s: None if s.result == 3 and s.seen >= 2 else pytest.fail(str(s.seen)))


def test_join_with_timeout_gives_up_in_virtual_time() -> None:
    def threads(s: Spawned) -> list[Callable[[], Any]]:
        def slow() -> None:
            time.sleep(100)
            s.result = 1

        def parent() -> None:
            child = threading.Thread(target=slow, daemon=True)
            child.start()
            child.join(timeout=1)
            s.seen = int(child.is_alive())

        return [parent]

    wall = time.perf_counter()
    r = racekit.explore(Spawned, threads, lambda s: None if s.seen == 1 else pytest.fail("joined"))
    assert not r.failed and time.perf_counter() - wall < 2


# -------------------------------------------------------------- virtual time
class Clocked:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cv = threading.Condition()
        self.event = threading.Event()
        self.log: list[tuple[str, Any, float]] = []


def test_timed_waits_and_sleep_advance_the_virtual_clock() -> None:
    def threads(c: Clocked) -> list[Callable[[], Any]]:
        def holder() -> None:
            with c.lock:
                time.sleep(60)
            c.log.append(("slept", None, time.monotonic()))

        def waiter() -> None:
            sync.yield_point()
            got = c.lock.acquire(timeout=10)
            c.log.append(("lock", got, time.monotonic()))
            with c.cv:
                c.log.append(("cv", c.cv.wait(timeout=5), time.monotonic()))
            c.log.append(("event", c.event.wait(timeout=1), time.monotonic()))
            c.log.append(("wait_for", c.cv.acquire() and c.cv.wait_for(lambda: False, timeout=2), time.monotonic()))
            c.cv.release()

        return [holder, waiter]

    def check(c: Clocked) -> None:
        assert c.log == [
            ("lock", False, 10.0),
            ("cv", False, 15.0),
            ("event", False, 16.0),
            ("wait_for", False, 18.0),
            ("slept", None, 60.0),
        ], c.log

    wall = time.perf_counter()
    r = racekit.replay(Clocked, threads, check, [])
    assert not r.failed, r
    assert time.perf_counter() - wall < 1


def test_sleep_orders_threads_only_through_time() -> None:
    def threads(c: Clocked) -> list[Callable[[], Any]]:
        def late() -> None:
            time.sleep(2)
            c.log.append(("late", None, time.monotonic()))

        def early() -> None:
            time.sleep(1)
            c.log.append(("early", None, time.monotonic()))

        return [late, early]

    wall = time.perf_counter()
    exhaustive(Clocked, threads, lambda c: None if [e[0] for e in c.log] == ["early", "late"] else pytest.fail(str(c.log)))
    assert time.perf_counter() - wall < 2


def test_monotonic_and_sleep_are_real_outside_a_run() -> None:
    t = sync.monotonic()
    sync.sleep(0.01)
    assert sync.monotonic() - t >= 0.005


# ------------------------------------------------------------------ atomic
def test_atomic_operations() -> None:
    def threads(a: sync.Atomic[int]) -> list[Callable[[], Any]]:
        def body() -> None:
            a.store(5)
            assert a.compare_and_set(5, 6)
            assert not a.compare_and_set(5, 7)
            assert a.add_and_get(2) == 8
            assert a.get_and_add(1) == 8

        return [body]

    r = racekit.explore(lambda: sync.Atomic(0), threads, lambda a: None if a.load() == 9 else pytest.fail(str(a.load())))
    assert not r.failed


def test_each_run_starts_from_the_constructed_value() -> None:
    shared = sync.Atomic(0)  # one object reused by every run
    r = racekit.explore(lambda: shared, lambda a: [lambda: a.add_and_get(1)] * 2,
                        lambda a: None if a.load() == 2 else pytest.fail(str(a.load())))
    assert r.exhausted and not r.failed


# ----------------------------------------------------------- broken primitive
class CheckThenAct:
    def __init__(self) -> None:
        self.lock = sync.Lock()
        self.stock = 1
        self.sold = 0


def sellers(s: CheckThenAct) -> list[Callable[[], Any]]:
    def sell() -> None:
        with s.lock:
            ok = s.stock > 0
        if ok:  # bug: the check is under the lock, the act is not
            with s.lock:
                s.stock -= 1
                s.sold += 1

    return [sell, sell]


def oversold(s: CheckThenAct) -> None:
    assert s.stock >= 0, f"stock {s.stock}"


def acquire_without_switch_point(self: sync.Lock, blocking: bool = True, timeout: float = -1) -> bool:
    """Lock.acquire with its switch point removed: a free lock is taken at once."""
    ex = sync.current_execution()
    assert ex is not None and ex.current is not None
    st = self._state(ex)
    if st.owner is not None:
        ex.switch_point(self._acc("acquire", sync="acquire"), ready=lambda: st.owner is None, waiting_for=self)
    st.owner, st.count = ex.current.tid, 1
    return True


@pytest.mark.parametrize("case", ["check-then-act", "ab-ba"])
def test_a_primitive_without_its_switch_point_hides_the_bug(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation test of the primitives' switch points.

    How this was checked: the same program is explored exhaustively twice
    without opcode tracing (so the lock operations are the only switch
    points), once with the real ``sync.Lock.acquire`` and once with a mutant
    whose switch point is removed (a free lock is taken without pausing; a
    held one still blocks).  The real lock exposes the bug (an oversold stock
    / the AB-BA deadlock); the mutant explores fewer schedules, exhausts them
    and reports nothing, i.e. the interleaving that needs a preemption just
    before an acquire can no longer be reached.  The mutant is asserted to
    have been called, so the test cannot pass vacuously.
    """

    class TwoLocks:
        def __init__(self) -> None:
            self.a = sync.Lock()
            self.b = sync.Lock()

    def ab_ba(s: TwoLocks) -> list[Callable[[], Any]]:
        def t1() -> None:
            with s.a, s.b:
                pass

        def t2() -> None:
            with s.b, s.a:
                pass

        return [t1, t2]

    setup, threads, check = (CheckThenAct, sellers, oversold) if case == "check-then-act" else (TwoLocks, ab_ba, None)
    expected = "assertion" if case == "check-then-act" else "deadlock"

    real = racekit.explore(setup, threads, check, trace=False)
    assert real.failed and real.kind == expected

    calls = 0

    def mutant(self: sync.Lock, blocking: bool = True, timeout: float = -1) -> bool:
        nonlocal calls
        calls += 1
        return acquire_without_switch_point(self, blocking, timeout)

    monkeypatch.setattr(sync.Lock, "acquire", mutant)
    broken = racekit.explore(setup, threads, check, trace=False)
    assert calls > 0
    assert broken.exhausted and not broken.failed
    assert broken.schedules < real.schedules or real.first_failure is not None


# --------------------------------------------------------------- real mode
def test_primitives_work_with_real_threads() -> None:
    lock = sync.Lock()
    q: sync.Queue[int | None] = sync.Queue(maxsize=4)
    done = sync.Event()
    sem = sync.Semaphore(2)
    cv = sync.Condition()
    counter = {"n": 0, "sum": 0, "inside": 0, "peak": 0}

    def producer(base: int) -> None:
        for i in range(200):
            q.put(base + i)
        q.put(None)

    def consumer() -> None:
        while (item := q.get()) is not None:
            with lock:
                counter["sum"] += item
            with sem:
                with lock:
                    counter["inside"] += 1
                    counter["peak"] = max(counter["peak"], counter["inside"])
                with lock:
                    counter["inside"] -= 1
            for _ in range(5):
                with lock:
                    counter["n"] += 1
        with cv:
            cv.notify_all()

    threads = [sync.Thread(target=producer, args=(1000 * k,)) for k in range(2)]
    threads += [sync.Thread(target=consumer) for _ in range(2)]
    before = threading.active_count()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    done.set()
    assert done.wait(0.1) and not any(t.is_alive() for t in threads)
    assert threading.active_count() == before
    assert counter["n"] == 2 * 200 * 5
    assert counter["sum"] == sum(range(200)) * 2 + 1000 * 200
    assert counter["peak"] <= 2
    assert q.empty()


def test_rlock_condition_and_atomic_with_real_threads() -> None:
    rl = sync.RLock()
    atom = sync.Atomic(0)
    cv = sync.Condition(sync.Lock())
    ready: list[int] = []

    def worker() -> None:
        for _ in range(500):
            with rl, rl:
                pass
            while True:
                v = atom.load()
                if atom.compare_and_set(v, v + 1):
                    break
        with cv:
            ready.append(1)
            cv.notify()

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    with cv:
        assert cv.wait_for(lambda: len(ready) == 4, timeout=10)
    for t in ts:
        t.join()
    assert atom.load() == 2000


def test_program_api_on_primitives() -> None:
    program = Program(Pipe, lambda p: [lambda: p.q.put(1), lambda: p.got.append(p.q.get())])
    assert not search(program, "dpor").failed
    run = replay_program(program, [1])
    assert run.state.got == [1] and run.result.clock == 0
