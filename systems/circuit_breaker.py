"""Circuit breaker: stop calling a failing dependency, probe it, resume when it is back.

Two parts, as in most libraries (resilience4j's ``CircuitBreaker`` +
decorators, pybreaker's state objects + ``call``):

* a :class:`Breaker` - the synchronous state machine: ``acquire()`` gives
  a :class:`Permit` or None (rejected), ``release(permit, ok)`` records
  how the admitted call went.  Closed admits everyone and opens after
  ``threshold`` consecutive failures; open rejects for ``cooldown_ms``; then
  the next ``acquire`` turns it half-open, where at most ``probes`` calls
  are let through - the first to succeed closes it, the first to fail
  reopens it.  A permit carries the *epoch* (mode changes so far) it was
  issued in, so a late result of a call admitted before a mode change is
  ignored.  Exactly ``racekit.models.CircuitBreakerSpec``.
* a :class:`Guarded` call - the asyncio side: ``await guarded.call(fn)``
  takes a permit, awaits ``fn()`` under a timeout and releases the permit
  with the outcome, or raises :class:`BreakerOpen`.

The clock is injected (``clock() -> ms``): the loop's virtual time under
racekit.aio (stateful_tests/test_circuit_breaker.py), the same classes in
the benchmark.

Variants:

* ``half_open_race`` (broken): half-open is a mode, not a gate - every
  call that arrives while the first probe is out goes through too, so a
  dependency that is just coming back gets the whole backlog at once;
* ``leaks_probe`` (broken): the guarded call releases its permit in
  ``except Exception`` - but a *cancelled* call (the caller's own deadline,
  a sibling's failure in a TaskGroup) raises ``CancelledError``, a
  ``BaseException`` since Python 3.8.  The permit is never given back: a
  probe cancelled while half-open holds the only probe slot forever, and
  the breaker never closes again, however healthy the dependency is;
* ``per_spec`` (fixed): the spec's breaker, and a guarded call that
  releases in ``finally`` - success only when ``fn()`` returned; an error,
  a timeout and a cancellation are failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant

Clock = Callable[[], int]


@dataclass(frozen=True)
class Permit:
    """Leave to make one call: ``kind`` closed or probe, issued in ``epoch``."""

    kind: str
    epoch: int


class BreakerOpen(Exception):
    """Rejected by the breaker: the dependency was not called."""


class Breaker:
    """Fixed: closed / open / half-open exactly per ``CircuitBreakerSpec``."""

    def __init__(self, clock: Clock, threshold: int = 3, cooldown_ms: int = 1000, probes: int = 1) -> None:
        self.clock = clock
        self.threshold = threshold
        self.cooldown_ms = cooldown_ms
        self.max_probes = probes
        self.mode = "closed"
        self.failures = 0
        self.opened_at = 0
        self.probes = 0
        self.epoch = 0

    def acquire(self) -> Permit | None:
        if self.mode == "open" and self.clock() - self.opened_at >= self.cooldown_ms:
            self._enter("half_open")
        if self.mode == "closed":
            return Permit("closed", self.epoch)
        if self.mode == "half_open" and self.probes < self.max_probes:
            self.probes += 1
            return Permit("probe", self.epoch)
        return None

    def release(self, permit: Permit, ok: bool) -> None:
        if permit.epoch != self.epoch:
            return  # admitted before the last mode change: its outcome says nothing now
        if self.mode == "closed":
            if ok:
                self.failures = 0
            else:
                self.failures += 1
                if self.failures >= self.threshold:
                    self._enter("open")
        elif self.mode == "half_open":
            self._enter("closed" if ok else "open")

    def _enter(self, mode: str) -> None:
        self.mode = mode
        self.epoch += 1
        self.failures = 0
        self.probes = 0
        if mode == "open":
            self.opened_at = self.clock()


class HalfOpenRace(Breaker):
    """Broken: half-open lets everyone through until the first probe answers."""

    def acquire(self) -> Permit | None:
        if self.mode == "open" and self.clock() - self.opened_at >= self.cooldown_ms:
            self._enter("half_open")
        if self.mode == "closed":
            return Permit("closed", self.epoch)
        if self.mode == "half_open":
            self.probes += 1
            return Permit("probe", self.epoch)
        return None


class Guarded:
    """Fixed: ``await call(fn)`` through the breaker; the permit is released however the call ends."""

    def __init__(self, breaker: Breaker, timeout: float) -> None:
        self.breaker = breaker
        self.timeout = timeout

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        permit = self.breaker.acquire()
        if permit is None:
            raise BreakerOpen("the circuit is open")
        ok = False
        try:
            result = await asyncio.wait_for(fn(), self.timeout)
            ok = True
            return result
        finally:  # returned, raised, timed out - or cancelled by the caller
            self.breaker.release(permit, ok)


class LeakyGuarded(Guarded):
    """Broken: releases in ``except Exception`` - a cancelled call never gives its permit back."""

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        permit = self.breaker.acquire()
        if permit is None:
            raise BreakerOpen("the circuit is open")
        try:
            result = await asyncio.wait_for(fn(), self.timeout)
        except Exception:
            self.breaker.release(permit, False)
            raise
        self.breaker.release(permit, True)
        return result


@dataclass(frozen=True)
class Config:
    """What a variant is made of: the breaker and the guarded-call wrapper."""

    breaker: type[Breaker]
    guarded: type[Guarded]

    def build(self, clock: Clock, *, threshold: int, cooldown_ms: int, probes: int, timeout: float) -> Guarded:
        return self.guarded(self.breaker(clock, threshold, cooldown_ms, probes), timeout)


SYSTEM = System(
    name="circuit_breaker",
    summary="A circuit breaker around an asyncio dependency call: closed, open, half-open",
    kind="aio",
    variants=[
        Variant("half_open_race", lambda: Config(HalfOpenRace, Guarded), expect="violation",
                property="at_most_k_probes",
                bug="half-open is a mode, not a gate: every call arriving while the first probe is out "
                    "is let through as another probe"),
        Variant("leaks_probe", lambda: Config(Breaker, LeakyGuarded), expect="violation",
                property="closes_when_healthy",
                bug="the permit is released in `except Exception`; a cancelled call raises CancelledError "
                    "(a BaseException), so a probe cancelled by its caller holds the only probe slot "
                    "forever and the breaker never closes again"),
        Variant("per_spec", lambda: Config(Breaker, Guarded), expect="correct"),
    ],
    properties=("matches_spec", "at_most_k_probes", "opens_after_threshold", "closes_when_healthy"),
)
