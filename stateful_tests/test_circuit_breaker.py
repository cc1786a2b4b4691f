"""circuit_breaker under racekit.aio: sequential callers, a dependency that fails and recovers.

A scenario is the breaker's settings, the dependency's *phases* (from
``[start, mode]`` on it errors after 10 ms, is slow - 2 s, longer than any
caller waits - is flaky - every other call errors - or is healthy,
answering in 50 ms) and the callers: when each
calls (absolute virtual seconds; a caller is sequential) and its own
deadline (None: it relies on the breaker's call timeout; a number: it
cancels the call at that deadline, as a request handler with a budget
does).  A recording proxy around the breaker logs every ``acquire`` and
``release`` with the loop's virtual time in ms; the four properties of
``specs/circuit_breaker.py`` judge that log.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from racekit import CircuitBreakerSpec, Draw, Variant, run_scenario, search, variant_tests
from racekit.aio import AioRun, AsyncMachine, Property
from specs.circuit_breaker import (
    Call,
    at_most_k_probes,
    closes_when_healthy,
    healthy_bound,
    matches_spec,
    opens_after_threshold,
    to_edn,
)
from systems import circuit_breaker as cb


def permits_released(requests: list[Request]) -> str | None:
    for r in requests:
        if r.permit is not None and r.released is None:
            why = " (cancelled by its caller's deadline)" if r.cancelled else ""
            return f"{r.caller}'s {r.permit[0]} permit of epoch {r.permit[1]}, taken at t={r.t}ms, was never released{why}"
    return None


def outcomes_reported(requests: list[Request]) -> str | None:
    """A release says ok only for a call the dependency answered; a failed call is never reported ok."""
    for r in requests:
        if r.released is None:
            continue
        if r.released and r.dependency != "ok":
            return f"{r.caller}'s call at t={r.t}ms was released as a success, but the dependency {r.dependency or 'was never called'}"
        if not r.released and r.dependency == "ok" and not r.cancelled:
            return f"{r.caller}'s call at t={r.t}ms was released as a failure, but the dependency answered in time"
    return None

LATENCY = {"error": 0.01, "slow": 2.0, "ok": 0.05}


class DependencyDown(Exception):
    """The dependency answered with an error."""


def ms(t: float) -> int:
    return round(t * 1000)


@dataclass
class Request:
    """One caller request as the harness saw it: the permit, its release, what the dependency did."""

    caller: str
    t: int
    permit: tuple[str, int] | None = None
    released: bool | None = None
    dependency: str | None = None  # ok, error or cancelled; None: never called
    cancelled: bool = False  # the caller's own deadline cancelled the guarded call


CURRENT: contextvars.ContextVar[Request] = contextvars.ContextVar("circuit_breaker_request")
"""The request being served: tasks inherit it, so the breaker proxy knows whose permit it handles."""


@dataclass
class World:
    scenario: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    guarded: cb.Guarded | None = None

    flaky_calls: int = 0

    def mode_at(self, t: float) -> str:
        mode = "ok"
        for start, m in self.scenario["phases"]:
            if t >= start:
                mode = m
        if mode == "flaky":  # every other call fails
            self.flaky_calls += 1
            return "error" if self.flaky_calls % 2 else "ok"
        return str(mode)


class Recording:
    """The breaker as the guarded call sees it, with every call logged (the harness, not the system)."""

    def __init__(self, inner: cb.Breaker, world: World) -> None:
        self.inner = inner
        self.world = world

    def acquire(self) -> cb.Permit | None:
        permit = self.inner.acquire()
        result = "rejected" if permit is None else (permit.kind, permit.epoch)
        self.world.calls.append(Call(self.inner.clock(), "acquire", None, result))
        if permit is not None:
            CURRENT.get().permit = (permit.kind, permit.epoch)
        return permit

    def release(self, permit: cb.Permit, ok: bool) -> None:
        self.world.calls.append(Call(self.inner.clock(), "release", (permit.kind, permit.epoch, ok)))
        CURRENT.get().released = ok
        self.inner.release(permit, ok)


def dependency(world: World, req: Request) -> Callable[[], Any]:
    async def call() -> str:
        mode = world.mode_at(asyncio.get_running_loop().time())
        try:
            await asyncio.sleep(LATENCY[mode])
        except asyncio.CancelledError:
            req.dependency = "cancelled"
            raise
        req.dependency = "error" if mode == "error" else "ok"
        if mode == "error":
            raise DependencyDown("503")
        return "ok"

    return call


async def caller(world: World, name: str, times: list[float], deadline: float | None) -> None:
    loop = asyncio.get_running_loop()
    assert world.guarded is not None
    for at in times:
        await asyncio.sleep(max(0.0, at - loop.time()))
        req = Request(name, ms(loop.time()))
        world.requests.append(req)
        CURRENT.set(req)
        try:
            if deadline is None:
                await world.guarded.call(dependency(world, req))
            else:
                await asyncio.wait_for(world.guarded.call(dependency(world, req)), deadline)
        except TimeoutError:
            req.cancelled = deadline is not None  # the caller's deadline (0.3 s) comes before the breaker's (0.5 s)
        except (cb.BreakerOpen, DependencyDown):
            pass  # what a caller does with a failure is not the breaker's business


def spec_of(scenario: dict[str, Any]) -> CircuitBreakerSpec:
    return CircuitBreakerSpec({"threshold": scenario["threshold"], "cooldown": scenario["cooldown_ms"],
                               "probes": scenario["probes"]})


def bound_of(scenario: dict[str, Any]) -> tuple[int | None, int]:
    last_start, last_mode = scenario["phases"][-1]
    recovered = ms(last_start) if last_mode == "ok" else 10**9
    requests = sorted(ms(t) for c in scenario["callers"] for t in c["times"])
    bound = healthy_bound(recovered, ms(scenario["timeout"]), scenario["cooldown_ms"], ms(LATENCY["ok"]), requests)
    return bound, recovered


class Machine(AsyncMachine):
    system = cb.SYSTEM
    max_steps = 4_000
    shrink_runs = 30  # every bug here shows in asyncio's own order
    seed_runs = 600
    cross_runs = 500  # the racy scenario has 19,749 orders on the fixed variant: all of them take 25 s

    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> World:
        world = World(scenario)
        config: cb.Config = variant.factory()
        guarded = config.build(lambda: ms(asyncio.get_running_loop().time()), threshold=scenario["threshold"],
                               cooldown_ms=scenario["cooldown_ms"], probes=scenario["probes"],
                               timeout=scenario["timeout"])
        guarded.breaker = Recording(guarded.breaker, world)  # type: ignore[assignment]
        world.guarded = guarded
        return world

    @classmethod
    def tasks(cls, variant: Variant, scenario: Any, state: World) -> dict[str, Any]:
        return {
            f"c{i}": (lambda i=i, c=c: caller(state, f"c{i}", [float(t) for t in c["times"]], c["deadline"]))
            for i, c in enumerate(scenario["callers"])
        }

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        def healthy(w: World, run: AioRun) -> str | None:
            bound, recovered = bound_of(w.scenario)
            return closes_when_healthy(w.calls, bound, recovered)

        return [
            Property("at_most_k_probes", lambda w, run: at_most_k_probes(w.calls, w.scenario["probes"])),
            Property("opens_after_threshold", lambda w, run: opens_after_threshold(w.calls, w.scenario["threshold"])),
            Property("matches_spec", lambda w, run: matches_spec(w.calls, spec_of(w.scenario)), kind="linearizability"),
            Property("permits_released", lambda w, run: permits_released(w.requests)),
            Property("outcomes_reported", lambda w, run: outcomes_reported(w.requests)),
            Property("closes_when_healthy", healthy, kind="liveness"),
        ]

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        base = {"threshold": 3, "cooldown_ms": 1000, "probes": 1, "timeout": 0.5}
        # errors, then healthy; two callers ask together, so a probe is out
        # when the second one asks
        together = {**base, "phases": [[0.0, "error"], [1.0, "ok"]], "callers": [
            {"deadline": None, "times": [0.0, 0.1, 1.3, 1.6]},
            {"deadline": None, "times": [0.0, 0.1, 1.3, 1.6]},
        ]}
        # errors, a slow recovery (longer than the impatient caller waits), then healthy
        slow_recovery = {**base, "phases": [[0.0, "error"], [1.0, "slow"], [2.0, "ok"]], "callers": [
            {"deadline": 0.3, "times": [0.0, 0.1, 0.2, 1.3, 2.5, 3.0, 3.5, 4.0]},
        ]}
        general = {**base, "probes": 2, "phases": [[0.0, "flaky"], [0.6, "error"], [1.0, "slow"], [1.5, "ok"]], "callers": [
            {"deadline": 0.3, "times": [0.0, 0.2, 0.4, 1.2, 1.4, 2.0, 2.6, 3.0, 3.6]},
            {"deadline": None, "times": [0.0, 0.3, 1.2, 1.5, 2.0, 2.5, 3.0, 3.7]},
            {"deadline": None, "times": [0.1, 1.2, 2.6, 3.6]},
        ]}
        # a call admitted while closed times out (1 s) after the breaker opened and half-opened
        # (cooldown 0.5 s): its late failure must not count against the probe then out
        late_answer = {"threshold": 2, "cooldown_ms": 500, "probes": 1, "timeout": 1.0,
                       "phases": [[0.0, "slow"], [0.1, "error"], [0.7, "slow"], [0.9, "ok"]], "callers": [
                           {"deadline": None, "times": [0.0, 2.0, 2.5]},
                           {"deadline": None, "times": [0.1, 0.2, 0.8]},
                           {"deadline": None, "times": [1.2, 1.6, 2.2, 2.6]},
                       ]}
        # down, back, down again: the second outage must take threshold failures to open, like the first
        flapping = {**base, "phases": [[0.0, "error"], [0.3, "ok"], [1.6, "error"], [2.4, "ok"]], "callers": [
            {"deadline": None, "times": [0.0, 0.1, 0.2, 1.3, 1.5, 1.7, 1.8, 1.9, 2.0, 3.2, 3.6]},
        ]}
        first = {"half_open_race": together, "leaks_probe": slow_recovery}.get(variant.name)
        return [first, general] if first else [general, together, slow_recovery, late_answer, flapping]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        # one to three bad spells (errors, every other call failing, too slow to wait for),
        # each maybe followed by a healthy one, and healthy at the end
        phases: list[list[Any]] = []
        t = 0.0
        for _ in range(draw.integer(1, 3)):
            phases.append([t, draw.pick(["error", "flaky", "slow"])])
            t = round(t + draw.pick([0.5, 1.0, 2.0]), 3)
            if draw.boolean():
                phases.append([t, "ok"])
                t = round(t + draw.pick([0.5, 1.0]), 3)
        phases.append([t, "ok"])
        callers = []
        for _ in range(draw.integer(1, 3)):
            every = draw.pick([0.1, 0.2, 0.3, 0.5])
            start = draw.pick([0.0, 0.05, 0.1])
            times = [round(start + k * every, 3) for k in range(int(5.0 / every)) if start + k * every < 5.0]
            callers.append({"deadline": draw.pick([None, 0.3]), "times": times})
        # a call timeout above the cooldown lets a call admitted while closed answer after the
        # breaker has half-opened: the epoch check is what keeps that late answer out
        return {"threshold": draw.integer(1, 3), "cooldown_ms": draw.pick([500, 1000]), "probes": draw.integer(1, 2),
                "timeout": draw.pick([0.5, 1.0]), "phases": phases, "callers": callers}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        callers = scenario["callers"]
        for i in range(len(callers) - 1, -1, -1):
            if len(callers) > 1:
                yield {**scenario, "callers": callers[:i] + callers[i + 1:]}
        for i, c in enumerate(callers):
            for j in range(len(c["times"]) - 1, -1, -1):
                if len(c["times"]) > 1:
                    fewer = {**c, "times": c["times"][:j] + c["times"][j + 1:]}
                    yield {**scenario, "callers": [*callers[:i], fewer, *callers[i + 1:]]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(c["times"]) for c in scenario["callers"])


test_circuit_breaker = variant_tests(Machine)


# ------------------------------------------------------------- planted bugs
# Realistic breaker bugs planted in copies of the fixed variant; each must be
# caught (smoke profile).  racekit mutate adds the generic ones (comparisons
# flipped, assignments dropped, literals off by one).
class _CancelIsSuccess(cb.Guarded):
    """"A cancellation is not the dependency's fault": released as a success."""

    async def call(self, fn: Callable[[], Any]) -> Any:
        permit = self.breaker.acquire()
        if permit is None:
            raise cb.BreakerOpen("open")
        try:
            result = await asyncio.wait_for(fn(), self.timeout)
        except asyncio.CancelledError:
            self.breaker.release(permit, True)
            raise
        except Exception:
            self.breaker.release(permit, False)
            raise
        self.breaker.release(permit, True)
        return result


class _NoEpochCheck(cb.Breaker):
    """Late results count: a failure admitted while closed reopens a breaker that already moved on."""

    def release(self, permit: cb.Permit, ok: bool) -> None:
        super().release(cb.Permit(permit.kind, self.epoch), ok)


class _NoResetOnSuccess(cb.Breaker):
    """Counts failures in total, not in a row."""

    def release(self, permit: cb.Permit, ok: bool) -> None:
        if ok and self.mode == "closed" and permit.epoch == self.epoch:
            return
        super().release(permit, ok)


class _RejectionsRestartCooldown(cb.Breaker):
    """Every rejected call restarts the cooldown: under steady traffic it never half-opens."""

    def acquire(self) -> cb.Permit | None:
        permit = super().acquire()
        if permit is None and self.mode == "open":
            self.opened_at = self.clock()
        return permit


class _ProbeSlotKept(cb.Breaker):
    """The probe count is reset only on closing: after a failed probe the next half-open starts full."""

    def _enter(self, mode: str) -> None:
        probes = self.probes
        super()._enter(mode)
        if mode != "closed":
            self.probes = probes


PLANTED = {
    "cancel_is_success": cb.Config(cb.Breaker, _CancelIsSuccess),
    "no_epoch_check": cb.Config(_NoEpochCheck, cb.Guarded),
    "no_reset_on_success": cb.Config(_NoResetOnSuccess, cb.Guarded),
    "rejections_restart_cooldown": cb.Config(_RejectionsRestartCooldown, cb.Guarded),
    "probe_slot_kept": cb.Config(_ProbeSlotKept, cb.Guarded),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = search(Machine, Variant(name, lambda: PLANTED[name], expect="correct"), "smoke")
    assert outcome.failed, f"{name} survived {outcome.stats.get('runs')} runs"


def test_a_run_checks_with_racekit_lincheck(tmp_path: Any) -> None:
    """The run's breaker log, written as Jepsen EDN, is what `racekit lincheck --model circuit-breaker` reads
    (the command itself, as a user runs it: the catalogue imports racekit only through its public modules)."""
    import subprocess
    import sys
    from pathlib import Path

    racekit_cli = Path(sys.executable).with_name("racekit")
    for name, verdict in (("per_spec", "linearizable"), ("half_open_race", "violation")):
        scenario = Machine.seed_scenarios(cb.SYSTEM.variant("half_open_race"))[0]
        found = run_scenario(Machine, name, scenario)
        assert found.failed == (name == "half_open_race")
        calls = found.state.state.calls  # Result.state: the AioRun; its state: the World
        assert calls, "the run kept no breaker log"
        path = tmp_path / f"{name}.edn"
        path.write_text(to_edn(calls))
        settings = f"{{:threshold {scenario['threshold']} :cooldown {scenario['cooldown_ms']} :probes {scenario['probes']}}}"
        res = subprocess.run([str(racekit_cli), "lincheck", str(path), "--model", "circuit-breaker", "--initial", settings],
                             capture_output=True, text=True, timeout=120, check=False)
        assert res.stdout.startswith(verdict), res.stdout + res.stderr
