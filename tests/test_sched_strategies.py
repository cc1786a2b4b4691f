"""Explorers: DPOR is sound against plain DFS, and every strategy finds the classics.

The soundness test is differential: Hypothesis writes small programs (a few
threads over two attributes, a list, a dict, a global, a shared iterator,
two locks, an RLock, an Atomic, an Event, a Semaphore, a bounded Queue, a
Condition, sleeps and child threads; see tests/sched_util.py), and for each
one the set of final outcomes (verdict, shared state, every thread's
results or the access it is stuck at) reached by DPOR + sleep sets must equal
the set reached by plain exhaustive DFS.  This is what found the DPOR bugs
fixed in racekit/sched (forced steps, stale primitive ids, blocked threads'
pending steps, try-acquire redirects, container reads).
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings

import racekit
from racekit import sync
from racekit.choice import Boring
from racekit.sched.explore import run_program
from tests.sched_util import ALL_OPS, load_source, module_program, multinomial, outcomes, programs

NOPOR_BUDGET = 1000

differential = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _same_outcomes(source: str, nthreads: int) -> None:
    mod = load_source(source)
    program = module_program(mod, nthreads)
    # Skip programs whose plain DFS tree is clearly too big to enumerate fast.
    first = run_program(program, Boring(), record_where=False)
    per_thread = Tally(step.tid for step in first.result.steps)
    if multinomial(*per_thread.values()) > 4 * NOPOR_BUDGET:
        event("skipped: too many interleavings")
        return
    plain, n_plain, done = outcomes(program, "dfs", mod.snap, budget=NOPOR_BUDGET)
    if not done:
        event("skipped: plain DFS over budget")
        return
    event("compared")
    por, n_por, por_done = outcomes(program, "dpor", mod.snap)
    note(source[source.index("def t0"):])
    assert por_done
    assert por == plain, f"DPOR missed {plain - por}, invented {por - plain}"
    assert n_por <= n_plain


@differential
@given(programs())
def test_dpor_reaches_every_outcome_plain_dfs_reaches(prog: tuple[str, int]) -> None:
    _same_outcomes(*prog)


SYNC_OPS = ("with_lock", "try_lock", "timed_lock", "notify", "cwait", "cwait_for", "q_put", "q_get",
            "q_get_t", "q_put_nowait", "e_set", "e_wait", "e_clear", "with_sem", "rlock", "spawn", "incr")


@differential
@given(programs(SYNC_OPS, max_ops=2))
def test_dpor_is_sound_on_blocking_primitives(prog: tuple[str, int]) -> None:
    _same_outcomes(*prog)


CONTAINER_OPS = ("append", "pop", "len", "iterate", "dict_set", "dict_get", "dict_in", "next",
                 "read", "write", "global_incr", "global_read")


@differential
@given(programs(CONTAINER_OPS))
def test_dpor_is_sound_on_containers_and_globals(prog: tuple[str, int]) -> None:
    _same_outcomes(*prog)


@pytest.mark.deep
@settings(differential, max_examples=3000)
@given(programs())
def test_dpor_soundness_deep(prog: tuple[str, int]) -> None:
    _same_outcomes(*prog)


def test_generator_covers_every_operation() -> None:
    assert set(SYNC_OPS) | set(CONTAINER_OPS) <= set(ALL_OPS)


# ------------------------------------------------------------------ reduction
class Fields:
    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.c = 0
        self.shared = 0


def independent(s: Fields) -> list[Callable[[], None]]:
    def ta() -> None:
        s.a = 1
        s.a = 2

    def tb() -> None:
        s.b = 1
        s.b = 2

    def tc() -> None:
        s.c = 1
        s.c = 2

    return [ta, tb, tc]


def partly_dependent(s: Fields) -> list[Callable[[], None]]:
    def ta() -> None:
        s.a = 1
        s.shared += 1

    def tb() -> None:
        s.b = 1
        s.shared += 1

    def tc() -> None:
        s.c = s.a + 1

    return [ta, tb, tc]


@pytest.mark.parametrize("threads", [independent, partly_dependent])
def test_dpor_explores_fewer_schedules_with_the_same_outcomes(threads: Callable[[Fields], Any]) -> None:
    seen: dict[str, set[tuple[int, ...]]] = {"dpor": set(), "dfs": set()}
    counts = {}
    for strategy, bucket in seen.items():
        r = racekit.explore(
            Fields, threads, lambda s, b=bucket: b.add((s.a, s.b, s.c, s.shared)), strategy=strategy
        )
        assert r.exhausted and not r.failed
        counts[strategy] = r.schedules
    assert seen["dpor"] == seen["dfs"]
    assert counts["dpor"] < counts["dfs"]
    if threads is independent:
        assert counts["dpor"] == 1


# --------------------------------------------------------------- lost update
class Counter:
    def __init__(self) -> None:
        self.n = 0

    def inc_augmented(self) -> None:
        self.n += 1

    def inc_two_steps(self) -> None:
        v = self.n
        self.n = v + 1


STRATEGIES = ["dpor", "dfs", "pct", "random", "hypothesis"]


def counter_threads(method: str, nthreads: int = 2, k: int = 1) -> Callable[[Counter], list[Callable[[], None]]]:
    def threads(c: Counter) -> list[Callable[[], None]]:
        def body() -> None:
            for _ in range(k):
                getattr(c, method)()

        return [body] * nthreads

    return threads


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("method", ["inc_augmented", "inc_two_steps"])
def test_every_strategy_finds_the_lost_update(strategy: str, method: str) -> None:
    def check(c: Counter) -> None:
        assert c.n == 2, f"lost update: n = {c.n}"

    r = racekit.explore(Counter, counter_threads(method), check, strategy=strategy, budget=300)
    assert r.failed and r.kind == "assertion"
    assert "lost update" in r.message
    assert r.preemptions == 1  # minimized: one preemption suffices
    assert racekit.replay(Counter, counter_threads(method), check, r.choices).failed


class LockedByThreading:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()  # swapped for a racekit Lock while explored

    def inc(self) -> None:
        with self.lock:
            self.n += 1


class LockedBySync:
    def __init__(self) -> None:
        self.n = 0
        self.lock = sync.Lock()

    def inc(self) -> None:
        with self.lock:
            self.n += 1


class AtomicCas:
    def __init__(self) -> None:
        self.cell = sync.Atomic(0)

    @property
    def n(self) -> int:
        return self.cell.load()

    def inc(self) -> None:
        while True:
            v = self.cell.load()
            if self.cell.compare_and_set(v, v + 1):
                return


@pytest.mark.parametrize(
    ("cls", "strategy"),
    [
        (LockedByThreading, "dpor"),
        (LockedByThreading, "dfs"),
        (LockedBySync, "dpor"),
        (LockedBySync, "dfs"),
        # plain DFS over the CAS loop's retries under opcode tracing is large;
        # DPOR covers the same outcomes (test_dpor_* above)
        (AtomicCas, "dpor"),
    ],
)
def test_correct_counters_never_violate(cls: type, strategy: str) -> None:
    def threads(c: Any) -> list[Callable[[], None]]:
        def body() -> None:
            c.inc()
            c.inc()

        return [body, body]

    def check(c: Any) -> None:
        assert c.n == 4, f"n = {c.n}"

    r = racekit.explore(cls, threads, check, strategy=strategy)
    assert r.exhausted is True, r
    assert r.failed is False
    assert r.schedules > 1


def test_the_real_threading_lock_is_restored_after_exploring() -> None:
    assert type(LockedByThreading().lock) is type(threading.Lock())


# ---------------------------------------------------------- seeded strategies
@pytest.mark.parametrize("strategy", ["pct", "random", "hypothesis"])
def test_seeded_strategies_are_deterministic(strategy: str) -> None:
    def check(c: Counter) -> None:
        assert c.n == 6

    runs = [
        racekit.explore(Counter, counter_threads("inc_two_steps", 3, 2), check, strategy=strategy, seed=7, budget=200)
        for _ in range(2)
    ]
    assert runs[0].failed and runs[1].failed
    assert runs[0].schedules == runs[1].schedules
    assert runs[0].choices == runs[1].choices


def test_budget_bounds_the_number_of_schedules() -> None:
    r = racekit.explore(Counter, counter_threads("inc_two_steps", 3, 2), strategy="dfs", budget=25)
    assert r.schedules == 25 and not r.exhausted and not r.failed


def test_dfs_with_a_preemption_bound_of_zero_misses_the_lost_update() -> None:
    def check(c: Counter) -> None:
        assert c.n == 2

    r0 = racekit.explore(Counter, counter_threads("inc_two_steps"), check, strategy="dfs", preemption_bound=0)
    assert not r0.failed and r0.schedules == 2
    # honest wording: the bounded space was covered, not the whole space
    assert not r0.exhausted and r0.coverage is not None and r0.coverage.extent == "bounded"
    assert "all 2 schedules with at most 0 preemptions" in str(r0) and "exhaustive" not in str(r0)
    r1 = racekit.explore(Counter, counter_threads("inc_two_steps"), check, strategy="dpor", preemption_bound=1)
    assert r1.failed
