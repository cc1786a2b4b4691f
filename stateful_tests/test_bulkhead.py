"""bulkhead under racekit.aio: sequential callers, in-process dependencies, virtual time.

A scenario is the call timeout, the dependencies (name, latency, limit; a
latency above the timeout is a dependency that hangs) and the callers
(which dependency each calls, and when - absolute virtual seconds; a caller
is sequential, so a late answer delays its next request).  One run: every
caller is a top-level task calling ``bulkhead.call(name)``; the explorer
picks the order of the ready tasks, replies and timers; then the four
properties of ``specs/bulkhead.py`` judge the record.  The in-process
dependencies and their call log are the harness, so they live here, not in
``systems/`` (mutating the checker's bookkeeping would only weaken it).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import pytest

from racekit import Draw, Variant, search, variant_tests
from racekit.aio import AioRun, AsyncMachine, Property, without_one
from specs.bulkhead import (
    Answer,
    Dependency,
    Event,
    answer_within_timeout,
    healthy_within_bound,
    limit_respected,
    no_needless_rejection,
)
from systems import bulkhead

TIMEOUT = 1.0
LATENCIES = (0.05, 0.3, 5.0)  # healthy, healthy but slower, hangs past the timeout
ISSUE_AT = (0.0, 0.1, 0.5, 1.0, 1.5)


@dataclass
class World:
    """One run: the bulkhead, what the dependencies saw, what the callers got."""

    deps: list[Dependency]
    callers: list[tuple[str, list[float]]]
    timeout: float
    service: Any = None
    events: list[Event] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def clients_of(self) -> Counter[str]:
        return Counter(dep for dep, _ in self.callers)


def fake(dep: Dependency, world: World) -> bulkhead.Call:
    """An in-process dependency: answers ``name.upper()`` after ``latency`` virtual seconds.

    The call is in flight from the moment it is made - the request is sent
    when the bulkhead calls, not when the loop first runs the coroutine - so
    ``start`` is logged by the plain function, in the bulkhead's own step,
    and ``end`` when the coroutine finishes however it finishes.  (A call
    cancelled before its first step would never log ``end``; no caller here
    is cancelled while the run is judged, and a timeout is never zero.)
    """

    async def answer(loop: asyncio.AbstractEventLoop) -> str:
        try:
            await asyncio.sleep(dep.latency)
            return dep.name.upper()
        finally:
            world.events.append(("end", dep.name, loop.time()))

    def call() -> Awaitable[str]:
        loop = asyncio.get_running_loop()
        world.events.append(("start", dep.name, loop.time()))
        return answer(loop)

    return call


async def caller(world: World, client: str, dep: str, times: list[float]) -> None:
    loop = asyncio.get_running_loop()
    for at in times:
        await asyncio.sleep(max(0.0, at - loop.time()))
        issued = loop.time()
        try:
            await world.service.call(dep)
            outcome, detail = "ok", ""
        except bulkhead.Rejected as exc:
            world.events.append(("rejected", dep, loop.time()))
            outcome, detail = "rejected", str(exc)
        except TimeoutError:
            outcome, detail = "timeout", ""
        world.answers.append(Answer(client, dep, issued, loop.time(), outcome, detail))


def world_of(scenario: dict[str, Any]) -> World:
    deps = [Dependency(str(n), float(lat), int(limit)) for n, lat, limit in scenario["dependencies"]]
    callers = [(str(dep), [float(t) for t in times]) for dep, times in scenario["callers"]]
    return World(deps, callers, float(scenario["timeout"]))


class Machine(AsyncMachine):
    system = bulkhead.SYSTEM
    max_steps = 3_000
    shrink_runs = 30  # both bugs show in asyncio's own order
    cross_runs = 500  # a broken scenario has over 100,000 orders on the fixed variant

    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> World:
        world = world_of(scenario)
        calls = {d.name: fake(d, world) for d in world.deps}
        world.service = variant.factory(calls, {d.name: d.limit for d in world.deps}, world.timeout)
        return world

    @classmethod
    def tasks(cls, variant: Variant, scenario: Any, state: World) -> dict[str, Any]:
        return {
            f"c{i}-{dep}": (lambda i=i, dep=dep, times=times: caller(state, f"c{i}", dep, times))
            for i, (dep, times) in enumerate(state.callers)
        }

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        def healthy(w: World, run: AioRun) -> str | None:
            return healthy_within_bound(w.answers, w.deps, w.clients_of(), w.timeout)

        return [
            Property("healthy_within_bound", healthy, kind="liveness"),
            Property("answer_within_timeout", lambda w, run: answer_within_timeout(w.answers, w.timeout), kind="liveness"),
            Property("limit_respected", lambda w, run: limit_respected(w.events, w.deps)),
            Property("no_needless_rejection", lambda w, run: no_needless_rejection(w.events, w.deps)),
        ]

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        # s hangs past the timeout and has four callers for two slots; f is
        # healthy with one caller, asking while s's calls hold their slots;
        # c2's second request lands exactly when c0's first call times out
        deps = [["f", 0.05, 2], ["s", 5.0, 2]]
        general = {
            "timeout": TIMEOUT,
            "dependencies": deps,
            "callers": [["s", [0.0, 1.0]], ["s", [0.0]], ["s", [0.0, 1.0]], ["s", [0.0]], ["f", [0.1, 0.5, 1.5]]],
        }
        smallest = {  # the smallest scenario each bug shows in, explored first
            "shared_pool": [["s", [0.0]], ["s", [0.0]], ["s", [0.0]], ["s", [0.0]], ["f", [0.1]]],
            "queues_per_dependency": [["s", [0.0]], ["s", [0.0]], ["s", [0.0]]],
        }
        if variant.name in smallest:
            return [{"timeout": TIMEOUT, "dependencies": deps, "callers": smallest[variant.name]}, general]
        return [general]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        deps = [[name, draw.pick(list(LATENCIES)), draw.integer(1, 3)] for name in ("f", "s")]
        callers = []
        for _ in range(draw.integer(1, 5)):
            times = sorted(draw.pick(list(ISSUE_AT)) for _ in range(draw.integer(1, 3)))
            callers.append([draw.pick(["f", "s"]), times])
        return {"timeout": TIMEOUT, "dependencies": deps, "callers": callers}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        for smaller in without_one(scenario["callers"]):
            if smaller:
                yield {**scenario, "callers": smaller}
        for i, (dep, times) in enumerate(scenario["callers"]):
            if len(times) > 1:
                for fewer in without_one(times):
                    callers = [list(c) for c in scenario["callers"]]
                    callers[i] = [dep, fewer]
                    yield {**scenario, "callers": callers}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(times) for _, times in scenario["callers"])


test_bulkhead = variant_tests(Machine)


# ------------------------------------------------------------- planted bugs
# racekit mutate's operators are the thread/durability ones plus plain
# comparisons and assignments; these are the asyncio bugs a bulkhead really
# gets, each planted in a copy of the fixed variant and each caught (smoke profile).
class _LeaksSlot(bulkhead.PerDependency):
    """The slot is given back only when the call returns: a timeout keeps it forever."""

    async def call(self, name: str) -> Any:
        if self.active[name] >= self.limits[name]:
            raise bulkhead.Rejected(name)
        self.active[name] += 1
        result = await self._timed(name)
        self.active[name] -= 1
        return result


class _CheckAcrossAwait(bulkhead.PerDependency):
    """Check, await (a log call, a metric), then take the slot: two callers pass one check."""

    async def call(self, name: str) -> Any:
        if self.active[name] >= self.limits[name]:
            raise bulkhead.Rejected(name)
        await asyncio.sleep(0)
        self.active[name] += 1
        try:
            return await self._timed(name)
        finally:
            self.active[name] -= 1


class _NoTimeout(bulkhead.PerDependency):
    """The compartment without the call timeout: a hung call holds its caller forever."""

    async def _timed(self, name: str) -> Any:
        return await self.dependencies[name]()


class _OneCounter(bulkhead.PerDependency):
    """Limits per dependency, but counted against everything in flight."""

    async def call(self, name: str) -> Any:
        if sum(self.active.values()) >= self.limits[name]:
            raise bulkhead.Rejected(name)
        self.active[name] += 1
        try:
            return await self._timed(name)
        finally:
            self.active[name] -= 1


@pytest.mark.parametrize("planted", [_LeaksSlot, _CheckAcrossAwait, _NoTimeout, _OneCounter], ids=lambda c: c.__name__)
def test_planted_bug_is_caught(planted: type[bulkhead.Bulkhead]) -> None:
    variant = Variant(planted.__name__.strip("_").lower(), bulkhead._bulkhead(planted), expect="correct")
    outcome = search(Machine, variant, "smoke")
    assert outcome.failed, f"{planted.__name__} survived: {outcome.stats.get('runs')} runs"
