"""fan_out under racekit.aio: one client request, N in-process downstreams, virtual time.

A scenario is a deadline and the downstreams (name, latency, fails).  One
run: the client task calls ``handle()`` on the variant's service; the
downstream calls interleave in every order the explorer picks (which reply,
timer or cancellation the loop runs first); then the three properties of
``specs/fan_out.py`` judge the run.  Why in-process downstreams and not the
real HTTP ones of the benchmark: docs/systems/fan_out.md.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from racekit import Draw, Variant, variant_tests
from racekit.aio import AioRun, AsyncMachine, Property, without_one
from specs.fan_out import Downstream, accounted, answer_by_deadline, left_running
from systems import fan_out

LATENCIES = (0.1, 0.5, 1.0, 3.0)


# ------------------------------------------- in-process downstreams (the harness)
@dataclass
class CallLog:
    """What the in-process downstreams saw: (event, name, virtual time)."""

    events: list[tuple[str, str, float]] = field(default_factory=list)

    def running(self) -> list[str]:
        """Downstreams whose call started and has not ended (finished, failed or cancelled)."""
        open_: dict[str, int] = {}
        for event, name, _ in self.events:
            open_[name] = open_.get(name, 0) + (1 if event == "start" else -1)
        return sorted(n for n, k in open_.items() if k > 0)


def fake(name: str, latency: float, fails: bool, log: CallLog) -> fan_out.Call:
    """An in-process downstream: answers ``name.upper()`` after ``latency`` virtual seconds (or fails)."""

    async def call() -> str:
        loop = asyncio.get_running_loop()
        log.events.append(("start", name, loop.time()))
        try:
            await asyncio.sleep(latency)
            if fails:
                raise fan_out.DownstreamError(f"{name} failed")
            return name.upper()
        except asyncio.CancelledError:
            log.events.append(("cancelled", name, loop.time()))
            raise
        finally:
            log.events.append(("end", name, loop.time()))

    return call


@dataclass
class Request:
    """One run: the service, what its downstreams saw, what the caller got and when."""

    downstreams: list[Downstream]
    deadline: float
    service: Any = None
    log: CallLog = field(default_factory=CallLog)
    answer: fan_out.Answer | None = None
    error: str | None = None
    answered_at: float | None = None


def downstreams_of(scenario: dict[str, Any]) -> list[Downstream]:
    return [Downstream(str(n), float(lat), bool(fails)) for n, lat, fails in scenario["downstreams"]]


async def client(req: Request) -> None:
    loop = asyncio.get_running_loop()
    try:
        req.answer = await req.service.handle()
    except Exception as exc:  # noqa: BLE001 - the caller sees an error response
        req.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    req.answered_at = loop.time()


def by_deadline(req: Request, run: AioRun) -> str | None:
    return answer_by_deadline(req.answer, req.error, req.answered_at, req.deadline)


def all_accounted(req: Request, run: AioRun) -> str | None:
    a = req.answer
    return accounted(a.results if a else None, a.missing if a else None, req.downstreams, req.deadline, req.error)


def nothing_running(req: Request, run: AioRun) -> str | None:
    where = {left.name: f"{left.waits_on} at {left.where}" for left in run.left}
    detail = "; ".join(f"task {k} waits on {v}" for k, v in sorted(where.items()))
    message = left_running(req.log.running(), req.answered_at)
    return f"{message} [{detail}]" if message and detail else message


class Machine(AsyncMachine):
    system = fan_out.SYSTEM
    max_steps = 2_000

    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> Request:
        req = Request(downstreams_of(scenario), float(scenario["deadline"]))
        calls = {d.name: fake(d.name, d.latency, d.fails, req.log) for d in req.downstreams}
        req.service = variant.factory(calls, req.deadline)
        return req

    @classmethod
    def tasks(cls, variant: Variant, scenario: Any, state: Any) -> dict[str, Any]:
        return {"client": lambda: client(state)}

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [
            Property("answer_by_deadline", by_deadline, kind="liveness"),
            Property("every_downstream_accounted", all_accounted),
            Property("no_call_left_running", nothing_running),
        ]

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        # a fast one, one that answers exactly at the deadline (both orders are
        # explored), a slow one, a failing one; for the all-or-nothing variant
        # the failure alone first (it also times out whole: the general seed shows that)
        general = {"deadline": 1.0, "downstreams": [["a", 0.1, False], ["b", 1.0, False], ["c", 3.0, False], ["d", 0.5, True]]}
        if variant.name == "fails_whole":
            return [{"deadline": 1.0, "downstreams": [["a", 0.1, False], ["d", 0.5, True]]}, general]
        return [general]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        n = draw.integer(1, 4)
        return {
            "deadline": 1.0,
            "downstreams": [[chr(ord("a") + i), draw.pick(list(LATENCIES)), draw.boolean()] for i in range(n)],
        }

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        for smaller in without_one(scenario["downstreams"]):
            if smaller:
                yield {**scenario, "downstreams": smaller}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["downstreams"])


test_fan_out = variant_tests(Machine)
