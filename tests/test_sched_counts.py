"""Exhaustive search explores exactly the schedules it should.

Step model (racekit/sched/runtime.py): a thread starts eagerly up to its first
switch point and each step runs one announced access up to the next switch
point, so a thread making k ``yield_point()`` calls has exactly k steps, and
plain DFS over threads with k1, k2, ... steps must explore the multinomial
(k1 + k2 + ...)! / (k1! k2! ...) schedules.  With a preemption bound the count
must match a brute-force enumeration of all interleavings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

import racekit
from racekit import sync
from racekit.sched.explore import Program, search
from tests.sched_util import interleavings, multinomial, preemptions


def yielders(steps: Sequence[int]) -> Callable[[Any], list[Callable[[], None]]]:
    def threads(state: Any) -> list[Callable[[], None]]:
        def body(k: int) -> Callable[[], None]:
            def run() -> None:
                for _ in range(k):
                    sync.yield_point()

            return run

        return [body(k) for k in steps]

    return threads


def count(steps: Sequence[int], strategy: str = "dfs", bound: int | None = None, trace: bool = False) -> int:
    result = racekit.explore(
        lambda: None, yielders(steps), strategy=strategy, preemption_bound=bound, trace=trace
    )
    assert not result.failed
    assert result.coverage is not None
    assert result.coverage.extent == ("exhaustive" if bound is None else "bounded") or result.exhausted
    return result.schedules


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_two_threads_explore_binomial(k: int) -> None:
    assert count([k, k]) == multinomial(k, k)


@pytest.mark.parametrize("steps", [(1, 1, 1), (2, 2, 2), (1, 2, 3), (3, 1), (2, 2, 1, 1)])
def test_more_threads_explore_multinomial(steps: tuple[int, ...]) -> None:
    assert count(steps) == multinomial(*steps)


def test_opcode_tracing_adds_no_switch_points_to_a_pure_loop() -> None:
    # the loop over range() and the call to yield_point are not shared accesses
    assert count([3, 3], trace=True) == multinomial(3, 3)


def test_brute_force_enumerator_is_right() -> None:
    assert sum(1 for _ in interleavings([2, 3])) == multinomial(2, 3)
    assert preemptions((0, 1, 0, 1), [2, 2]) == 2  # 0->1 and 1->0 while the other could go on
    assert preemptions((0, 0, 1, 1), [2, 2]) == 0
    assert preemptions((0, 1, 1, 0), [2, 2]) == 1  # back to 0 after 1 finished is free


@pytest.mark.parametrize("steps", [(3, 3), (2, 2, 2), (1, 2, 3)])
@pytest.mark.parametrize("bound", [0, 1, 2])
def test_preemption_bound_matches_brute_force(steps: tuple[int, ...], bound: int) -> None:
    expected = sum(1 for s in interleavings(steps) if preemptions(s, steps) <= bound)
    assert count(steps, bound=bound) == expected


def test_unbounded_is_the_limit_of_bounds() -> None:
    steps = (2, 2)
    worst = max(preemptions(s, steps) for s in interleavings(steps))
    assert count(steps, bound=worst) == count(steps) == multinomial(2, 2)


def test_dpor_collapses_independent_yields() -> None:
    # yield points touch nothing: every interleaving is equivalent
    assert count([3, 3, 3], strategy="dpor") == 1


def test_dpor_explores_every_trace_of_a_lost_update() -> None:
    # W1a on two threads: the four Mazurkiewicz traces of r0 w0 || r1 w1 on
    # one variable, out of six interleavings.
    class C:
        def __init__(self) -> None:
            self.value = 0

    def threads(c: C) -> list[Callable[[], None]]:
        def inc() -> None:
            v = c.value
            c.value = v + 1

        return [inc, inc]

    assert racekit.explore(C, threads, strategy="dpor").schedules == 4
    assert racekit.explore(C, threads, strategy="dfs").schedules == 6


def test_program_api_counts_the_same() -> None:
    program = Program(lambda: None, yielders([2, 2]))
    assert search(program, "dfs").schedules == multinomial(2, 2)
