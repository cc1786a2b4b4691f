"""racekit.aio's loop: asyncio's own objects behave as in asyncio, time is
virtual, runs are deterministic, stuck runs are verdicts, real I/O is refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from racekit.aio import NotModelled, Program, explore_async, run_program
from racekit.choice import Boring, Recorder, Replay
from racekit.choice.strategies.random import RandomStrategy
from racekit.choice.strategy import Knobs


def fifo(coro_fn: Any) -> Any:
    """Run one coroutine function on a controlled loop in FIFO order; its result."""
    run = run_program(Program(lambda: None, lambda _: {"main": coro_fn}), Boring())
    assert run.verdict is None, run.verdict
    return run.results["main"]


async def story() -> list[tuple[str, float]]:
    """Every primitive the brief names, each in its usual role; the log is the order."""
    loop = asyncio.get_running_loop()
    log: list[tuple[str, float]] = []

    def note(what: str) -> None:
        log.append((what, round(loop.time() - t0, 3)))

    t0 = loop.time()
    await asyncio.sleep(0.02)
    note("slept")
    try:
        await asyncio.wait_for(asyncio.sleep(1), timeout=0.02)
    except TimeoutError:
        note("wait_for timed out")
    try:
        async with asyncio.timeout(0.02):
            await asyncio.sleep(1)
    except TimeoutError:
        note("timeout() expired")

    async def child(i: int, delay: float) -> int:
        await asyncio.sleep(delay)
        note(f"child {i}")
        return i

    async with asyncio.TaskGroup() as tg:
        tg.create_task(child(1, 0.04))
        tg.create_task(child(2, 0.02))
    note("taskgroup done")
    got = await asyncio.gather(child(3, 0.02), child(4, 0.01))
    note(f"gather {got}")

    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)

    async def producer() -> None:
        for i in range(3):
            await queue.put(i)
            note(f"put {i}")

    async def consumer() -> None:
        for _ in range(3):
            await asyncio.sleep(0.01)
            note(f"got {await queue.get()}")

    await asyncio.gather(producer(), consumer())
    lock = asyncio.Lock()
    sem = asyncio.Semaphore(2)
    event = asyncio.Event()

    async def worker(i: int) -> None:
        async with sem:
            note(f"sem in {i}")
            await asyncio.sleep(0.02 * (i + 1))  # distinct deadlines: real asyncio's order is then fixed
        async with lock:
            note(f"lock {i}")
        await event.wait()
        note(f"event {i}")

    workers = [asyncio.ensure_future(worker(i)) for i in range(3)]
    await asyncio.sleep(0.1)
    event.set()
    await asyncio.gather(*workers)

    async def stubborn() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            note("cancelled")
            raise

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    note(f"task cancelled: {task.cancelled()}")
    shield_inner = asyncio.ensure_future(asyncio.sleep(0.02, result="kept"))
    try:
        await asyncio.wait_for(asyncio.shield(shield_inner), timeout=0.01)
    except TimeoutError:
        note(f"shield {await shield_inner}")
    return log


def test_primitives_behave_as_in_asyncio() -> None:
    """The same program on asyncio's own loop and on the controlled loop (FIFO)
    logs the same events in the same order; virtual times are the exact sums."""
    real = asyncio.run(story())
    controlled = fifo(story)
    assert [w for w, _ in controlled] == [w for w, _ in real]
    times = dict(controlled)
    assert times["slept"] == 0.02 and times["wait_for timed out"] == 0.04 and times["timeout() expired"] == 0.06
    assert times["taskgroup done"] == 0.1


def test_an_hour_of_sleep_costs_one_step() -> None:
    async def nap() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    started = time.process_time()
    run = run_program(Program(lambda: None, lambda _: {"nap": nap}), Boring())
    assert run.results["nap"] == 3600.0 and run.time == 3600.0
    assert len(run.steps) <= 3
    assert time.process_time() - started < 5  # generous: milliseconds in practice (docs/aio.md)


def test_equal_deadlines_fire_in_the_order_they_were_set() -> None:
    async def main() -> list[int]:
        woke: list[int] = []

        async def sleeper(i: int) -> None:
            await asyncio.sleep(1)
            woke.append(i)

        await asyncio.gather(*(sleeper(i) for i in range(8)))
        return woke

    assert fifo(main) == list(range(8))


def busy_program() -> Program:
    async def worker(box: dict[str, int], name: str) -> None:
        for _ in range(3):
            box[name] = box.get("x", 0)
            await asyncio.sleep(0)
            box["x"] = box[name] + 1

    return Program(dict, lambda box: {f"w{i}": (lambda i=i: worker(box, f"w{i}")) for i in range(3)})


def test_same_choices_same_trace() -> None:
    strategy = RandomStrategy(Knobs(seed=7))
    for _ in range(20):
        trial = strategy.next_trial()
        assert trial is not None
        rec = Recorder(trial.chooser)
        first = run_program(busy_program(), rec, detail=True)
        again = run_program(busy_program(), Replay(rec.choices), detail=True)
        assert first.trace() == again.trace()
        assert first.state == again.state


def test_deadlock_says_who_waits_on_what() -> None:
    class Pair:
        def __init__(self) -> None:
            self.a = asyncio.Lock()
            self.b = asyncio.Lock()

    async def ab(p: Pair) -> None:
        async with p.a:
            await asyncio.sleep(0)
            async with p.b:
                pass

    async def ba(p: Pair) -> None:
        async with p.b:
            await asyncio.sleep(0)
            async with p.a:
                pass

    result = explore_async(Pair, lambda p: {"ab": lambda: ab(p), "ba": lambda: ba(p)})
    assert result.failed and result.kind == "deadlock"
    assert "ab waits on Lock p.b (locked)" in result.message
    assert "ba waits on Lock p.a (locked)" in result.message
    assert "test_aio_loop.py" in result.message


def test_a_task_that_never_blocks_is_a_livelock() -> None:
    async def spin(box: dict[str, bool]) -> None:
        while not box.get("done"):
            await asyncio.sleep(0)

    async def finisher(box: dict[str, bool]) -> None:
        await asyncio.sleep(1)  # virtual time never moves while spin is ready
        box["done"] = True

    result = explore_async(dict, lambda b: [lambda: spin(b), lambda: finisher(b)], max_steps=200, budget=5)
    assert result.failed and result.kind == "livelock"
    assert "200 callbacks" in result.message


def test_a_task_exception_is_a_failure_with_its_line() -> None:
    async def boom() -> None:
        await asyncio.sleep(0)
        raise KeyError("missing")

    result = explore_async(dict, lambda _: [boom])
    assert result.failed and result.kind == "exception"
    assert "T0 raised KeyError" in result.message and "test_aio_loop.py" in result.message


@pytest.mark.parametrize(
    "call",
    [
        lambda: asyncio.open_connection("127.0.0.1", 9),
        lambda: asyncio.get_running_loop().run_in_executor(None, time.sleep, 0),
        lambda: asyncio.create_subprocess_exec("true"),
    ],
    ids=["socket", "thread", "subprocess"],
)
def test_real_io_is_refused_in_one_sentence(call: Any) -> None:
    async def io() -> None:
        await call()

    with pytest.raises(NotModelled, match="not modelled|racekit.crash|in-process"):
        explore_async(dict, lambda _: [io])


def test_no_task_outlives_its_run() -> None:
    finished: list[str] = []
    started: list[asyncio.Task[None]] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            finished.append("cleaned up")

    async def starter() -> None:
        started.append(asyncio.get_running_loop().create_task(forever(), name="bg"))
        await asyncio.sleep(0)

    run = run_program(Program(lambda: None, lambda _: [starter]), Boring())
    assert [t.name for t in run.left] == ["bg"] and "Event" in run.left[0].waits_on
    assert finished == ["cleaned up"]
    assert started[0].cancelled()


def test_a_saved_counterexample_draws_as_a_timeline() -> None:
    """racekit show works on asyncio counterexamples: lanes are tasks, rows carry virtual time."""
    from pathlib import Path

    from racekit import store
    from racekit.timeline import timeline

    path = Path(__file__).resolve().parents[1] / "counterexamples/fan_out/abandons_calls--no-call-left-running.json"
    tl = timeline(store.load(path))
    assert [lane.name for lane in tl.lanes] == ["client", "call-c"]
    assert tl.engine == "aio" and any(step.time == "1s" for step in tl.steps)


@pytest.mark.parametrize("strategy", ["dpor", "pct"])
def test_view_strategies_are_refused_with_a_reason(strategy: str) -> None:
    from racekit.errors import UsageError

    with pytest.raises(UsageError, match="per-step view.*use bounded, dfs"):
        explore_async(dict, lambda _: [lambda: asyncio.sleep(0)], strategy=strategy)
    with pytest.raises(UsageError, match="unknown strategy"):
        explore_async(dict, lambda _: [lambda: asyncio.sleep(0)], strategy="nope")


def test_random_and_hypothesis_strategies_run() -> None:
    from tests.test_aio_races import RACES, Box

    _, tasks, check, kind, _ = RACES[0]
    for strategy in ("random", "hypothesis", "dfs"):
        result = explore_async(Box, tasks, check, strategy=strategy, budget=200)
        assert result.failed and result.kind == kind, strategy



def test_the_example_in_docs_aio_runs_as_printed() -> None:
    """docs/aio.md's first example is a program: run it, so the page cannot rot."""
    import contextlib
    import io
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "aio.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", page, re.S)
    assert block is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.group(1), "docs/aio.md", "exec"), {"__name__": "aio_doc"})  # noqa: S102 - our own page
    assert out.getvalue().startswith("assertion: 2 fetches of one key")
    assert "racekit.replay_async(setup, tasks, check, choices=" in out.getvalue()
