"""Same choices, same run: replaying a recorded choice list reproduces the trace.

The property is checked over generated programs (tests/sched_util.py) for
schedules picked by the random and PCT explorers and for every schedule of a
DFS exploration; the whole trace is compared (thread, access, file:line,
preemption flag), plus the verdict, the final shared state and every
thread's result.
"""

from __future__ import annotations

import random as _random

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import racekit
from racekit.errors import ReplayDivergence
from racekit.choice import Replay
from racekit.choice.strategies.random import RandomChooser
from racekit.choice import Knobs, make
from racekit.sched.explore import Program, Run, as_result, replay_program, run_program
from tests.sched_util import load_source, module_program, outcome_of, programs

replays = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def fingerprint(run: Run, snap: Callable[[Any], Any]) -> tuple[Any, ...]:
    return (run.trace(), run.message, outcome_of(run, snap), run.result.clock)


def assert_replays(program: Program, run: Run, snap: Callable[[Any], Any]) -> None:
    again = run_program(program, Replay(run.choices), record_where=True)
    assert fingerprint(again, snap) == fingerprint(run, snap)
    assert again.choices == run.choices


@replays
@given(programs(), st.integers(0, 2**32 - 1))
def test_replaying_a_random_schedule_reproduces_its_trace(prog: tuple[str, int], seed: int) -> None:
    mod = load_source(prog[0])
    program = module_program(mod, prog[1])
    run = run_program(program, RandomChooser(_random.Random(seed)), record_where=True)
    assert_replays(program, run, mod.snap)


@replays
@given(programs(), st.integers(0, 2**32 - 1))
def test_replaying_a_pct_schedule_reproduces_its_trace(prog: tuple[str, int], seed: int) -> None:
    mod = load_source(prog[0])
    program = module_program(mod, prog[1])
    trial = make("pct", Knobs(seed=seed, pct_depth=3)).next_trial()
    assert trial is not None
    run = run_program(program, trial.chooser, record_where=True)
    assert_replays(program, run, mod.snap)


@settings(replays, max_examples=15)
@given(programs(max_threads=2, max_ops=2))
def test_every_dfs_schedule_replays(prog: tuple[str, int]) -> None:
    mod = load_source(prog[0])
    program = module_program(mod, prog[1])
    strat = make("dpor", Knobs())
    for _ in range(30):
        trial = strat.next_trial()
        if trial is None:
            break
        run = run_program(program, trial.chooser, record_where=True)
        strat.observe(as_result(run, detail=False), False)
        assert_replays(program, run, mod.snap)


# ------------------------------------------------------------------ explicit
class Account:
    def __init__(self) -> None:
        self.balance = 100

    def withdraw(self, amount: int) -> bool:
        if self.balance >= amount:
            self.balance -= amount
            return True
        return False


def two_withdrawals(a: Account) -> list[Callable[[], Any]]:
    return [lambda: a.withdraw(80), lambda: a.withdraw(80)]


def no_overdraft(a: Account) -> None:
    assert a.balance >= 0, f"balance {a.balance}"


@pytest.mark.parametrize("strategy", ["dpor", "pct", "random", "hypothesis"])
def test_a_found_counterexample_replays_twenty_times(strategy: str) -> None:
    found = racekit.explore(Account, two_withdrawals, no_overdraft, strategy=strategy)
    assert found.failed and found.kind == "assertion"
    for _ in range(20):
        again = racekit.replay(Account, two_withdrawals, no_overdraft, found.choices)
        assert again.failed and again.kind == found.kind
        # (the first line: pytest's assertion rewriting appends object ids)
        assert again.message.splitlines()[0] == found.message.splitlines()[0]
        assert again.trace == found.trace


def test_replay_command_names_the_choices() -> None:
    found = racekit.explore(Account, two_withdrawals, no_overdraft)
    assert found.replay == f"racekit.replay(setup, threads, check, choices={found.choices})"


def test_choices_past_the_end_are_boring() -> None:
    program = Program(Account, two_withdrawals)
    short = replay_program(program, [])
    assert not short.failed
    assert all(not step.preemption for step in short.result.steps)


def test_a_choice_that_does_not_fit_is_a_divergence() -> None:
    program = Program(Account, two_withdrawals, trace_files=frozenset([__file__]))
    with pytest.raises(ReplayDivergence, match="not deterministic"):
        run_program(program, Replay([5]))


def test_a_clean_schedule_replays_clean() -> None:
    result = racekit.replay(Account, two_withdrawals, no_overdraft, [0, 0, 0])
    assert not result.failed and result.kind is None
