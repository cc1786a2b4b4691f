"""Retry storm: retries that outlive the spike that caused them (a metastable failure).

A :class:`Server` serves requests from a FIFO queue with a few worker
tasks; clients call it through a :class:`Client` that times each attempt
out and retries.  A request on the wire is an :class:`Attempt`: the
server does not see a client give up (the request was already sent), only
the deadline the attempt carries.  The trigger is outside the system - a
burst of load or a stretch where the server is slow; the question is what
happens after it is gone.

Bronson et al. (*Metastable Failures in Distributed Systems*, HotOS 2021):
once the queue is longer than a client waits, every attempt times out, so
every request becomes 1 + ``retries`` attempts; if that load is above
capacity the queue never drains and the server spends its time on answers
nobody waits for - the overload sustains itself after the trigger is gone.

The same classes run under racekit.aio on virtual time
(stateful_tests/test_retry_storm.py) and in the benchmark
(benchmarks/retry_storm.py).

Variants:

* ``immediate`` (broken): retry at once on a timeout, up to ``retries``
  times; the server queues everything and serves everything;
* ``backoff_only`` (broken): exponential backoff with full jitter between
  attempts - the retries are spread out but just as many: the amplification
  that sustains the overload is unchanged;
* ``budget_and_shedding`` (fixed): backoff with jitter, a retry budget per
  client (a token bucket: each first attempt earns ``ratio`` of a retry, a
  retry spends one - retries are at most ``ratio`` of the traffic plus a
  small burst), and load shedding at the server: a queue bound (a full
  queue answers :class:`Overloaded` at once) and an attempt whose deadline
  has passed is dropped when it reaches a worker instead of being served.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from racekit import System, Variant


class Overloaded(Exception):
    """The server refused the attempt at once (a fast 503): its queue is full."""


class Failed(Exception):
    """Every attempt the client was willing to make failed."""


@dataclass
class Attempt:
    """One request on the wire: request ``request``'s attempt ``number`` (0: the first)."""

    client: str
    request: int
    number: int
    sent: float
    deadline: float
    reply: asyncio.Future[str] = field(repr=False)


Handler = Callable[[Attempt], Awaitable[None]]
"""The work for one attempt (the harness's fake: a sleep of the current service time)."""


@dataclass(frozen=True)
class Settings:
    workers: int = 1
    timeout: float = 0.5  # how long a client waits for one attempt
    retries: int = 3  # retries after the first attempt, at most
    backoff: float = 0.05  # the first retry's backoff cap; doubles per retry (full jitter)
    budget_ratio: float = 0.1  # retries earned per first attempt
    budget_burst: float = 2.0  # the retries a client may make before it has earned any
    queue_limit: int = 8  # fixed server: attempts waiting at most


class Server:
    """Broken: an unbounded FIFO queue; every attempt is served, waited for or not."""

    def __init__(self, handler: Handler, settings: Settings) -> None:
        self.handler = handler
        self.settings = settings
        self.queue: deque[Attempt] = deque()
        self.ready = asyncio.Event()
        self.workers: list[asyncio.Task[None]] = []

    def submit(self, attempt: Attempt) -> None:
        if not self.workers:  # started by the first request, on the loop that serves it
            loop = asyncio.get_running_loop()
            self.workers = [loop.create_task(self._work(), name=f"worker{i}") for i in range(self.settings.workers)]
        self.queue.append(attempt)
        self.ready.set()

    async def _work(self) -> None:
        while True:
            while not self.queue:
                self.ready.clear()
                await self.ready.wait()
            attempt = self.queue.popleft()
            if self.admit(attempt):
                await self.handler(attempt)
                if not attempt.reply.done():
                    attempt.reply.set_result("ok")

    def admit(self, attempt: Attempt) -> bool:
        """Serve this attempt now that a worker took it?"""
        return True


