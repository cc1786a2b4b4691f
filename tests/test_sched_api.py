"""The one-call API: racekit.explore / racekit.replay and what they return."""

from __future__ import annotations

import json
import random as _random
import threading
from collections.abc import Callable
from typing import Any

import pytest

import racekit
from racekit import portfolio
from racekit.choice.strategies.random import RandomChooser
from racekit.errors import RacekitError
from racekit.sched.explore import ProgramEngine, ProgramSession, _program, as_result, run_program
from tests.sched_util import interleavings


# ------------------------------------------------------- four preemptions
class Handshake:
    """Two threads that complete a two-round handshake only when interleaved
    step by step.

    T0: a=1; x1=b; a=2; x2=b; a=3        T1: y1=a; b=1; y2=a; b=2; b=3

    The check fails iff x1 == 1, x2 == 2, y1 == 1 and y2 == 2.  Why that
    needs at least four preemptions: y1 == 1 puts T1's first read between
    a=1 and a=2, so T0 is switched away from right after a=1 (1); x1 == 1
    puts T0's first read after b=1 but before b=2, so T1 is switched away
    after b=1 while it still has steps (2); y2 == 2 needs T1's second read
    after a=2 and before a=3, so T0 is preempted after a=2 (3); x2 == 2 needs
    T0's second read after b=2 and before b=3, so T1 is preempted after b=2
    (4).  ``test_handshake_needs_exactly_four_preemptions`` checks the same
    claim by brute force over all 252 interleavings of the abstract steps.
    """

    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.x: tuple[int, int] | None = None
        self.y: tuple[int, int] | None = None


def handshake(h: Handshake) -> list[Callable[[], None]]:
    def t0() -> None:
        h.a = 1
        x1 = h.b
        h.a = 2
        x2 = h.b
        h.a = 3
        h.x = (x1, x2)

    def t1() -> None:
        y1 = h.a
        h.b = 1
        y2 = h.a
        h.b = 2
        h.b = 3
        h.y = (y1, y2)

    return [t0, t1]


def handshake_done(h: Handshake) -> None:
    assert not (h.x == (1, 2) and h.y == (1, 2)), "handshake completed out of order"


def test_handshake_needs_exactly_four_preemptions() -> None:
    t0 = [("w", "a", 1), ("r", "b", "x1"), ("w", "a", 2), ("r", "b", "x2"), ("w", "a", 3)]
    t1 = [("r", "a", "y1"), ("w", "b", 1), ("r", "a", "y2"), ("w", "b", 2), ("w", "b", 3)]
    least = None
    for order in interleavings([5, 5]):
        mem = {"a": 0, "b": 0}
        regs: dict[str, int] = {}
        pos = [0, 0]
        switches = 0
        for n, t in enumerate(order):
            if n and order[n - 1] != t and pos[order[n - 1]] < 5:
                switches += 1  # the other thread could have gone on: a preemption
            op, var, arg = (t0, t1)[t][pos[t]]
            pos[t] += 1
            if op == "w":
                mem[var] = int(arg)
            else:
                regs[str(arg)] = mem[var]
        if regs == {"x1": 1, "x2": 2, "y1": 1, "y2": 2}:
            least = switches if least is None else min(least, switches)
    assert least == 4


@pytest.mark.parametrize("strategy", ["dpor", "dfs", "random", "hypothesis"])
def test_a_four_preemption_bug_is_found_without_a_bound(strategy: str) -> None:
    r = racekit.explore(Handshake, handshake, handshake_done, strategy=strategy, budget=5000)
    assert r.failed and r.kind == "assertion"
    assert r.preemptions == 4
    assert r.choices == [0, 1, 0, 1, 0, 1, 0, 1]


def test_bounded_search_proves_the_bound() -> None:
    below = racekit.explore(Handshake, handshake, handshake_done, strategy="dfs", preemption_bound=3)
    assert not below.failed and below.coverage is not None and below.coverage.extent == "bounded"
    assert "with at most 3 preemptions" in str(below)
    at = racekit.explore(Handshake, handshake, handshake_done, strategy="dfs", preemption_bound=4)
    assert at.failed and at.preemptions == 4


