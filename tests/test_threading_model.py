"""Plain Python, right verdicts: the parts of threading a user's code meets next.

Each test is a case from issue 13's "Wrong verdicts on plain Python" or
issue 11's silent-clean list, written as a user would write it (plain
``threading``, ``queue``, ``time``, ``concurrent.futures``), and fails on
the code before this work: a false alarm, a missed bug, or a hang.  The
programs live in generated module files (tests/sched_util.load_source) or
are exec'd, because how racekit finds and patches them is part of what is
tested.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import racekit
from racekit.choice import Boring as BoringChooser
from racekit.errors import HarnessError
from racekit.sched.runtime import Execution
from tests.sched_util import load_source


def program(source: str) -> Any:
    return load_source(textwrap.dedent(source))


# ------------------------------------------------------ threading.local
LOCAL = program(
    """
    import threading

    _context = threading.local()          # module level: made at import time


    class Server:
        def __init__(self):
            self.seen = []
            self.lock = threading.Lock()

        def handle(self, user):
            _context.user = user
            threading.Event().wait(0.01)   # a switch point between the store and the read
            with self.lock:
                self.seen.append((user, _context.user))


    def threads(s):
        return [lambda: s.handle("alice"), lambda: s.handle("bob")]


    def check(s):
        for user, seen in s.seen:
            assert user == seen, f"{user} saw {seen}'s context"
    """
)


def test_threading_local_is_per_logical_thread() -> None:
    r = racekit.explore(LOCAL.Server, LOCAL.threads, LOCAL.check)
    assert not r.failed, r
    assert r.exhausted


def test_a_local_subclass_runs_init_once_per_thread() -> None:
    mod = program(
        """
        import threading

        class Ctx(threading.local):
            def __init__(self, start):
                self.n = start

        class S:
            def __init__(self):
                self.ctx = Ctx(10)
                self.out = []

        def threads(s):
            def body():
                s.ctx.n += 1
                threading.Event().wait(0.01)
                s.out.append(s.ctx.n)
            return [body, body]

        def check(s):
            assert s.out == [11, 11], s.out
            assert s.ctx.n == 10  # the main thread's own namespace
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


