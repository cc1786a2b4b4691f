"""graceful_degradation under racekit.aio: callers, a dependency that fails in phases, virtual time.

A scenario is the SLA, the dependency's phases (from ``[start, mode]`` on
it answers in 50 ms, is ``slow`` - 250 ms, still within the SLA - errors
after 10 ms, or ``hangs`` for 5 s) and the callers: which key each asks
for and when (a caller is sequential).  The dependency's data for a key
changes every 100 ms: version = tenths of a second at the call's start, so
a slow call answers with older data than a fast one begun after it.  The
fake dependency and the logs are the harness; the service is the system.
The four properties of ``specs/graceful_degradation.py`` judge the trace.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import pytest

from racekit import Draw, Variant, search, variant_tests
from racekit.aio import AsyncMachine, Property, without_one
from specs.graceful_degradation import (
    Call,
    Served,
    answers_within_sla,
    degraded_marked,
    fallback_newest,
    fresh_when_healthy,
    value_of,
)
from systems import graceful_degradation as gd

LATENCY = {"ok": 0.05, "slow": 0.25, "error": 0.01, "hang": 5.0}

CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("graceful_degradation_request")
"""The request the running task serves: the dependency fake logs its call under it."""


def now() -> float:
    return round(asyncio.get_running_loop().time(), 9)


class DependencyDown(Exception):
    """The dependency answered with an error."""


@dataclass
class World:
    scenario: dict[str, Any]
    calls: list[list[Any]] = field(default_factory=list)  # [request, key, start, end, outcome, value, version]
    served: list[Served] = field(default_factory=list)
    service: gd.Service | None = None

    def mode_at(self, t: float) -> str:
        mode = "ok"
        for start, m in self.scenario["phases"]:
            if t >= start:
                mode = str(m)
        return mode

    def call_log(self) -> list[Call]:
        return [Call(r, k, s, e, o, v, n) for r, k, s, e, o, v, n in self.calls]


def dependency(world: World) -> gd.Fetch:
    async def fetch(key: Hashable) -> tuple[str, int]:
        start = now()
        mode = world.mode_at(start)
        version = int(round(start * 10))
        record: list[Any] = [CURRENT.get(), str(key), start, None, "open", "", -1]
        world.calls.append(record)
        try:
            await asyncio.sleep(LATENCY[mode])
        except asyncio.CancelledError:
            record[3:5] = [now(), "cancelled"]
            raise
        if mode == "error":
            record[3:5] = [now(), "error"]
            raise DependencyDown("503")
        record[3:] = [now(), "ok", value_of(str(key), version), version]
        return value_of(str(key), version), version

    return fetch


async def caller(world: World, name: str, key: str, times: list[float]) -> None:
    assert world.service is not None
    for i, at in enumerate(times):
        await asyncio.sleep(max(0.0, at - now()))
        request = f"{name}.{i}"
        CURRENT.set(request)
        issued = now()
        try:
            a = await world.service.get(key)
            world.served.append(Served(request, key, issued, now(), "", a.value, a.version, a.degraded))
        except Exception as exc:  # what the caller sees: the property names it
            world.served.append(Served(request, key, issued, now(), f"{type(exc).__name__}: {exc}"))


class Machine(AsyncMachine):
    system = gd.SYSTEM
    max_steps = 4_000
    shrink_runs = 30
    cross_runs = 300

    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> World:
        world = World(scenario)
        service_class: type[gd.Service] = variant.factory()
        world.service = service_class(dependency(world), float(scenario["sla"]))
        return world

    @classmethod
    def tasks(cls, variant: Variant, scenario: Any, state: World) -> dict[str, Any]:
        return {f"c{i}": (lambda i=i, c=c: caller(state, f"c{i}", c["key"], [float(t) for t in c["times"]]))
                for i, c in enumerate(scenario["callers"])}

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        def sla(w: World) -> float:
            return float(w.scenario["sla"])

        return [
            Property("answers_within_sla", lambda w, run: answers_within_sla(w.served, sla(w)), kind="liveness"),
            Property("degraded_marked", lambda w, run: degraded_marked(w.served, w.call_log())),
            Property("fallback_newest", lambda w, run: fallback_newest(w.served, gd.DEFAULT)),
            Property("fresh_when_healthy", lambda w, run: fresh_when_healthy(w.served, w.call_log(), sla(w)),
                     kind="liveness"),
        ]

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        # healthy, then erroring, then hanging, healthy again: one caller every 200 ms
        outage = {"sla": 0.3, "phases": [[0.0, "ok"], [0.5, "error"], [1.0, "hang"], [1.6, "ok"]], "callers": [
            {"key": "a", "times": [0.0, 0.2, 0.6, 0.8, 1.1, 1.7]},
        ]}
        # a slow call (begun at 0.9 s, older data) answers after a fast one begun at 1.0 s;
        # then the dependency errors: the fallback must be the newer data
        late_answer = {"sla": 0.3, "phases": [[0.0, "ok"], [0.85, "slow"], [0.95, "ok"], [1.2, "error"]],
                       "callers": [
                           {"key": "a", "times": [0.0, 0.9, 1.3]},
                           {"key": "a", "times": [1.0, 1.4]},
                       ]}
        # errors from the start: nothing cached yet, the default (marked); a second key
        cold = {"sla": 0.3, "phases": [[0.0, "error"], [0.4, "ok"], [0.7, "hang"]], "callers": [
            {"key": "a", "times": [0.0, 0.5, 0.8]},
            {"key": "b", "times": [0.1, 0.9]},
        ]}
        first = {"no_fallback": cold, "stale_unmarked": outage}.get(variant.name)
        return [first] if first else [outage, late_answer, cold]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        phases: list[list[Any]] = [[0.0, draw.pick(["ok", "error", "slow"])]]
        t = 0.0
        for _ in range(draw.integer(1, 3)):
            t = round(t + draw.pick([0.2, 0.35, 0.5]), 3)
            phases.append([t, draw.pick(["ok", "slow", "error", "hang"])])
        callers = []
        for _ in range(draw.integer(1, 3)):
            every = draw.pick([0.1, 0.2, 0.3])
            start = draw.pick([0.0, 0.05, 0.1])
            times = [round(start + k * every, 3) for k in range(int(2.0 / every)) if start + k * every < 2.0]
            callers.append({"key": draw.pick(["a", "b"]), "times": times})
        return {"sla": 0.3, "phases": phases, "callers": callers}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        for smaller in without_one(scenario["callers"]):
            if smaller:
                yield {**scenario, "callers": smaller}
        for i, c in enumerate(scenario["callers"]):
            if len(c["times"]) > 1:
                for fewer in without_one(c["times"]):
                    callers = [dict(x) for x in scenario["callers"]]
                    callers[i] = {**c, "times": fewer}
                    yield {**scenario, "callers": callers}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(c["times"]) for c in scenario["callers"])


test_graceful_degradation = variant_tests(Machine)


# ------------------------------------------------------------- planted bugs
# Degradation bugs planted in copies of the fixed variant; each must be caught
# (smoke profile).  racekit mutate adds the generic ones.
class _LastWriteWins(gd.MarkedFallback):
    """Caches whatever answered last: a slow call's older data replaces newer data."""

    def remember(self, key: Hashable, value: str, version: int) -> None:
        self.cache[key] = (value, version)


