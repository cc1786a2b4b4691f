"""Opcode-level preemption of unmodified code (racekit/sched/tracing.py)."""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

import racekit
from racekit import sync
from racekit.sched.explore import _program, replay_program
from racekit.sched.tracing import AccessTables


class Box:
    def __init__(self) -> None:
        self.value = 0
        self.items = [1]
        self.log: dict[str, Any] = {}
        self.it = itertools.count()

    def bump(self) -> None:
        self.value += 1


def labels(setup: Callable[[], Any], threads: Callable[[Any], list[Callable[[], Any]]]) -> list[str]:
    run = replay_program(_program(setup, threads, None, True, 1000), [])
    return [row["what"] for row in run.trace()]


def test_augmented_assignment_is_split_between_load_and_store() -> None:
    assert labels(Box, lambda b: [b.bump]) == ["read .value", "write .value"]


def test_three_threads_can_all_read_before_anyone_writes() -> None:
    # Every switch here is made inside an opcode trace callback.  If such a
    # switch left the other greenlets untraced (what the sys.call_tracing
    # trick in runtime._pause prevents), T1 and T2 would run their
    # increments without pausing between the load and the store.
    run = replay_program(_program(Box, lambda b: [b.bump, b.bump, b.bump], None, True, 100), [0, 1, 2])
    rows = [(row["name"], row["what"]) for row in run.trace()]
    assert rows[:3] == [("T0", "read .value"), ("T1", "read .value"), ("T2", "read .value")]
    assert run.state.value == 1


def test_reads_of_names_nobody_writes_are_not_switch_points() -> None:
    class Frozen:
        def __init__(self) -> None:
            self.limit = 3  # stored only while the object is built: read-only afterwards
            self.items = [1]

        def grow(self) -> None:
            self.size = 1  # stored after construction: shared state

    def threads(f: Frozen) -> list[Callable[[], Any]]:
        def body() -> None:
            f.limit.bit_length()  # an init-only receiver: no switch point
            f.size = 2
            if f.items:  # the truth test reads the list with no switch point of its own
                sync.yield_point()

        return [body]

    assert labels(Frozen, threads) == ["write .size", "read .items", "yield"]

    def plain(b: Box) -> list[Callable[[], Any]]:
        return [lambda: b.bump.__name__.upper()]  # .upper and .__name__ are never stored

    assert labels(Box, plain) == []


def test_calls_are_classified_statically() -> None:
    def threads(b: Box) -> list[Callable[[], Any]]:
        def body() -> None:
            b.items.append(2)  # a container mutator: item write
            n = len(b.items)  # a builtin reader: item read
            b.log["n"] = n  # subscript store: item write
            b.bump()  # traced code: its own switch points, none for the call
            sync.yield_point()  # racekit: its own switch point only
            sorted(b.items)
            sys.getrecursionlimit()  # unknown C code: opaque
            next(b.it)  # advances the iterator: a write

        return [body]

    # .items, .log and .it are stored only in __init__ and every use of them
    # here is a switch point of its own: their loads are not
    assert labels(Box, threads) == [
        "call .append()",
        "call len()",
        "store_subscr",
        "read .value", "write .value",
        "yield",
        "call sorted()",
        "call",
        "call next()",
    ]


def test_leaving_a_with_block_is_not_an_opaque_call() -> None:
    class Guarded:
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.n = 0

    def threads(g: Guarded) -> list[Callable[[], Any]]:
        def body() -> None:
            with g.lock:
                g.n = 1

        return [body]

    # no "call" step: an opaque call would conflict with every access
    assert labels(Guarded, threads) == ["acquire Lock#1", "write .n", "release Lock#1"]


def test_calls_through_local_variables_are_resolved_when_reached() -> None:
    def threads(b: Box) -> list[Callable[[], Any]]:
        def body(bump: Callable[[], None] = b.bump) -> None:
            bump()  # traced code in a local: no switch point for the call itself
            append = b.items.append
            append(3)  # a container mutator in a local
            getlimit = sys.getrecursionlimit
            getlimit()  # unknown C code in a local: opaque

        return [lambda: body()]

    assert labels(Box, threads) == [
        "read .value", "write .value",
        "call .append()",
        "call",
    ]


def test_switch_points_carry_file_and_line() -> None:
    run = replay_program(_program(Box, lambda b: [b.bump], None, True, 100), [])
    (first, second) = run.trace()
    line = Box.bump.__code__.co_firstlineno + 1
    assert first["where"] == second["where"] == f"tests/test_sched_tracing.py:{line}"


def test_written_names_scan_the_whole_file() -> None:
    tables = AccessTables(frozenset([__file__]))
    assert {"value", "size"} <= tables.written_attrs
    assert {"items", "log", "it", "limit"} <= tables.init_only
    assert "upper" not in tables.written_attrs | tables.init_only


# ---------------------------------------------- contents read without a call
class Shelf:
    def __init__(self) -> None:
        self.items = [1]
        self.a: Any = None
        self.b: Any = None


def check_then_pop(s: Shelf) -> list[Callable[[], Any]]:
    def take() -> None:
        if s.items:  # the truth test reads the list in the load's step
            s.items.pop()

    return [take, take]


@pytest.mark.parametrize("strategy", ["dpor", "dfs"])
def test_truth_test_then_pop_is_caught(strategy: str) -> None:
    r = racekit.explore(Shelf, check_then_pop, strategy=strategy)
    assert r.kind == "exception" and "pop from empty list" in r.message


def outcomes(threads: Callable[[Shelf], list[Callable[[], Any]]], strategy: str) -> set[Any]:
    seen: set[Any] = set()
    r = racekit.explore(Shelf, threads, lambda s: seen.add((tuple(s.items), s.a, s.b)), strategy=strategy)
    assert r.exhausted
    return seen


@pytest.mark.parametrize(
    "reader",
    [
        lambda s: sum(x for x in s.items),  # iteration
        lambda s: s.items == [1],  # comparison
        lambda s: tuple([x for x in s.items]),  # comprehension
    ],
    ids=["iterate", "compare", "comprehension"],
)
def test_container_reads_without_a_call_race_with_writes(reader: Callable[[Shelf], Any]) -> None:
    def threads(s: Shelf) -> list[Callable[[], Any]]:
        def read() -> None:
            s.b = reader(s)

        return [lambda: s.items.append(2), read]

    plain = outcomes(threads, "dfs")
    assert len(plain) == 2
    assert outcomes(threads, "dpor") == plain


def test_next_on_a_shared_iterator_is_a_write() -> None:
    class Ids:
        def __init__(self) -> None:
            self.it = itertools.count()
            self.a = self.b = -1

    def threads(i: Ids) -> list[Callable[[], Any]]:
        def a() -> None:
            i.a = next(i.it)

        def b() -> None:
            i.b = next(i.it)

        return [a, b]

    seen: set[tuple[int, int]] = set()
    r = racekit.explore(Ids, threads, lambda i: seen.add((i.a, i.b)))
    assert r.exhausted and seen == {(0, 1), (1, 0)}


# ------------------------------------------------------------- hygiene
def test_the_previous_trace_function_is_restored() -> None:
    calls: list[str] = []

    def outer(frame: Any, event: str, arg: Any) -> None:
        calls.append(event)
        return None

    sys.settrace(outer)
    try:
        racekit.explore(Box, lambda b: [b.bump, b.bump])
        assert sys.gettrace() is outer
    finally:
        sys.settrace(None)


def test_untraced_code_outside_a_run_is_never_paused() -> None:
    b = Box()
    b.bump()
    assert b.value == 1
