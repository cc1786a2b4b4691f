"""Graceful degradation: answer within the SLA when a dependency fails, and say when the answer is degraded.

A :class:`Service` answers ``await get(key)`` from a dependency (``fetch(key)
-> (value, version)``: a profile store, a recommendations service) and
promises an answer within ``sla`` seconds.  The dependency may error, hang
or be slow.  An :class:`Answer` carries the value, the version of the data
it came from (-1: the built-in default) and whether it is *degraded* - not
the dependency's answer to this request.

The dependency is injected: the harness's fake under racekit.aio
(stateful_tests/test_graceful_degradation.py) and in the benchmark.

Variants:

* ``no_fallback`` (broken): awaits the dependency as it is - an error
  becomes the caller's error, a hang the caller's hang;
* ``stale_unmarked`` (broken): bounded by the SLA and falling back to the
  last value it saw - but a cached value is served as if fresh: the caller
  cannot tell a 10-minute-old balance from the current one;
* ``marked_fallback`` (fixed): the call under ``asyncio.timeout(sla)``;
  on any failure the newest cached value (or the default) marked degraded,
  with its version; the cache keeps the newest version seen, so a slow
  call that answers late cannot replace newer data with older.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from racekit import System, Variant

Fetch = Callable[[Hashable], Awaitable[tuple[str, int]]]

DEFAULT = "(default)"


@dataclass(frozen=True)
class Answer:
    value: str
    version: int  # the data's version; -1 for the default
    degraded: bool  # True: not the dependency's answer to this request (cached or default)


class Service:
    """Broken: the dependency's failure is the caller's failure."""

    def __init__(self, fetch: Fetch, sla: float) -> None:
        self.fetch = fetch
        self.sla = sla
        self.cache: dict[Hashable, tuple[str, int]] = {}

    async def get(self, key: Hashable) -> Answer:
        value, version = await self.fetch(key)
        return Answer(value, version, False)


class StaleUnmarked(Service):
    """Broken: falls back within the SLA, but serves the cached value as if it were fresh."""

    async def get(self, key: Hashable) -> Answer:
        try:
            async with asyncio.timeout(self.sla):
                value, version = await self.fetch(key)
        except Exception:  # an error or the SLA's timeout
            value, version = self.cache.get(key, (DEFAULT, -1))
            return Answer(value, version, version < 0)
        self.cache[key] = (value, version)
        return Answer(value, version, False)


class MarkedFallback(Service):
    """Fixed: within the SLA always; a fallback is marked degraded and is the newest data seen."""

    async def get(self, key: Hashable) -> Answer:
        try:
            async with asyncio.timeout(self.sla):
                value, version = await self.fetch(key)
        except Exception:  # an error or the SLA's timeout (CancelledError is not one: it propagates)
            value, version = self.cache.get(key, (DEFAULT, -1))
            return Answer(value, version, True)
        self.remember(key, value, version)
        return Answer(value, version, False)

    def remember(self, key: Hashable, value: str, version: int) -> None:
        """Keep the newest version: a slow call answering late must not replace newer data."""
        cached = self.cache.get(key)
        if cached is None or version >= cached[1]:
            self.cache[key] = (value, version)


def _service(cls: type[Service]) -> Callable[[], Any]:
    return lambda: cls


SYSTEM = System(
    name="graceful_degradation",
    summary="A service over a failing dependency: answer within the SLA, mark degraded answers",
    kind="aio",
    variants=[
        Variant("no_fallback", _service(Service), expect="violation", property="answers_within_sla",
                bug="the dependency is awaited as it is: its error is the caller's error, its hang the "
                    "caller's hang"),
        Variant("stale_unmarked", _service(StaleUnmarked), expect="violation", property="degraded_marked",
                bug="the cached fallback is served as if it were fresh: the caller cannot tell old data "
                    "from the dependency's answer"),
        Variant("marked_fallback", _service(MarkedFallback), expect="correct"),
    ],
    properties=("answers_within_sla", "degraded_marked", "fallback_newest", "fresh_when_healthy"),
)
