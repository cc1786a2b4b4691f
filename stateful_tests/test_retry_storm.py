"""retry_storm under racekit.aio: open-loop clients, a queueing server, a trigger, virtual time.

A scenario is the server (workers, service time), the client settings
(timeout, retries, backoff, budget, the fixed server's queue bound), the
trigger (``slow``: a stretch where each request takes ``factor`` times
longer; and/or clients marked ``spike``: a burst of extra load) and the
clients: each issues a request every ``every`` seconds from ``from`` until
``until`` - open loop, as users do: a new request does not wait for the
last one.  The handler (the work for one attempt: a sleep of the current
service time) and the logs are the harness; the server's queue, its
workers and the clients' retry policy are the system.  The four
properties of ``specs/retry_storm.py`` judge the logs (the queue's length
is read after each send: the memory the server spends on an overload).
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field
from typing import Any

import pytest

from racekit import Draw, Variant, search, variant_tests
from racekit.aio import AioRun, AsyncMachine, Property, without_one
from specs.retry_storm import (
    Decision,
    Outcome,
    Sent,
    Served,
    attempts_well_formed,
    budget_followed,
    no_work_past_deadline,
    queue_bounded,
    recovers_after_spike,
    recovery_bound,
    retries_within_budget,
)
from systems import retry_storm as rs


@dataclass
class World:
    scenario: dict[str, Any]
    settings: rs.Settings
    sent: list[Sent] = field(default_factory=list)
    served: list[Served] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    clients: dict[str, rs.Client] = field(default_factory=dict)
    server: rs.Server | None = None
    budget_log: list[Sent | Decision] = field(default_factory=list)  # first attempts and retry decisions, in order
    waiting: list[tuple[float, int]] = field(default_factory=list)  # (t, attempts queued) after each send

    def service_time(self, now: float) -> float:
        service = float(self.scenario["service"])
        slow = self.scenario.get("slow")
        if slow and slow[0] <= now < slow[1]:
            return service * float(slow[2])
        return service

    def calm(self) -> float:
        """When the trigger is over: the slow stretch ends and the spike clients stop."""
        ends = [float(c["until"]) for c in self.scenario["clients"] if c.get("spike")]
        if self.scenario.get("slow"):
            ends.append(float(self.scenario["slow"][1]))
        return max(ends, default=0.0)


CURRENT: contextvars.ContextVar[int] = contextvars.ContextVar("retry_storm_request")
"""The request the running task serves (a client's request runs in the task that issued it)."""


def settings_of(scenario: dict[str, Any]) -> rs.Settings:
    return rs.Settings(**scenario["settings"])


def build(world: World, config: rs.Config) -> None:
    async def handler(attempt: rs.Attempt) -> None:
        loop = asyncio.get_running_loop()
        world.served.append(Served(attempt.client, attempt.request, attempt.number, loop.time(), attempt.deadline))
        await asyncio.sleep(world.service_time(loop.time()))

    names = [f"c{i}" for i in range(len(world.scenario["clients"]))]
    server, clients = config.build(handler, world.settings, names)
    submit = server.submit

    def logged(attempt: rs.Attempt) -> None:
        sent = Sent(attempt.client, attempt.request, attempt.number, attempt.sent)
        world.sent.append(sent)
        world.budget_log.append(sent)
        submit(attempt)
        world.waiting.append((attempt.sent, len(server.queue)))

    server.submit = logged  # type: ignore[method-assign]
    for client in clients.values():
        watch_decisions(world, client)
    world.server, world.clients = server, clients


def watch_decisions(world: World, client: rs.Client) -> None:
    """Log each retry decision where it is made: the budget is spent before the backoff sleep,
    in the decision's first step, so the entry goes in the log before that step and its answer
    is filled in when the decision returns."""
    decide = client.before_retry

    async def logged(k: int) -> bool:
        entry = [client.name, CURRENT.get(), k, asyncio.get_running_loop().time()]
        at = len(world.budget_log)
        world.budget_log.append(Decision(*entry, granted=False))  # placeholder, in order
        granted = await decide(k)
        world.budget_log[at] = Decision(*entry, granted=granted)
        return granted

    client.before_retry = logged  # type: ignore[method-assign]


def workers_alive(world: World) -> str | None:
    """A worker task that ended (raised) is capacity gone for good, and nothing else would say so."""
    for task in world.server.workers if world.server else []:
        if task.done():
            why = "cancelled" if task.cancelled() else repr(task.exception()) if task.exception() else "returned"
            return f"server {task.get_name()} ended ({why}): the server lost a worker"
    return None


def times_of(client: dict[str, Any]) -> list[float]:
    start, every, until = float(client["from"]), float(client["every"]), float(client["until"])
    return [round(start + k * every, 6) for k in range(int((until - start) / every + 1e-9) + 1)
            if start + k * every < until - 1e-9]


async def source(world: World, name: str, times: list[float]) -> None:
    """One client's users: a request at each time, none waiting for the one before."""
    loop = asyncio.get_running_loop()
    client = world.clients[name]

    async def one() -> None:
        issued = loop.time()
        number = client.requests  # request() takes it before its first await
        CURRENT.set(number)
        try:
            await client.request()
            ok = True
        except rs.Failed:
            ok = False
        world.outcomes.append(Outcome(name, number, issued, loop.time(), ok))

    pending = []
    for at in times:
        await asyncio.sleep(max(0.0, at - loop.time()))
        pending.append(asyncio.ensure_future(one()))
    await asyncio.gather(*pending)


class Machine(AsyncMachine):
    system = rs.SYSTEM
    max_steps = 40_000
    shrink_runs = 20  # both bugs show in asyncio's own order
    seed_runs = 60
    cross_runs = 60

    @classmethod
    def setup(cls, variant: Variant, scenario: Any) -> World:
        return World(scenario, settings_of(scenario))

    @classmethod
    def tasks(cls, variant: Variant, scenario: Any, state: World) -> dict[str, Any]:
        build(state, variant.factory())
        return {
            f"c{i}": (lambda i=i, c=c: source(state, f"c{i}", times_of(c)))
            for i, c in enumerate(scenario["clients"])
        }

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        def recovers(w: World, run: AioRun) -> str | None:
            s = w.settings
            return recovers_after_spike(w.outcomes, w.calm(), recovery_bound(s.timeout, s.backoff, s.retries))

        return [
            Property("recovers_after_spike", recovers, kind="liveness"),
            Property("retries_within_budget", lambda w, run: retries_within_budget(
                w.sent, w.settings.budget_ratio, w.settings.budget_burst)),
            Property("budget_followed", lambda w, run: budget_followed(
                w.budget_log, w.outcomes, w.settings.budget_ratio, w.settings.budget_burst, w.settings.retries)),
            Property("attempts_well_formed", lambda w, run: attempts_well_formed(w.sent, w.settings.retries)),
            Property("no_work_past_deadline", lambda w, run: no_work_past_deadline(w.served)),
            Property("queue_bounded", lambda w, run: queue_bounded(w.waiting, w.settings.queue_limit)),
            Property("workers_alive", lambda w, run: workers_alive(w)),
        ]

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        # capacity 20/s (one worker, 50 ms); the users ask 10/s; a burst of 50/s for 1 s
        spike = {"service": 0.05, "settings": {}, "clients": [
            {"from": 0.0, "every": 0.2, "until": 6.0},
            {"from": 0.1, "every": 0.2, "until": 6.0},
            {"from": 1.0, "every": 0.02, "until": 2.0, "spike": True},
        ]}
        # the same users; the server is 10x slower for 1 s (a GC pause, a failover)
        slow = {"service": 0.05, "slow": [1.0, 2.0, 10], "settings": {}, "clients": [
            {"from": 0.0, "every": 0.2, "until": 6.0},
            {"from": 0.1, "every": 0.2, "until": 6.0},
        ]}
        # two workers (the same capacity): both wait for work, one request wakes both
        pair = {**spike, "service": 0.1, "settings": {"workers": 2}}
        # a generous budget (every other request earns a retry): requests that use all their retries
        generous = {**slow, "settings": {"budget_ratio": 0.5, "budget_burst": 4.0}}
        return [spike, slow, pair, generous]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        clients = [{"from": draw.pick([0.0, 0.05, 0.1]), "every": draw.pick([0.2, 0.3]), "until": 6.0}
                   for _ in range(draw.integer(1, 2))]
        slow = None
        if draw.boolean():
            at = draw.pick([0.5, 1.0])
            clients.append({"from": at, "every": draw.pick([0.02, 0.03]), "until": at + draw.pick([0.5, 1.0]),
                            "spike": True})
        if draw.boolean() or len(clients) < 2 or not any(c.get("spike") for c in clients):
            at = draw.pick([0.5, 1.0])
            slow = [at, at + draw.pick([0.5, 1.0]), draw.pick([5, 10])]
        settings = {"workers": draw.integer(1, 2), "retries": draw.integer(2, 3)}
        service = 0.05 * settings["workers"]  # the same capacity, 20/s, spread over the workers
        return {"service": service, "slow": slow, "settings": settings, "clients": clients}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        for smaller in without_one(scenario["clients"]):
            if smaller:
                yield {**scenario, "clients": smaller}
        for i, c in enumerate(scenario["clients"]):
            if not c.get("spike") and float(c["until"]) > 3.0:
                clients = [dict(x) for x in scenario["clients"]]
                clients[i]["until"] = float(c["until"]) - 1.0
                yield {**scenario, "clients": clients}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(times_of(c)) for c in scenario["clients"])


