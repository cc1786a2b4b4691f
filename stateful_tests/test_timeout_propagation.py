"""timeout_propagation under racekit.aio: callers with deadlines, a chain of hops, virtual time.

A scenario is the chain (each hop's name and how long its own work takes),
the fixed per-hop timeout the broken variant uses, and the requests: when
each is issued, its budget (deadline = issued + budget), which hops are
slow for it, and whether its caller hangs up early (after ``hangup``
seconds).  The work (a sleep that logs when it began and ended, finished or
cancelled), the per-hop handling log and the callers are the harness; the
hops, their transport and their deadline handling are the system (the
chain's wiring is the harness's, as a deployment's would be).  The five
properties of ``specs/timeout_propagation.py`` judge the trace.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from racekit import Draw, Variant, search, variant_tests
from racekit.aio import AsyncMachine, Property, without_one
from specs.timeout_propagation import (
    Answer,
    Span,
    Work,
    answer_by_deadline,
    answers_complete,
    hops_end_with_caller,
    no_work_past_deadline,
    served_when_it_fits,
)
from systems import timeout_propagation as tp

OPEN = float("inf")  # a record whose end never came: still running when the run ended


def now() -> float:
    """The loop's virtual time, to the nanosecond: 0.1 + 0.2 is the instant 0.3 in every log."""
    return round(asyncio.get_running_loop().time(), 9)


@dataclass
class World:
    scenario: dict[str, Any]
    work: list[list[Any]] = field(default_factory=list)  # [hop, request, start, end]
    spans: list[list[Any]] = field(default_factory=list)  # [hop, request, start, end]
    answers: list[Answer] = field(default_factory=list)

    def latency(self, hop: str, request: str) -> float:
        req = self.scenario["requests"][int(request[1:])]
        slow = req.get("slow") or {}
        return float(slow.get(hop, dict(self.scenario["chain"])[hop]))

    def needed(self, index: int) -> float:
        return sum(self.latency(hop, f"r{index}") for hop, _ in self.scenario["chain"])

    def closed(self, records: list[list[Any]], cls: type[Any]) -> list[Any]:
        return [cls(h, r, s, OPEN if e is None else e) for h, r, s, e in records]


def build(world: World, config: tp.Config) -> tp.Hop:
    async def work(hop: str, request: tp.Request) -> None:
        record = [hop, request.id, now(), None]
        world.work.append(record)
        try:
            await asyncio.sleep(world.latency(hop, request.id))
        finally:  # finished or cancelled
            record[3] = now()

    # the chain, built from its last hop up: wiring, as a deployment does it (the harness's part)
    transport = config.transport()
    below: tp.Hop | None = None
    for name, _ in reversed(world.scenario["chain"]):
        below = config.hop(name, work, below, transport, float(world.scenario["hop_timeout"]))
        watch(world, below)
    assert below is not None, "a chain needs at least one hop"
    return below


def watch(world: World, hop: tp.Hop) -> None:
    """Log when this hop begins and ends handling each request (however it ends)."""
    handle = hop.handle

    async def logged(request: tp.Request) -> str:
        record = [hop.name, request.id, now(), None]
        world.spans.append(record)
        try:
            return await handle(request)
        finally:
            record[3] = now()

    hop.handle = logged  # type: ignore[method-assign]


async def caller(world: World, config: tp.Config, entry: tp.Hop, index: int, req: dict[str, Any]) -> None:
    await asyncio.sleep(float(req["at"]))
    issued = now()
    deadline = round(issued + float(req["budget"]), 9)  # an instant the logs can name exactly
    request = tp.Request(f"r{index}", deadline if config.propagates_deadline else None)
    call = asyncio.ensure_future(config.serve(entry, request))
    hangup = req.get("hangup")
    await asyncio.wait({call}, timeout=None if hangup is None else float(hangup))
    if not call.done():
        call.cancel()  # the caller hangs up
        world.answers.append(Answer(request.id, issued, deadline, now(), None, "hung up", world.needed(index)))
        await asyncio.wait({call})
    else:
        try:
            value = await call
            outcome = "ok"
        except tp.DeadlineExceeded:
            value, outcome = "", "deadline"
        world.answers.append(Answer(request.id, issued, deadline, None, now(), outcome, world.needed(index), value))
    # stay until all the work this request could cause is over, so the trace shows what ran on
    await asyncio.sleep(max(0.0, issued + max(float(req["budget"]), world.needed(index)) + 0.5 - now()))