class SheddingServer(Server):
    """Fixed: a bounded queue answers Overloaded at once; an expired attempt is dropped, not served."""

    def submit(self, attempt: Attempt) -> None:
        if len(self.queue) >= self.settings.queue_limit:
            attempt.reply.set_exception(Overloaded(f"{len(self.queue)} attempts queued"))
            return
        super().submit(attempt)

    def admit(self, attempt: Attempt) -> bool:
        return asyncio.get_running_loop().time() < attempt.deadline


class Client:
    """Broken: retries at once when an attempt times out or is refused."""

    def __init__(self, name: str, server: Server, settings: Settings) -> None:
        self.name = name
        self.server = server
        self.settings = settings
        self.rng = random.Random(f"retry_storm/{name}")  # the jitter: seeded, the same in every run
        self.requests = 0

    async def request(self) -> str:
        """One request: the first attempt and the retries the policy allows; raises Failed."""
        loop = asyncio.get_running_loop()
        number = self.requests
        self.requests += 1
        for k in range(self.settings.retries + 1):
            if k and not await self.before_retry(k):
                break
            now = loop.time()
            attempt = Attempt(self.name, number, k, now, now + self.settings.timeout, loop.create_future())
            self.server.submit(attempt)
            try:
                return await asyncio.wait_for(attempt.reply, self.settings.timeout)
            except (TimeoutError, Overloaded):
                continue
        raise Failed(f"{self.name}'s request {number} failed")

    async def before_retry(self, k: int) -> bool:
        """Wait before retry ``k`` (1-based); False: give up instead."""
        return True


class BackoffClient(Client):
    """Broken: exponential backoff with full jitter - fewer collisions, as many retries."""

    async def before_retry(self, k: int) -> bool:
        await asyncio.sleep(self.rng.uniform(0.0, self.settings.backoff * 2 ** (k - 1)))
        return True


class BudgetClient(BackoffClient):
    """Fixed: backoff with jitter, and a retry budget - a retry spends a token a first attempt earned."""

    def __init__(self, name: str, server: Server, settings: Settings) -> None:
        super().__init__(name, server, settings)
        self.tokens = settings.budget_burst

    async def request(self) -> str:
        self.tokens = min(self.tokens + self.settings.budget_ratio, self.settings.budget_burst)
        return await super().request()

    async def before_retry(self, k: int) -> bool:
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0  # spent before the backoff: no other request of this client can take it meanwhile
        return await super().before_retry(k)


@dataclass(frozen=True)
class Config:
    """What a variant is made of: the server and the client classes."""

    server: type[Server]
    client: type[Client]

    def build(self, handler: Handler, settings: Settings, clients: list[str]) -> tuple[Server, dict[str, Client]]:
        """The server (its workers start with the first request) and one client per name."""
        server = self.server(handler, settings)
        return server, {name: self.client(name, server, settings) for name in clients}


def _config(server: type[Server], client: type[Client]) -> Callable[[], Any]:
    return lambda: Config(server, client)


SYSTEM = System(
    name="retry_storm",
    summary="Clients retrying a queueing server: does the overload outlive its trigger?",
    kind="aio",
    variants=[
        Variant("immediate", _config(Server, Client), expect="violation", property="recovers_after_spike",
                bug="every timed-out attempt is retried at once and the server serves every queued attempt, "
                    "waited for or not: after the spike, each request costs 1 + retries attempts, above "
                    "capacity, so the queue never drains"),
        Variant("backoff_only", _config(Server, BackoffClient), expect="violation", property="recovers_after_spike",
                bug="exponential backoff with jitter spreads the retries out but makes just as many: the "
                    "amplification that keeps the queue longer than the timeout is unchanged"),
        Variant("budget_and_shedding", _config(SheddingServer, BudgetClient), expect="correct"),
    ],
    properties=("recovers_after_spike", "retries_within_budget", "budget_followed", "attempts_well_formed",
                "no_work_past_deadline", "queue_bounded", "workers_alive"),
)