test_retry_storm = variant_tests(Machine)


# ------------------------------------------------------------- planted bugs
# Overload bugs planted in copies of the fixed variant; each must be caught
# (smoke profile).  racekit mutate adds the generic ones.
class _ServesExpired(rs.SheddingServer):
    """A bounded queue, but every attempt that got in is served, expired or not."""

    def admit(self, attempt: rs.Attempt) -> bool:
        return True


class _RetriesEarnToo(rs.BudgetClient):
    """Every attempt earns budget, retries included: under overload the retries pay for themselves."""

    async def before_retry(self, k: int) -> bool:
        self.tokens = min(self.tokens + self.settings.budget_ratio, self.settings.budget_burst)
        return await super().before_retry(k)


class _BudgetCheckedNotSpent(rs.BudgetClient):
    """The budget is checked but a retry never spends it."""

    async def before_retry(self, k: int) -> bool:
        if self.tokens < 1.0:
            return False
        return await rs.BackoffClient.before_retry(self, k)


class _NoQueueBound(rs.SheddingServer):
    """Expired attempts are dropped at the worker, but the queue is unbounded: a full one never says no."""

    def submit(self, attempt: rs.Attempt) -> None:
        rs.Server.submit(self, attempt)


PLANTED = {
    "serves_expired": rs.Config(_ServesExpired, rs.BudgetClient),
    "retries_earn_too": rs.Config(rs.SheddingServer, _RetriesEarnToo),
    "budget_checked_not_spent": rs.Config(rs.SheddingServer, _BudgetCheckedNotSpent),
    "no_queue_bound": rs.Config(_NoQueueBound, rs.BudgetClient),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = search(Machine, Variant(name, lambda: PLANTED[name], expect="correct"), "smoke")
    assert outcome.failed, f"{name} survived {outcome.stats.get('runs')} runs"
