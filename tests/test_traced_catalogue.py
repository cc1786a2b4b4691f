"""Every thread variant is opcode-traced, and tracing is what catches a lock-scope bug.

Issue 11's example: moving ``self._readers -= 1`` in read_mostly_map's
RWLock out of its lock loses a decrement when two readers leave together,
and a writer then waits for ever.  Explored over primitives only (the
tracing opt-out the lock-based variants had), the same scenario's every
schedule is clean; with the variant's file traced, DPOR finds the hang.
"""

from __future__ import annotations

from typing import Any

import pytest

from racekit.registry import load_system, system_names
from racekit.sched.explore import search
from stateful_tests.test_read_mostly_map import Machine
from systems import read_mostly_map

SCENARIO = [[("get", ("a",))], [("get", ("a",))], [("put", ("a", 1))]]


class LeakyRWLock(read_mostly_map.RWLock):
    """The mutant: the decrement moved out of the critical section."""

    def release_read(self) -> None:
        self._readers -= 1
        with self._cond:
            if self._readers == 0:
                self._cond.notify_all()


class LeakyRWLockMap(read_mostly_map.RWLockMap):
    def __init__(self, initial: dict[Any, Any] | None = None) -> None:
        super().__init__(initial)
        self.rw = LeakyRWLock()


def _search(traced: bool) -> Any:
    from racekit.declarations import Variant

    harness = Machine.harness(Variant("rwlock", LeakyRWLockMap, expect="correct"))
    if not traced:
        harness.trace_files = frozenset()
    return search(harness.program(SCENARIO), "dpor", budget=5_000, minimize=False)


def test_the_moved_decrement_is_a_hang_with_tracing_on() -> None:
    found = _search(traced=True)
    assert found.failed and found.kind == "deadlock", found


def test_without_tracing_every_schedule_of_it_looks_clean() -> None:
    blind = _search(traced=False)
    assert not blind.failed and blind.exhausted, blind


@pytest.mark.parametrize("name", [n for n in system_names() if load_system(n).kind == "thr"])
def test_no_thread_variant_opts_out_of_tracing(name: str) -> None:
    for variant in load_system(name).variants:
        assert "trace_files" not in variant.options, f"{name}/{variant.name} turns opcode tracing off"
