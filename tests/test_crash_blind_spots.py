"""Issue 11, blind spot 4: crash windows and interleavings the harness must reach by itself.

Each test plants one small bug in a fixed variant (a copy or patch in
``tests/crash_mutants``, or a subclass here; never an edit of the real
file), runs the same search ``racekit check`` runs at the ci profile, and
asserts that the violation is found with a small counterexample that
replays.  Before automatic points at every statement, commit, write, fsync
and rename - and the power-loss mode - each of these came back clean.
"""

from __future__ import annotations

from typing import Any

from racekit import PROFILES, Result, Variant, run_scenario, search
from racekit.crash import CrashMachine, Driver
from stateful_tests.test_exactly_once import Machine as ExactlyOnce
from stateful_tests.test_id_generator import Machine as IdGenerator
from stateful_tests.test_optimistic_locking import Machine as OptimisticLocking
from stateful_tests.test_payment_processor import Machine as PaymentProcessor
from stateful_tests.test_write_behind import Machine as WriteBehind
from systems import id_generator

CI = PROFILES["ci"]


def planted(machine: type[CrashMachine], module: str) -> type[CrashMachine]:
    """``machine`` whose worker processes run ``tests.crash_mutants.<module>`` instead of the system."""

    class Mutant(machine):  # type: ignore[valid-type,misc]
        @classmethod
        def driver(cls, variant: Variant, scenario: Any) -> Driver:
            d = machine.driver(variant, scenario)
            d.target = f"tests.crash_mutants.{module}"  # type: ignore[attr-defined]
            return d

    return Mutant


def nonzero(choices: list[int]) -> int:
    """Deviations in a choice list: kills, switches, torn writes (0 is the boring answer)."""
    return sum(1 for c in choices if c)


def caught(machine: type[CrashMachine], variant: str, prop: str, *, max_nonzero: int) -> Result:
    """Search like ``racekit check`` (ci profile); the violation must be found, small, and replay."""
    out = search(machine, variant, CI)
    assert out.failed, f"{machine.system.name}/{variant} mutant came back clean: {out.stats}"
    assert out.property == prop, (out.property, out.message)
    assert nonzero(out.choices) <= max_nonzero, (out.choices, out.message)
    again = run_scenario(machine, variant, out.scenario, out.choices)
    assert again.failed and again.property == prop and again.trace == out.trace
    return out


def test_inbox_row_committed_before_the_effect_is_caught() -> None:
    """(a) A kill between the inbox commit and the effect's commit loses the effect."""
    out = caught(planted(ExactlyOnce, "exactly_once_inbox_own_txn"), "inbox", "no-lost-effect", max_nonzero=1)
    assert out.stats["kills"] == 1


def test_take_over_without_owner_guard_is_caught_in_ci() -> None:
    """(b) Two requests both take over a dead owner's pending row and both charge."""
    out = caught(planted(PaymentProcessor, "payment_takeover_unguarded"), "unique_key", "charged-at-most-once",
                 max_nonzero=4)
    assert out.stats["kills"] == 1


def test_read_check_update_without_guard_is_caught() -> None:
    """(c) read, then UPDATE with no version guard and no hand-placed point between: a lost update."""
    caught(planted(OptimisticLocking, "optimistic_unguarded"), "version_cas", "linearizability", max_nonzero=1)


def test_write_behind_without_fsync_is_caught_by_power_loss() -> None:
    """(d) The put acks before its log record is durable: a power loss loses an acknowledged write."""
    out = caught(planted(WriteBehind, "write_behind_no_fsync"), "wal", "no-acked-write-lost", max_nonzero=1)
    assert out.stats["kills"] == 1


class _SnowflakeNoFsync(id_generator.Snowflake):
    """(e) MUTANT: the reservation is written but never fsynced before ids above it leave."""

    def _reserve(self, ms: int) -> None:
        if self.disk is not None and ms > self.reserved:
            self.reserved = ms + id_generator.RESERVE_MS
            self.disk.write("reserved_ms", self.reserved)


def test_snowflake_without_fsync_is_caught() -> None:
    """(e) After a crash the reservation is gone; a clock that stepped back reissues smaller ids."""
    v = Variant("snowflake", lambda: _SnowflakeNoFsync, expect="correct")
    out = search(IdGenerator, v, CI)
    assert out.failed and out.property in ("monotonic", "unique"), out.stats
    assert any(row["what"] == "crash" for row in out.trace)
    again = run_scenario(IdGenerator, v, out.scenario, out.choices)
    assert again.failed and again.trace == out.trace
