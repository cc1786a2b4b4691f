"""Timeout propagation: a request crosses a chain of services; the caller's deadline must travel with it.

A request enters at the first :class:`Hop` and goes down a chain (a
frontend, a service, a database...): each hop does its own work, then
calls the next and waits for it.  Hops call each other through a
:class:`Transport`, as separate services do over the network: the callee
runs in its own task, and whether it hears that its caller gave up is the
transport's business (HTTP/1.1 without a closed-connection check: no; gRPC:
a cancelled call cancels the server's context).

The work itself is injected (``Work``: the harness's fake, a sleep of the
hop's latency that logs when it starts and ends), the same in the search
(stateful_tests/test_timeout_propagation.py) and the benchmark.

Variants:

* ``fixed_timeouts`` (broken): every hop waits ``hop_timeout`` for the one
  below it, whatever the caller allowed - the timeouts add up to more than
  the caller's deadline, so the answer comes late; and a hop that times out
  walks away from a callee that keeps working;
* ``deadline_no_cancel`` (broken): the absolute deadline is passed down
  and every hop bounds its work and its waits by it, so nothing runs past
  the deadline and the answer comes in time - but the transport does not
  tell a callee that its caller left *before* the deadline (the user hung
  up, a hedged request won elsewhere, a sibling in a fan-out failed): the
  whole chain below works on, until the deadline, for nobody;
* ``deadline_and_cancel`` (fixed): the deadline passed down; a hop whose
  deadline has passed begins no work and answers :class:`DeadlineExceeded`;
  its own work and its waits are bounded by the deadline
  (``asyncio.timeout_at``); and the transport cancels the callee's task
  when its caller stops waiting - real asyncio cancellation, so the
  callee's wait and its callee are cancelled in turn, down the chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant


class DeadlineExceeded(Exception):
    """The caller's deadline passed: the request was not (fully) served."""


@dataclass(frozen=True)
class Request:
    """What travels down the chain: an id and, where propagated, the absolute deadline."""

    id: str
    deadline: float | None


Work = Callable[[str, Request], Awaitable[None]]
"""One hop's own work for a request (the harness's fake)."""


class Transport:
    """Broken: the callee runs in its own task and never hears that its caller stopped waiting."""

    async def call(self, hop: Hop, request: Request, timeout: float | None = None) -> str:
        task = asyncio.get_running_loop().create_task(hop.handle(request), name=f"{hop.name}:{request.id}")
        try:
            return await asyncio.wait_for(self.detach(task), timeout)
        except TimeoutError:
            raise DeadlineExceeded(f"{hop.name} did not answer within {timeout}s") from None

    def detach(self, task: asyncio.Task[str]) -> Awaitable[str]:
        """What the caller awaits: the callee's answer, shielded from the caller's cancellation -
        as over a connection whose other end never checks whether anyone still listens."""
        return asyncio.shield(task)


class CancellingTransport(Transport):
    """Fixed: when the caller stops waiting - its deadline, or it was cancelled - the callee is cancelled."""

    def detach(self, task: asyncio.Task[str]) -> Awaitable[str]:
        return task  # awaited directly: cancelling the caller's wait cancels the task, down the chain


class Hop:
    """Broken: waits a fixed ``hop_timeout`` for the next hop, whatever its caller allowed."""

    def __init__(self, name: str, work: Work, below: Hop | None, transport: Transport, hop_timeout: float) -> None:
        self.name = name
        self.work = work
        self.below = below
        self.transport = transport
        self.hop_timeout = hop_timeout

    async def handle(self, request: Request) -> str:
        await self.work(self.name, request)
        if self.below is None:
            return self.name
        answer = await self.transport.call(self.below, Request(request.id, None), self.hop_timeout)
        return f"{self.name}>{answer}"


class DeadlineHop(Hop):
    """The deadline passed down: no work begun after it, everything (own work, waits) bounded by it."""

    async def handle(self, request: Request) -> str:
        deadline = request.deadline
        assert deadline is not None, "a deadline hop needs a request with a deadline"
        try:
            async with asyncio.timeout_at(deadline):
                self.check(deadline)
                await self.work(self.name, request)
                if self.below is None:
                    return self.name
                self.check(deadline)
                answer = await self.transport.call(self.below, request)
                return f"{self.name}>{answer}"
        except TimeoutError:
            raise DeadlineExceeded(f"{self.name}: the deadline passed") from None

    def check(self, deadline: float) -> None:
        """Refuse to begin work the caller will not wait for (a timer due now has not fired yet)."""
        if asyncio.get_running_loop().time() >= deadline:
            raise DeadlineExceeded(f"{self.name}: the deadline passed before the work began")


@dataclass(frozen=True)
class Config:
    """What a variant is made of: the hop class and the transport."""

    hop: type[Hop]
    transport: type[Transport]

    async def serve(self, entry: Hop, request: Request) -> str:
        """The caller's side: send ``request`` to the first hop and wait for its answer (an answer or
        DeadlineExceeded).  The caller sets no timer of its own: answering by the deadline is the
        service's promise.  Cancelling this call is the caller hanging up."""
        return await entry.transport.call(entry, request)

    @property
    def propagates_deadline(self) -> bool:
        return issubclass(self.hop, DeadlineHop)


def _config(hop: type[Hop], transport: type[Transport]) -> Callable[[], Any]:
    return lambda: Config(hop, transport)


SYSTEM = System(
    name="timeout_propagation",
    summary="A request down a chain of services: the caller's deadline passed down, work cancelled with it",
    kind="aio",
    variants=[
        Variant("fixed_timeouts", _config(Hop, Transport), expect="violation", property="answer_by_deadline",
                bug="each hop waits a fixed timeout for the next, whatever its caller allowed: the timeouts add "
                    "up past the caller's deadline, and a hop that gives up leaves its callee working"),
        Variant("deadline_no_cancel", _config(DeadlineHop, Transport), expect="violation",
                property="no_work_past_deadline",
                bug="the deadline is passed down and bounds every hop, but a callee is never told that its "
                    "caller hung up before the deadline: the chain below works on for nobody"),
        Variant("deadline_and_cancel", _config(DeadlineHop, CancellingTransport), expect="correct"),
    ],
    properties=("answer_by_deadline", "no_work_past_deadline", "hops_end_with_caller", "answers_complete",
                "served_when_it_fits"),
)
