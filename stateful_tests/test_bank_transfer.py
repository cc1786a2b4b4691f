"""State machine for bank transfers: transfers and reads on 3 logical threads, 3 accounts.

Besides the variant tests: the deadlock counterexample must name its
wait-for cycle (thread, lock held, lock wanted, file:line), and the fixed
variant must come out clean from *exhaustive* DFS (DPOR, every memory
access a switch point) on 2- and 3-thread scenarios, including a cycle of
transfers 0->1, 1->2, 2->0 - the shape that deadlocks with unordered locks.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, every_schedule, load_counterexample, quiescent_invariant, variant_tests
from specs.bank_transfer import BankSpec, no_negative, total_conserved
from systems import bank_transfer

ACCOUNT = st.integers(0, 2)


class Machine(ConcurrentStateMachine):
    system = bank_transfer.SYSTEM
    spec = BankSpec(accounts=3, balance=5)
    threads = 3
    max_ops = 4
    operations = {"transfer": (ACCOUNT, ACCOUNT, st.integers(1, 6)), "balance": (ACCOUNT,)}
    seed_scenario = [[("transfer", (0, 1, 3))], [("transfer", (1, 2, 4))], [("transfer", (2, 0, 5))]]
    variant_seeds = {
        "unsynchronized": [[("transfer", (0, 1, 2))], [("transfer", (1, 0, 3))]],
        "lock_from_then_to": [[("transfer", (0, 1, 1))], [("transfer", (1, 0, 1))]],
        "trylock_spin": [[("transfer", (0, 1, 1))], [("transfer", (1, 0, 1))]],
        "check_outside_lock": [[("transfer", (0, 1, 5))], [("transfer", (0, 2, 5))]],
    }

    @quiescent_invariant("total conserved")
    def conserved(self, obj: Any, history: Any) -> None:
        if not total_conserved(obj.balances(), obj.initial_total):
            raise AssertionError(f"balances {obj.balances()} sum to {sum(obj.balances())}, not {obj.initial_total}")

    @quiescent_invariant("no negative balance")
    def non_negative(self, obj: Any, history: Any) -> None:
        if not no_negative(obj.balances()):
            raise AssertionError(f"balances {obj.balances()}")


test_bank_transfer = variant_tests(Machine)

CYCLE_2 = [[("transfer", (0, 1, 3))], [("transfer", (1, 0, 4))]]
CYCLE_3 = [[("transfer", (0, 1, 3))], [("transfer", (1, 2, 4))], [("transfer", (2, 0, 5))]]
CONTENDED_3 = [[("transfer", (0, 1, 5)), ("balance", (1,))], [("transfer", (0, 2, 5))], [("transfer", (1, 0, 2))]]


def test_ordered_locking_clean_under_exhaustive_dfs() -> None:
    harness = Machine.harness(bank_transfer.SYSTEM.variant("ordered"))
    assert harness.trace_files, "opcode tracing must be on: every balance access is a switch point"
    for scenario in (CYCLE_2, CYCLE_3, CONTENDED_3):
        result = every_schedule(Machine, "ordered", scenario, runs=10**6)
        assert result.coverage is not None and result.coverage.exhaustive, f"DPOR did not finish {scenario}"
        assert not result.failed, f"{scenario}: {result.kind}: {result.message}"


def test_deadlock_report_names_the_wait_for_cycle() -> None:
    doc = load_counterexample("bank_transfer", "lock_from_then_to", "deadlock")
    edges = re.findall(r"(T\d) holds (\S+#\d+) and wants (\S+#\d+) at (systems/bank_transfer\.py:\d+)", doc["message"])
    assert len(edges) == 2, doc["message"]
    (t1, held1, want1, _), (t2, held2, want2, _) = edges
    assert t1 != t2 and held1 == want2 and held2 == want1, doc["message"]


class _RoundRobin:
    """A fair scheduler: always switch to the next enabled thread after the current one."""

    def choose(self, options: Any, kind: str, view: Any = None) -> int:
        ordered = sorted(options)
        current = options[0]  # option 0 is the thread that ran last
        later = [t for t in ordered if t > current]
        return list(options).index(later[0] if later else ordered[0])


def test_trylock_spin_livelocks_under_a_fair_schedule() -> None:
    """The saved counterexample starves one thread (fewest preemptions); this
    is the textbook livelock: both threads run every other step, both take
    their first lock, both fail the try-lock, both back off, forever."""
    for name, expect in (("trylock_spin", "livelock"), ("ordered", None)):
        with Machine.session(bank_transfer.SYSTEM.variant(name)) as session:
            run = session.run(CYCLE_2, _RoundRobin())
        assert run.kind == expect, (name, run.kind, run.message)
        if expect:
            assert run.stats["preemptions"] > 100  # a switch at nearly every step: fair