class _DefaultAlways(gd.MarkedFallback):
    """Marked, in time, but always the default: the cache is never read."""

    async def get(self, key: Hashable) -> gd.Answer:
        answer = await super().get(key)
        return gd.Answer(gd.DEFAULT, -1, True) if answer.degraded else answer


class _TimeoutAfterSla(gd.MarkedFallback):
    """The dependency's own client timeout (1 s) instead of the SLA."""

    async def get(self, key: Hashable) -> gd.Answer:
        self.sla = 1.0
        return await super().get(key)


class _ErrorsOnly(gd.MarkedFallback):
    """Falls back on errors, but awaits a hanging dependency without a bound."""

    async def get(self, key: Hashable) -> gd.Answer:
        try:
            value, version = await self.fetch(key)
        except DependencyDown:
            value, version = self.cache.get(key, (gd.DEFAULT, -1))
            return gd.Answer(value, version, True)
        self.remember(key, value, version)
        return gd.Answer(value, version, False)


PLANTED = {"last_write_wins": _LastWriteWins, "default_always": _DefaultAlways,
           "timeout_after_sla": _TimeoutAfterSla, "errors_only": _ErrorsOnly}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = search(Machine, Variant(name, lambda: PLANTED[name], expect="correct"), "smoke")
    assert outcome.failed, f"{name} survived {outcome.stats.get('runs')} runs"