def test_fewest_preemptions_reduces_a_random_counterexample_to_four() -> None:
    program = _program(Handshake, handshake, handshake_done, True, 20_000)
    found = None
    for seed in range(5000):
        run = run_program(program, RandomChooser(_random.Random(seed)), record_where=False)
        if run.failed and run.result.preemptions > 4:
            found = run
            break
    assert found is not None
    engine = ProgramEngine(program, 3000, 0)
    result = as_result(found)
    result.choices = found.choices
    result.path = [_Point(c != 0) for c in found.choices]  # deviations: more than 4
    _, shortest, _ = portfolio.minimize(engine, None, ProgramSession(program), engine.plan(None, None), result)
    rerun = racekit.replay(Handshake, handshake, handshake_done, shortest)
    assert rerun.failed and rerun.preemptions == 4
    assert shortest == [0, 1, 0, 1, 0, 1, 0, 1]


class _Point:
    def __init__(self, deviation: bool) -> None:
        self.deviation = deviation


# ---------------------------------------------------------------- results
class Account:
    def __init__(self) -> None:
        self.balance = 100

    def withdraw(self, amount: int) -> None:
        if self.balance >= amount:
            self.balance -= amount


def withdrawals(a: Account) -> list[Callable[[], None]]:
    return [lambda: a.withdraw(80), lambda: a.withdraw(80)]


def solvent(a: Account) -> None:
    assert a.balance >= 0, f"balance {a.balance}"


def test_check_then_act_result_fields() -> None:
    r = racekit.explore(Account, withdrawals, solvent)
    assert r.failed and r.kind == "assertion" and r.message.startswith("balance -60")
    assert r.strategy == "bounded" and r.first_failure == r.schedules
    assert r.preemptions == 1 and r.choices == [0, 1]
    assert [row["name"] for row in r.trace][:2] == ["T0", "T1"]
    assert any(row["preemption"] for row in r.trace)
    assert all(row["where"].startswith("tests/test_sched_api.py:") for row in r.trace)
    doc = r.to_json()
    assert json.loads(json.dumps(doc)) == doc and doc["violation"] is True
    text = str(r)
    assert "preempted" in text and "racekit.replay(" in text


def test_a_clean_result_says_how_far_it_looked() -> None:
    def locked_withdrawals(a: Account) -> list[Callable[[], None]]:
        # module-level ``threading`` is patched; a function-local import would
        # hand the logical threads a real lock (see docs/scheduler.md, limits)
        lock = threading.Lock()

        def w() -> None:
            with lock:
                a.withdraw(80)

        return [w, w]

    r = racekit.explore(Account, locked_withdrawals, solvent)
    assert not r.failed and r.exhausted and r.kind is None
    assert "exhaustively" in str(r)
    partial = racekit.explore(Account, locked_withdrawals, solvent, strategy="random", budget=10)
    assert not partial.failed and partial.schedules == 10 and "not exhaustive" in str(partial)


def test_unknown_strategy_is_a_user_error() -> None:
    with pytest.raises(RacekitError, match="unknown strategy 'bfs'"):
        racekit.explore(Account, withdrawals, solvent, strategy="bfs")


def test_without_tracing_plain_attribute_races_are_invisible() -> None:
    # the documented limit: with trace=False only racekit primitives switch;
    # nothing was interleaved, so the clean verdict says so and is never exhaustive
    r = racekit.explore(Account, withdrawals, solvent, trace=False)
    assert not r.failed and r.schedules == 1
    assert not r.exhausted and r.warnings and "exhaustively" not in str(r)


def test_trace_can_name_the_modules() -> None:
    import sys

    r = racekit.explore(Account, withdrawals, solvent, trace=[sys.modules[__name__]])
    assert r.failed


def test_replay_of_an_explored_failure(capsys: Any) -> None:
    found = racekit.explore(Account, withdrawals, solvent, strategy="random", seed=3)
    again = racekit.replay(Account, withdrawals, solvent, found.choices)
    assert again.failed and again.trace == found.trace and again.strategy == "replay"
