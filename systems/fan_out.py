"""Fan-out / fan-in: one request calls N downstreams and must answer by a deadline.

The service is plain asyncio: ``handle()`` calls every downstream (an
``async`` callable per name) and builds an :class:`Answer` of the results
it has and the downstreams it is missing.  The same classes run in two
worlds: under racekit.aio with in-process downstreams (virtual time: the
exploration, stateful_tests/test_fan_out.py) and against real HTTP
downstreams with httpx (benchmarks/fan_out.py).

Variants:

* ``waits_for_all`` (broken): ``gather`` every call, tolerating failures -
  one slow downstream and nobody gets an answer until it is done;
* ``fails_whole`` (broken): a deadline, but ``gather`` without
  ``return_exceptions``: one failing downstream fails the whole request,
  dropping the answers the others gave;
* ``abandons_calls`` (broken): deadline and partial results, but the calls
  still out at the deadline are left running (they hold connections and
  downstream capacity for nothing);
* ``deadline_partial`` (fixed): every call is a task; wait until all are
  done or the deadline passes; cancel the rest; answer with the results in
  hand and the missing list - cancelled once the answer is built, before it
  is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant

Call = Callable[[], Coroutine[Any, Any, Any]]


@dataclass
class Answer:
    """What the caller gets: results by downstream, and who is missing (sorted)."""

    results: dict[str, Any]
    missing: list[str]


class DownstreamError(Exception):
    """A downstream answered with an error."""


class WaitsForAll:
    """Broken: no deadline - the answer waits for the slowest downstream."""

    def __init__(self, downstreams: Mapping[str, Call], deadline: float) -> None:
        self.downstreams = dict(downstreams)
        self.deadline = deadline

    async def handle(self) -> Answer:
        names = sorted(self.downstreams)
        values = await asyncio.gather(*(self.downstreams[n]() for n in names), return_exceptions=True)
        results = {n: v for n, v in zip(names, values, strict=True) if not isinstance(v, BaseException)}
        return Answer(results, sorted(set(names) - set(results)))


class FailsWhole(WaitsForAll):
    """Broken: a deadline, but the first failure fails the whole request."""

    async def handle(self) -> Answer:
        names = sorted(self.downstreams)
        async with asyncio.timeout(self.deadline):
            values = await asyncio.gather(*(self.downstreams[n]() for n in names))
        return Answer(dict(zip(names, values, strict=True)), [])


class AbandonsCalls(WaitsForAll):
    """Broken: answers by the deadline with partial results, but never cancels the stragglers."""

    async def handle(self) -> Answer:
        tasks = {n: asyncio.create_task(self.downstreams[n](), name=f"call-{n}") for n in sorted(self.downstreams)}
        await asyncio.wait(tasks.values(), timeout=self.deadline)
        return collect(tasks)


class DeadlinePartial(WaitsForAll):
    """Fixed: wait for all or the deadline, cancel the rest, answer with what is in hand."""

    async def handle(self) -> Answer:
        tasks = {n: asyncio.create_task(self.downstreams[n](), name=f"call-{n}") for n in sorted(self.downstreams)}
        try:
            await asyncio.wait(tasks.values(), timeout=self.deadline)
        finally:  # also when the request itself is cancelled
            for task in tasks.values():
                task.cancel()  # a no-op on the finished ones
        return collect(tasks)


def collect(tasks: Mapping[str, asyncio.Task[Any]]) -> Answer:
    """Results of the calls that finished well; every other downstream is missing."""
    results: dict[str, Any] = {}
    for name, task in tasks.items():
        if task.done() and not task.cancelled() and task.exception() is None:
            results[name] = task.result()
    for task in tasks.values():
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed call is reported as missing, not logged
    return Answer(results, sorted(set(tasks) - set(results)))


def _service(cls: type[WaitsForAll]) -> Callable[[Mapping[str, Call], float], WaitsForAll]:
    return lambda downstreams, deadline: cls(downstreams, deadline)


SYSTEM = System(
    name="fan_out",
    summary="One request calls N downstreams and answers by a deadline with partial results",
    kind="aio",
    variants=[
        Variant("waits_for_all", _service(WaitsForAll), expect="violation", property="answer_by_deadline",
                bug="gathers every call with no deadline: one slow downstream and the answer is late"),
        Variant("fails_whole", _service(FailsWhole), expect="violation", property="every_downstream_accounted",
                bug="all or nothing: gather without return_exceptions inside asyncio.timeout - one failing "
                    "downstream (or one still out at the deadline) fails the whole request, dropping the "
                    "answers the others gave"),
        Variant("abandons_calls", _service(AbandonsCalls), expect="violation", property="no_call_left_running",
                bug="answers at the deadline but never cancels the calls still out"),
        Variant("deadline_partial", _service(DeadlinePartial), expect="correct"),
    ],
    properties=("answer_by_deadline", "every_downstream_accounted", "no_call_left_running"),
)
