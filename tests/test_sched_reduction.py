"""Fewer switch points, same behaviours: the tracer's reductions are sound.

racekit/sched/tracing.py leaves out switch points it can prove useless -
loads of attributes stored only in ``__init__`` whose value is only used as
a receiver or by a switch point of its own, container reads that run within
the step of the load that produced the container - and names the object
each access touches, so accesses to different objects commute.  DPOR's
differential test (test_sched_strategies.py) cannot see a switch point that
both explorers lack, so this one compares against the *reference* tables:
every attribute and global load and store a switch point, one key per name
for all objects, explored by plain DFS.  The outcome sets must be equal.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, event, given, note, settings

import racekit
from racekit.choice import Boring as BoringChooser
from racekit.sched import tracing
from racekit.sched.explore import _program
from racekit.sched.program import run_program
from tests.sched_util import load_source, module_program, multinomial, outcomes, programs

BUDGET = 1500


@contextmanager
def reference_tables() -> Iterator[None]:
    tracing.REFERENCE = True
    try:
        yield
    finally:
        tracing.REFERENCE = False


def _same_as_reference(source: str, nthreads: int) -> None:
    mod = load_source(source)
    program = module_program(mod, nthreads)
    with reference_tables():
        first = run_program(program, BoringChooser(), record_where=False)
        per_thread = Tally(step.tid for step in first.result.steps)
        if multinomial(*per_thread.values()) > 4 * BUDGET:
            event("skipped: too many interleavings")
            return
        reference, _, done = outcomes(program, "dfs", mod.snap, budget=BUDGET)
    if not done:
        event("skipped: reference over budget")
        return
    event("compared")
    reduced, _, reduced_done = outcomes(program, "dpor", mod.snap)
    note(source[source.index("def t0"):])
    assert reduced_done
    assert reduced == reference, f"missed {reference - reduced}, invented {reduced - reference}"


DATA_OPS = ("read", "write", "write_reg", "incr", "cond", "append", "pop", "len", "iterate", "dict_set",
            "dict_get", "dict_in", "global_incr", "global_read", "next", "with_lock", "spawn", "yield")


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(programs(DATA_OPS, max_ops=2))
def test_reduced_tables_reach_every_reference_outcome(prog: tuple[str, int]) -> None:
    _same_as_reference(*prog)


# ------------------------------------------------------------ by hand
class Shared:
    def __init__(self) -> None:
        self.items: list[int] = []  # stored only here: never a switch point by itself
        self.other: list[int] = []
        self.n = 0


def _outcomes(threads: Callable[[Shared], list[Callable[[], Any]]], snapshot: Callable[[Shared], Any]) -> tuple[set[Any], int]:
    seen: set[Any] = set()
    r = racekit.explore(Shared, threads, lambda s: seen.add(snapshot(s)))
    assert r.exhausted
    return seen, r.schedules


def test_a_truth_test_on_an_init_only_container_still_races_with_its_writes() -> None:
    def threads(s: Shared) -> list[Callable[[], Any]]:
        def check() -> None:
            s.n = 1 if s.items else 2

        return [lambda: s.items.append(1), check]

    seen, _ = _outcomes(threads, lambda s: s.n)
    assert seen == {1, 2}


def test_writes_to_different_containers_commute() -> None:
    def threads(s: Shared) -> list[Callable[[], Any]]:
        def fill(target: list[int]) -> Callable[[], None]:
            def body() -> None:
                for i in range(3):
                    target.append(i)

            return body

        return [fill(s.items), fill(s.other)]

    seen, schedules = _outcomes(threads, lambda s: (tuple(s.items), tuple(s.other)))
    assert seen == {((0, 1, 2), (0, 1, 2))}
    assert schedules == 1  # the containers are told apart: nothing to reorder


def test_same_attribute_of_different_objects_commutes() -> None:
    def setup() -> tuple[Shared, Shared]:
        return Shared(), Shared()

    def threads(pair: tuple[Shared, Shared]) -> list[Callable[[], Any]]:
        def bump(s: Shared) -> Callable[[], None]:
            def body() -> None:
                s.n += 1
                s.n += 1

            return body

        return [bump(pair[0]), bump(pair[1])]

    r = racekit.explore(setup, threads, lambda p: None)
    assert r.exhausted and r.schedules == 1
    program = _program(setup, threads, None, True, 100)
    with reference_tables():
        _, plain, done = outcomes(program, "dpor", lambda p: None)
    assert done and plain > 1  # one key per name: the reference cannot tell them apart


def test_the_lost_update_through_a_second_reference_is_found() -> None:
    def setup() -> tuple[Shared, Shared]:
        s = Shared()
        return s, s  # two names, one object

    def threads(pair: tuple[Shared, Shared]) -> list[Callable[[], Any]]:
        def a() -> None:
            pair[0].n += 1

        def b() -> None:
            pair[1].n += 1

        return [a, b]

    seen: set[int] = set()
    r = racekit.explore(setup, threads, lambda p: seen.add(p[0].n))
    assert r.exhausted and seen == {1, 2}
