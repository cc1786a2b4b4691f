"""``sync.external``: calls to an outside service are switch points DPOR understands.

A Redis command or a SQL statement runs inside another process, where
opcode tracing cannot see it.  Announced with ``sync.external(service,
key, write=...)``, two calls on one key (one of them a write) are explored
in both orders, calls on different keys - or two reads - are not
reordered, and key ``""`` (the whole service) conflicts with every key.
"""

from __future__ import annotations

from typing import Any

import pytest

from racekit import explore, sync
from racekit.sched.access import Access, dependent


def calls(first: tuple[str, bool], second: tuple[str, bool]) -> tuple[int, set[tuple[str, ...]]]:
    """Every schedule (DPOR) of two threads making one external call each; the orders seen."""
    seen: set[tuple[str, ...]] = set()

    def setup() -> list[str]:
        return []

    def threads(log: list[str]) -> list[Any]:
        def body(name: str, key: str, write: bool) -> Any:
            def run() -> None:
                sync.external("svc", key, write=write)
                log.append(name)  # runs in the same step as the call
            return run

        return [body("A", *first), body("B", *second)]

    def check(log: list[str]) -> None:
        seen.add(tuple(log))

    result = explore(setup, threads, check, strategy="dpor", trace=False)
    assert not result.failed and result.exhausted
    return result.schedules, seen


@pytest.mark.parametrize(
    ("first", "second", "orders"),
    [
        (("k", True), ("k", True), {("A", "B"), ("B", "A")}),  # two writes of one key
        (("k", True), ("k", False), {("A", "B"), ("B", "A")}),  # a write and a read of one key
        (("k", False), ("k", False), {("A", "B")}),  # two reads commute
        (("k", True), ("j", True), {("A", "B")}),  # different keys commute
        (("", True), ("k", False), {("A", "B"), ("B", "A")}),  # the whole service vs one key
    ],
)
def test_dpor_reorders_exactly_the_dependent_calls(first: Any, second: Any, orders: set[Any]) -> None:
    _, seen = calls(first, second)
    assert seen == orders


def test_dependency_relation_of_external_keys() -> None:
    a = Access(("external", "cache", "a"), True)
    b = Access(("external", "cache", "b"), True)
    whole = Access(("external", "cache", ""), False)
    other = Access(("external", "db", "a"), True)
    assert dependent(a, a) and not dependent(a, b) and not dependent(a, other)
    assert dependent(whole, a) and dependent(b, whole)
    assert not dependent(whole, Access(("external", "cache", ""), False))


def test_a_no_op_outside_a_controlled_run() -> None:
    sync.external("svc", "k")  # must neither block nor raise