class Machine(AsyncMachine):
    system = tp.SYSTEM
    max_steps = 4_000
    shrink_runs = 30
    cross_runs = 300

    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> World:
        return World(scenario)

    @classmethod
    def tasks(cls, variant: Variant, scenario: Any, state: World) -> dict[str, Any]:
        config: tp.Config = variant.factory()
        entry = build(state, config)
        return {f"r{i}": (lambda i=i, r=r: caller(state, config, entry, i, r)) for i, r in enumerate(scenario["requests"])}

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [
            Property("answer_by_deadline", lambda w, run: answer_by_deadline(w.answers), kind="liveness"),
            Property("no_work_past_deadline", lambda w, run: no_work_past_deadline(w.closed(w.work, Work), w.answers)),
            Property("hops_end_with_caller", lambda w, run: hops_end_with_caller(w.closed(w.spans, Span), w.answers)),
            Property("answers_complete", lambda w, run: answers_complete(w.answers, [n for n, _ in w.scenario["chain"]])),
            Property("served_when_it_fits", lambda w, run: served_when_it_fits(w.answers), kind="liveness"),
        ]

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        chain = [["front", 0.1], ["svc", 0.2], ["db", 0.3]]  # 0.6 s of work; budgets of 1 s
        # the database is slow for r0 (2 s): the hops' fixed 1 s timeouts add up past the caller's 1 s
        slow_db = {"chain": chain, "hop_timeout": 1.0, "requests": [
            {"at": 0.0, "budget": 1.0, "slow": {"db": 2.0}},
            {"at": 0.2, "budget": 1.0},
        ]}
        # r0's caller hangs up after 0.3 s (the chain needs 0.6 s)
        hangup = {"chain": chain, "hop_timeout": 1.0, "requests": [
            {"at": 0.0, "budget": 1.0, "hangup": 0.3},
            {"at": 0.1, "budget": 1.0},
        ]}
        # the front's work ends exactly at r0's deadline; r2 arrives with no budget left (its
        # upstream spent it all): no hop may begin work on it; the front itself is slow for r3
        boundary = {"chain": [["front", 0.5], ["svc", 0.2]], "hop_timeout": 1.0, "requests": [
            {"at": 0.0, "budget": 0.5},
            {"at": 0.0, "budget": 1.0, "slow": {"svc": 0.4}},
            {"at": 0.2, "budget": 0.0},
            {"at": 0.1, "budget": 1.0, "slow": {"front": 2.0}},
        ]}
        first = {"fixed_timeouts": slow_db, "deadline_no_cancel": hangup}.get(variant.name)
        return [first] if first else [slow_db, hangup, boundary]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        names = ["front", "svc", "db"][: draw.integer(2, 3)]
        chain = [[n, draw.pick([0.1, 0.2, 0.3])] for n in names]
        requests = []
        for _ in range(draw.integer(1, 3)):
            req: dict[str, Any] = {"at": draw.pick([0.0, 0.1, 0.3]), "budget": draw.pick([0.0, 0.5, 1.0])}
            if draw.boolean():
                req["slow"] = {draw.pick(names): draw.pick([0.4, 2.0])}
            if draw.boolean():
                req["hangup"] = draw.pick([0.1, 0.25, 0.6])
            requests.append(req)
        return {"chain": chain, "hop_timeout": draw.pick([0.5, 1.0]), "requests": requests}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        for smaller in without_one(scenario["requests"]):
            if smaller:
                yield {**scenario, "requests": smaller}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["requests"]) * len(scenario["chain"])


test_timeout_propagation = variant_tests(Machine)


# ------------------------------------------------------------- planted bugs
# Deadline bugs planted in copies of the fixed variant; each must be caught
# (smoke profile).  racekit mutate adds the generic ones.
class _NoCheck(tp.DeadlineHop):
    """Never refuses work: a request that arrives with its deadline already passed is worked on anyway."""

    def check(self, deadline: float) -> None:
        return None


class _OwnWorkUnbounded(tp.DeadlineHop):
    """Only the wait for the next hop is bounded by the deadline; the hop's own work is not."""

    async def handle(self, request: tp.Request) -> str:
        assert request.deadline is not None
        self.check(request.deadline)
        await self.work(self.name, request)
        if self.below is None:
            return self.name
        try:
            async with asyncio.timeout_at(request.deadline):
                return f"{self.name}>{await self.transport.call(self.below, request)}"
        except TimeoutError:
            raise tp.DeadlineExceeded(self.name) from None


class _GraceAfterDeadline(tp.DeadlineHop):
    """Waits 100 ms past the deadline "to be safe": the answer comes late."""

    async def handle(self, request: tp.Request) -> str:
        assert request.deadline is not None
        return await super().handle(tp.Request(request.id, request.deadline + 0.1))


PLANTED = {
    "no_check": tp.Config(_NoCheck, tp.CancellingTransport),
    "own_work_unbounded": tp.Config(_OwnWorkUnbounded, tp.CancellingTransport),
    "grace_after_deadline": tp.Config(_GraceAfterDeadline, tp.CancellingTransport),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = search(Machine, Variant(name, lambda: PLANTED[name], expect="correct"), "smoke")
    assert outcome.failed, f"{name} survived {outcome.stats.get('runs')} runs"