# ------------------------------------------------- Timer + Event.wait
def test_a_timer_fires_on_virtual_time() -> None:
    mod = program(
        """
        import threading

        class S:
            def __init__(self):
                self.fired = threading.Event()
                self.result = None

        def threads(s):
            def waiter():
                t = threading.Timer(1.0, s.fired.set)
                t.start()
                s.result = s.fired.wait(2.0)
            return [waiter]

        def check(s):
            assert s.result, "timer did not fire within 2s"
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


def test_a_cancelled_timer_never_fires() -> None:
    mod = program(
        """
        import threading

        class S:
            def __init__(self):
                self.calls = []

        def threads(s):
            def body():
                t = threading.Timer(5.0, s.calls.append, args=(1,))
                t.start()
                t.cancel()
                t.join()
            return [body]

        def check(s):
            assert s.calls == [], s.calls
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


# ---------------------------------------------- ThreadPoolExecutor
POOL = program(
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed, wait, FIRST_COMPLETED
    import threading


    class Counter:
        def __init__(self):
            self.n = 0
            self.lock = threading.Lock()

        def bump(self):
            self.n += 1

        def bump_locked(self):
            with self.lock:
                self.n += 1


    def racy(c):
        def main():
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [pool.submit(c.bump) for _ in range(2)]
                for f in as_completed(futures):
                    f.result()
        return [main]


    def locked(c):
        def main():
            with ThreadPoolExecutor(max_workers=2) as pool:
                done, _ = wait([pool.submit(c.bump_locked) for _ in range(2)])
                assert len(done) == 2
        return [main]


    def check(c):
        assert c.n == 2, f"lost update: n == {c.n}"
    """
)


def test_a_lost_update_between_pool_jobs_is_found() -> None:
    r = racekit.explore(POOL.Counter, POOL.racy, POOL.check)
    assert r.failed and "lost update" in r.message, r


def test_pool_jobs_under_a_lock_are_clean() -> None:
    r = racekit.explore(POOL.Counter, POOL.locked, POOL.check)
    assert not r.failed and r.exhausted, r


def test_pool_map_results_and_exceptions() -> None:
    mod = program(
        """
        import concurrent.futures

        class S:
            def __init__(self):
                self.out = None
                self.err = None

        def threads(s):
            def main():
                with concurrent.futures.ThreadPoolExecutor(2) as pool:
                    s.out = list(pool.map(lambda x: x * x, [1, 2, 3]))
                    f = pool.submit(lambda: 1 / 0)
                    s.err = type(f.exception()).__name__
            return [main]

        def check(s):
            assert s.out == [1, 4, 9], s.out
            assert s.err == "ZeroDivisionError", s.err
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


def test_queued_jobs_run_even_without_shutdown() -> None:
    mod = program(
        """
        from concurrent.futures import ThreadPoolExecutor

        class S:
            def __init__(self):
                self.pool = None
                self.done = []

        def threads(s):
            def main():
                pool = ThreadPoolExecutor(max_workers=1)
                pool.submit(s.done.append, 1)
                pool.submit(s.done.append, 2)   # never shut down: still run, as at exit
            return [main]

        def check(s):
            assert s.done == [1, 2], s.done
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


# ------------------------------------------------------------ Barrier
BARRIER = program(
    """
    import threading

    class S:
        def __init__(self):
            self.barrier = threading.Barrier(2)
            self.phase1 = []
            self.phase2 = []

    def threads(s):
        def worker(name):
            def body():
                s.phase1.append(name)
                s.barrier.wait()
                s.phase2.append(len(s.phase1))
            return body
        return [worker("a"), worker("b")]

    def check(s):
        assert s.phase2 == [2, 2], f"a thread passed the barrier early: {s.phase2}"
    """
)


def test_a_barrier_releases_both_threads() -> None:
    r = racekit.explore(BARRIER.S, BARRIER.threads, BARRIER.check)
    assert not r.failed and r.exhausted, r


def test_a_barrier_timeout_breaks_it() -> None:
    mod = program(
        """
        import threading

        class S:
            def __init__(self):
                self.barrier = threading.Barrier(2, timeout=1.0)
                self.errors = []

        def threads(s):
            def alone():
                try:
                    s.barrier.wait()
                except threading.BrokenBarrierError:
                    s.errors.append("broken")
            return [alone]

        def check(s):
            assert s.errors == ["broken"], s.errors
            assert s.barrier.broken is False  # outside the run: a fresh real barrier
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


# ------------------------------------------------ locks racekit must see
def test_a_lock_made_after_a_function_local_import_is_swapped() -> None:
    mod = program(
        """
        class Account:
            def __init__(self):
                import threading              # function-local: made while the run is on
                self.lock = threading.Lock()
                self.balance = 0

            def deposit(self):
                with self.lock:
                    b = self.balance
                    self.balance = b + 1

        def threads(a):
            return [a.deposit, a.deposit]

        def check(a):
            assert a.balance == 2, a.balance
        """
    )
    r = racekit.explore(mod.Account, mod.threads, mod.check)
    assert not r.failed and r.exhausted, r


def test_a_real_lock_contended_by_two_logical_threads_is_reported() -> None:
    mod = program(
        """
        import _thread                        # not patched: a real lock reaches the run

        class S:
            def __init__(self):
                self.lock = _thread.allocate_lock()
                self.n = 0

        def threads(s):
            def body():
                with s.lock:                  # MARK
                    s.n += 1
            return [body, body]
        """
    )
    with pytest.raises(HarnessError, match=r"a real lock was used by two logical threads at .*:\d+"):
        racekit.explore(mod.S, mod.threads)


# ---------------------------------------------- code not in sys.modules
LOST_UPDATE = """\
class Counter:
    def __init__(self):
        self.n = 0

def threads(c):
    def inc():
        c.n += 1
    return [inc, inc]

def check(c):
    assert c.n == 2, f"lost update: n == {c.n}"
"""


def test_a_module_loaded_from_a_spec_is_traced(tmp_path: Path) -> None:
    path = tmp_path / "plugin_counter.py"
    path.write_text(LOST_UPDATE)
    spec = importlib.util.spec_from_file_location("plugin_counter", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # as plugin loaders do: never put in sys.modules
    assert "plugin_counter" not in sys.modules
    r = racekit.explore(mod.Counter, mod.threads, mod.check)
    assert r.failed and "lost update" in r.message, r


def test_exec_d_code_is_traced() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(LOST_UPDATE, "<notebook cell>", "exec"), namespace)  # noqa: S102 - the case under test
    r = racekit.explore(namespace["Counter"], namespace["threads"], namespace["check"])
    assert r.failed and "lost update" in r.message, r


def test_a_clean_verdict_with_nothing_interleaved_says_so() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(LOST_UPDATE, "<cell>", "exec"), namespace)  # noqa: S102
    r = racekit.explore(namespace["Counter"], namespace["threads"], namespace["check"], trace=False)
    assert not r.failed and r.warnings and "no shared-access switch point" in str(r)
    assert "exhaustively" not in str(r)


# ------------------------------------------------- interrupts, watchdog
def test_keyboard_interrupt_in_a_logical_thread_ends_the_run() -> None:
    def body() -> None:
        raise KeyboardInterrupt

    ex = Execution(BoringChooser())
    ex.spawn(body)
    ex.spawn(lambda: None)
    with pytest.raises(KeyboardInterrupt):
        ex.run()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread only")
def test_a_real_blocking_call_is_a_harness_error_not_a_hang() -> None:
    real = threading.Event()  # never set: waiting on it blocks the one OS thread

    ex = Execution(BoringChooser(), wall_timeout=0.3)
    ex.spawn(lambda: real.wait())
    with pytest.raises(HarnessError, match="blocked the run"):
        ex.run()
    assert ex.current is None


# ------------------------------------------------------------- spinning
def test_a_loop_polling_the_clock_sees_time_pass() -> None:
    mod = program(
        """
        import time

        class S:
            def __init__(self):
                self.spins = 0

        def threads(s):
            def body():
                end = time.monotonic() + 5.0
                while time.monotonic() < end:
                    pass
                s.spins += 1
            return [body]

        def check(s):
            assert s.spins == 1
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


def test_a_counting_loop_is_not_a_spin() -> None:
    mod = program(
        """
        class S:
            def __init__(self):
                self.flag = False
                self.tries = None

        def threads(s):
            def poll():
                for i in range(50):
                    if s.flag:
                        s.tries = i
                        return
                s.tries = -1
            def setter():
                s.flag = True
            return [poll, setter]
        """
    )
    seen: set[Any] = set()
    r = racekit.explore(mod.S, mod.threads, lambda s: seen.add(s.tries))
    assert not r.failed and r.exhausted
    assert -1 in seen and 0 in seen  # the poller may give up: its loop was not cut short


# ------------------------------------- a state machine on plain threading
PLAIN_SYSTEM = program(
    """
    import threading


    class LockedCounter:
        def __init__(self):
            self.lock = threading.Lock()      # plain threading, not racekit.sync
            self.n = 0

        def increment(self):
            with self.lock:
                v = self.n
                self.n = v + 1

        def get(self):
            with self.lock:
                return self.n


    class TornCounter(LockedCounter):
        def increment(self):
            with self.lock:
                v = self.n
            with self.lock:
                self.n = v + 1


    class BareCounter:                        # no lock: a lost update, if anyone looked
        def __init__(self):
            self.n = 0

        def increment(self):
            self.n += 1

        def get(self):
            return self.n
    """
)


def _plain_machine() -> type:
    from racekit.declarations import System, Variant
    from racekit.machine import ConcurrentStateMachine
    from specs.counter import CounterSpec

    system = System(
        name="plain_counter",
        summary="a counter on threading.Lock",
        kind="thr",
        variants=[
            Variant("locked", PLAIN_SYSTEM.LockedCounter, expect="correct"),
            Variant("torn", PLAIN_SYSTEM.TornCounter, expect="violation", property="linearizability", bug="torn"),
            # untraced and no primitive: nothing any run can interleave
            Variant("bare_untraced", PLAIN_SYSTEM.BareCounter, expect="correct", trace_files=()),
        ],
    )

    class PlainMachine(ConcurrentStateMachine):
        spec = CounterSpec()
        threads = 2
        max_ops = 3
        operations = {"increment": (), "get": ()}
        final_calls = [("get", ())]
        seed_scenario = [[("increment", ())], [("increment", ())]]

    PlainMachine.system = system
    return PlainMachine


def test_a_state_machine_on_threading_lock_is_explored_not_hung() -> None:
    from racekit import portfolio
    from racekit.profiles import PROFILES

    machine: Any = _plain_machine()
    clean = portfolio.search(machine, machine.system.variant("locked"), PROFILES["smoke"])
    assert not clean.failed, clean.message
    assert clean.coverage is not None and not clean.coverage.vacuous and not clean.notes, clean.coverage
    torn = portfolio.search(machine, machine.system.variant("torn"), PROFILES["smoke"])
    assert torn.failed and torn.property == "linearizability", torn.message


def test_a_catalogue_search_that_interleaved_nothing_says_so(tmp_path: Path) -> None:
    from racekit import portfolio
    from racekit.checking import check_variant
    from racekit.profiles import PROFILES

    machine: Any = _plain_machine()
    variant = machine.system.variant("bare_untraced")
    r = portfolio.search(machine, variant, PROFILES["smoke"])
    assert not r.failed and r.coverage is not None
    assert r.coverage.vacuous and not r.coverage.exhaustive
    assert "nothing interleaved" in r.coverage.describe()
    assert any("no shared-access switch point" in n for n in r.notes), r.notes
    # and `racekit check` does not count it as a fixed variant's clean verdict
    report = check_variant(machine, machine.system, variant, PROFILES["smoke"], tmp_path)
    assert not report.met and any("nothing was interleaved" in p for p in report.problems), report.problems


def test_the_live_state_machine_on_threading_lock_runs() -> None:
    from racekit.profiles import PROFILES

    machine: Any = _plain_machine()
    machine.live_test(machine.system.variant("locked"), PROFILES["smoke"])


def test_get_ident_and_current_thread_tell_logical_threads_apart() -> None:
    mod = program(
        """
        import threading

        class S:
            def __init__(self):
                self.by_thread = {}
                self.names = set()

        def threads(s):
            def body():
                s.by_thread[threading.get_ident()] = threading.current_thread().name
                s.names.add(threading.current_thread().name)
            def spawner():
                t = threading.Thread(target=body, name="child")
                t.start()
                t.join()
            return [body, spawner]

        def check(s):
            assert len(s.by_thread) == 2 and s.names == {"T0", "child"}, (s.by_thread, s.names)
        """
    )
    r = racekit.explore(mod.S, mod.threads, mod.check)
    assert not r.failed, r


def test_a_pool_schedule_replays_with_the_same_trace() -> None:
    first = racekit.explore(POOL.Counter, POOL.racy, POOL.check)
    again = racekit.replay(POOL.Counter, POOL.racy, POOL.check, first.choices)
    assert again.failed and again.trace == first.trace


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread only")
def test_ctrl_c_during_a_search_stops_it_and_is_no_counterexample() -> None:
    import signal

    mod = program(
        """
        import signal

        class S:
            def __init__(self):
                self.n = 0

        def threads(s):
            def body():
                s.n += 1
                if s.n == 2:
                    signal.raise_signal(signal.SIGINT)   # the user presses Ctrl-C
            return [body, body]
        """
    )
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            racekit.explore(mod.S, mod.threads)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_spin_wait_on_a_global_flag_is_clean_and_quick() -> None:
    mod = program(
        """
        flag = False
        seen = []

        def setup():
            global flag
            flag = False
            seen.clear()

        def threads(_):
            def waiter():
                while not flag:
                    pass
                seen.append("through")
            def setter():
                global flag
                flag = True
            return [waiter, setter]

        def check(_):
            assert seen == ["through"], seen
        """
    )
    r = racekit.explore(mod.setup, mod.threads, mod.check)
    assert not r.failed and r.exhausted, r
    assert r.schedules < 20, r.schedules
