"""Bulkhead: one service calls several dependencies; a slow one must not starve the others.

A :class:`Bulkhead` sits in front of a service's outbound calls: ``await
bulkhead.call(name)`` calls dependency ``name`` (an ``async`` callable)
under a per-call ``timeout`` and returns its answer, or raises
:class:`Rejected` (no capacity) or ``TimeoutError``.  Capacity is what the
service spends on outstanding calls: connections, sockets, worker tasks,
memory for the callers parked on them.  The question is how it is shared.

The same classes run under racekit.aio with in-process dependencies on
virtual time (stateful_tests/test_bulkhead.py) and in the benchmark
(benchmarks/bulkhead.py).

Variants:

* ``shared_pool`` (broken): one ``asyncio.Semaphore`` of ``sum(limits)``
  slots for every dependency - the classic single connection / worker pool.
  A dependency that hangs holds its calls for the whole timeout, fills the
  pool, and the callers of a healthy dependency queue behind them;
* ``queues_per_dependency`` (broken): one semaphore per dependency, so the
  healthy one keeps its slots - but a full compartment *queues* its callers
  instead of refusing them: the callers of the hung dependency pile up, each
  waiting for a whole timeout per call ahead of it;
* ``per_dependency`` (fixed): a limit per dependency and immediate rejection
  when its compartment is full (``Rejected``, a fast 503), every call under
  the timeout, the slot given back however the call ends (also when the
  caller is cancelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from racekit import System, Variant

Call = Callable[[], Awaitable[Any]]


class Rejected(Exception):
    """The dependency's compartment is full: refused at once, nothing was called."""


class Bulkhead:
    """The interface every variant offers: ``await call(name)``."""

    def __init__(self, dependencies: Mapping[str, Call], limits: Mapping[str, int], timeout: float) -> None:
        self.dependencies = dict(dependencies)
        self.limits = dict(limits)
        self.timeout = timeout

    async def call(self, name: str) -> Any:
        raise NotImplementedError

    async def _timed(self, name: str) -> Any:
        return await asyncio.wait_for(self.dependencies[name](), self.timeout)


class SharedPool(Bulkhead):
    """Broken: one pool for everyone - a hung dependency's calls hold every slot."""

    def __init__(self, dependencies: Mapping[str, Call], limits: Mapping[str, int], timeout: float) -> None:
        super().__init__(dependencies, limits, timeout)
        self.pool = asyncio.Semaphore(sum(self.limits.values()))

    async def call(self, name: str) -> Any:
        async with self.pool:
            return await self._timed(name)


class QueuesPerDependency(Bulkhead):
    """Broken: a compartment per dependency, but a full one makes its callers wait."""

    def __init__(self, dependencies: Mapping[str, Call], limits: Mapping[str, int], timeout: float) -> None:
        super().__init__(dependencies, limits, timeout)
        self.compartments = {name: asyncio.Semaphore(n) for name, n in self.limits.items()}

    async def call(self, name: str) -> Any:
        async with self.compartments[name]:
            return await self._timed(name)


class PerDependency(Bulkhead):
    """Fixed: a compartment per dependency; full means rejected now, not later."""

    def __init__(self, dependencies: Mapping[str, Call], limits: Mapping[str, int], timeout: float) -> None:
        super().__init__(dependencies, limits, timeout)
        self.active = dict.fromkeys(self.limits, 0)

    async def call(self, name: str) -> Any:
        if self.active[name] >= self.limits[name]:
            raise Rejected(f"{name}: {self.active[name]} of {self.limits[name]} calls in flight")
        # no await between the check and the increment: no other task runs in between
        self.active[name] += 1
        try:
            return await self._timed(name)
        finally:  # returned, raised, timed out or cancelled: the slot comes back
            self.active[name] -= 1


def _bulkhead(cls: type[Bulkhead]) -> Callable[[Mapping[str, Call], Mapping[str, int], float], Bulkhead]:
    return lambda dependencies, limits, timeout: cls(dependencies, limits, timeout)


SYSTEM = System(
    name="bulkhead",
    summary="Outbound calls to several dependencies: a slow one must not starve the healthy ones",
    kind="aio",
    variants=[
        Variant("shared_pool", _bulkhead(SharedPool), expect="violation", property="healthy_within_bound",
                bug="one pool for every dependency: a hung dependency's calls hold all the slots for their "
                    "whole timeout and the healthy dependency's callers queue behind them"),
        Variant("queues_per_dependency", _bulkhead(QueuesPerDependency), expect="violation",
                property="answer_within_timeout",
                bug="a compartment per dependency, but a full one queues its callers instead of rejecting "
                    "them: each waits a whole timeout per call ahead of it"),
        Variant("per_dependency", _bulkhead(PerDependency), expect="correct"),
    ],
    properties=("healthy_within_bound", "answer_within_timeout", "limit_respected", "no_needless_rejection"),
)
