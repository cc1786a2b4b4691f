"""The classic asyncio races, found and minimized by racekit.aio; their twins stay clean.

Each race is a broken program and a correct twin.  The broken one must be
found (the right kind of failure, a replayable choice list that still
fails), the twin must be clean over every order the search can reach
(exhaustive coverage), so a twin that merely got lucky cannot pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest

import racekit
from racekit.aio import explore_async, replay_async


class Box:
    """Shared state of one run."""

    def __init__(self) -> None:
        self.n = 0
        self.balance = 100
        self.cache: dict[str, int] = {}
        self.fetches = 0
        self.conn: object | None = None
        self.connects = 0
        self.lock = asyncio.Lock()
        self.active = 0
        self.event = asyncio.Event()
        self.seen = False


# ---------------------------------------------------------------- programs
async def fetch(box: Box, key: str) -> int:
    box.fetches += 1
    await asyncio.sleep(0.1)  # the network
    return len(key)


async def get_cached(box: Box, key: str) -> int:
    if key not in box.cache:  # check ...
        box.cache[key] = await fetch(box, key)  # ... await ... act
    return box.cache[key]


async def get_cached_once(box: Box, key: str) -> int:
    async with box.lock:
        if key not in box.cache:
            box.cache[key] = await fetch(box, key)
    return box.cache[key]


async def increment(box: Box) -> None:
    v = box.n
    await asyncio.sleep(0)
    box.n = v + 1


async def increment_locked(box: Box) -> None:
    async with box.lock:
        v = box.n
        await asyncio.sleep(0)
        box.n = v + 1


async def early_increment(box: Box) -> None:
    v = box.n
    await asyncio.sleep(0.1)
    box.n = v + 1


async def late_increment(box: Box) -> None:
    await asyncio.sleep(0.1)
    v = box.n
    await asyncio.sleep(0)
    box.n = v + 1


async def early_increment_locked(box: Box) -> None:
    async with box.lock:
        await early_increment(box)


async def late_increment_locked(box: Box) -> None:
    await asyncio.sleep(0.1)
    async with box.lock:
        v = box.n
        await asyncio.sleep(0)
        box.n = v + 1


async def connect(box: Box) -> object:
    box.connects += 1
    await asyncio.sleep(0.05)
    return object()


async def get_conn(box: Box) -> object:
    if box.conn is None:
        box.conn = await connect(box)
    return box.conn


async def get_conn_once(box: Box) -> object:
    async with box.lock:
        if box.conn is None:
            box.conn = await connect(box)
    return box.conn


async def withdraw(box: Box, amount: int) -> bool:
    if box.balance >= amount:
        await asyncio.sleep(0.01)  # write-ahead to an audit log
        box.balance -= amount
        return True
    return False


async def withdraw_locked(box: Box, amount: int) -> bool:
    async with box.lock:
        return await withdraw(box, amount)


async def tracked_work(box: Box) -> None:
    box.active += 1
    await asyncio.sleep(1)  # cancelled here by the caller's timeout ...
    box.active -= 1  # ... so this never runs


async def tracked_work_finally(box: Box) -> None:
    box.active += 1
    try:
        await asyncio.sleep(1)
    finally:
        box.active -= 1


async def with_timeout(box: Box, work: Callable[[Box], Any]) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(work(box), timeout=0.5)


async def locked_job(box: Box) -> None:
    await box.lock.acquire()
    await asyncio.sleep(1)  # cancelled here ...
    box.lock.release()  # ... the lock stays held


async def locked_job_ok(box: Box) -> None:
    async with box.lock:
        await asyncio.sleep(1)


async def cancel_then_lock(box: Box, job: Callable[[Box], Any]) -> None:
    task = asyncio.get_running_loop().create_task(job(box), name="job")
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with box.lock:  # hangs if the job left the lock held
        box.seen = True


async def pulse(box: Box) -> None:
    box.event.set()
    box.event.clear()  # a pulse: only tasks already waiting see it


async def keep_set(box: Box) -> None:
    box.event.set()


async def waiter(box: Box) -> None:
    await box.event.wait()
    box.seen = True


def two(fn: Callable[..., Any], *args: Any) -> Callable[[Box], list[Callable[[], Any]]]:
    return lambda box: [lambda: fn(box, *args), lambda: fn(box, *args)]


def check_fetches(box: Box) -> None:
    assert box.fetches == 1, f"{box.fetches} fetches of one key"


def check_n(box: Box) -> None:
    assert box.n == 2, f"n is {box.n} after two increments"


def check_connects(box: Box) -> None:
    assert box.connects == 1, f"{box.connects} connections opened"


def check_balance(box: Box) -> None:
    assert box.balance >= 0, f"balance {box.balance}"


def check_active(box: Box) -> None:
    assert box.active == 0, f"active count {box.active} after every task finished"


# (name, tasks, check, kind of the broken one's failure, tasks of the twin)
RACES: list[tuple[str, Any, Any, str, Any]] = [
    ("check_then_act", two(get_cached, "k"), check_fetches, "assertion", two(get_cached_once, "k")),
    ("lost_update", two(increment), check_n, "assertion", two(increment_locked)),
    (
        # FIFO runs these one after the other: the lost update needs one reordering
        "lost_update_staggered",
        lambda b: [lambda: early_increment(b), lambda: late_increment(b)],
        check_n,
        "assertion",
        lambda b: [lambda: early_increment_locked(b), lambda: late_increment_locked(b)],
    ),
    ("double_init", two(get_conn), check_connects, "assertion", two(get_conn_once)),
    ("rmw_without_lock", two(withdraw, 80), check_balance, "assertion", two(withdraw_locked, 80)),
    (
        "cancel_leaves_counter",
        lambda b: [lambda: with_timeout(b, tracked_work)],
        check_active,
        "assertion",
        lambda b: [lambda: with_timeout(b, tracked_work_finally)],
    ),
    (
        "cancel_leaves_lock_held",
        lambda b: [lambda: cancel_then_lock(b, locked_job)],
        None,
        "deadlock",
        lambda b: [lambda: cancel_then_lock(b, locked_job_ok)],
    ),
    (
        "lost_wakeup",
        lambda b: {"setter": lambda: pulse(b), "waiter": lambda: waiter(b)},
        None,
        "deadlock",
        lambda b: {"setter": lambda: keep_set(b), "waiter": lambda: waiter(b)},
    ),
]


@pytest.mark.parametrize("name,tasks,check,kind,twin", RACES, ids=[r[0] for r in RACES])
def test_race_found_minimized_and_replayed(name: str, tasks: Any, check: Any, kind: str, twin: Any) -> None:
    result = explore_async(Box, tasks, check)
    assert result.failed, f"{name}: not found ({result})"
    assert result.kind == kind, result
    again = replay_async(Box, tasks, check, result.choices)
    assert again.failed and again.kind == kind and again.trace == result.trace
    assert "racekit.replay_async(" in result.replay


@pytest.mark.parametrize("name,tasks,check,kind,twin", RACES, ids=[r[0] for r in RACES])
def test_twin_clean_over_every_order(name: str, tasks: Any, check: Any, kind: str, twin: Any) -> None:
    result = explore_async(Box, twin, check, budget=20_000)
    assert not result.failed, f"{name} twin: {result}"
    assert result.coverage is not None and result.coverage.exhaustive, result.coverage


def test_the_lost_wakeup_needs_the_setter_first() -> None:
    """FIFO (setter first) loses the pulse; the waiter first sees it: both orders are explored."""
    tasks = RACES[-1][1]
    fifo = replay_async(Box, tasks, None, [])
    assert fifo.failed and fifo.kind == "deadlock"
    assert "waiter waits on Event" in fifo.message and "never set" in fifo.message
    waiter_first = replay_async(Box, tasks, None, [1])
    assert not waiter_first.failed


def test_a_race_that_needs_a_reordering_is_minimized_to_one() -> None:
    """The second increment starts after a sleep: FIFO runs them one after the
    other (clean); only running the late task's wake-up before the early
    one's write shows the lost update - one reordering, after minimizing."""
    tasks = next(r[1] for r in RACES if r[0] == "lost_update_staggered")
    assert not replay_async(Box, tasks, check_n, []).failed
    result = explore_async(Box, tasks, check_n)
    assert result.failed and result.preemptions == 1
    assert sum(1 for c in result.choices if c) == 1


def test_public_name() -> None:
    assert racekit.explore_async is explore_async
    assert racekit.replay_async is replay_async
