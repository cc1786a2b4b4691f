"""Swap ``threading``/``queue``/``time`` for racekit's versions in chosen modules.

``racekit.explore`` runs plain ``threading`` code: for the duration of a run,
the globals of the modules under test that name ``threading``, ``queue`` or
``time`` (or ``Lock``, ``Condition``, ``Queue``, ``sleep`` ... imported from
them) point at racekit's schedulable versions.  Module-level lock instances
are replaced by fresh racekit locks, so a lock created at import time cannot
block the one OS thread all logical threads share.  Everything is restored
afterwards, even on error.
"""

from __future__ import annotations

import contextlib
import queue as _queue
import threading as _threading
import time as _time
import types
from collections.abc import Iterable, Iterator
from typing import Any

from racekit import sync

_THREADING_NAMES = {
    "Lock": sync.Lock,
    "RLock": sync.RLock,
    "Condition": sync.Condition,
    "Semaphore": sync.Semaphore,
    "BoundedSemaphore": sync.BoundedSemaphore,
    "Event": sync.Event,
    "Thread": sync.Thread,
}


def _shim(real: types.ModuleType, overrides: dict[str, Any]) -> types.ModuleType:
    mod = types.ModuleType(real.__name__)
    mod.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    mod.__dict__.update(overrides)
    return mod


def _make_shims() -> dict[int, types.ModuleType]:
    return {
        id(_threading): _shim(_threading, _THREADING_NAMES),
        id(_queue): _shim(_queue, {"Queue": sync.Queue}),
        id(_time): _shim(_time, {"sleep": sync.sleep, "monotonic": sync.monotonic}),
    }


_SHIMS = _make_shims()
_BY_ID: dict[int, Any] = {
    id(_threading.Lock): sync.Lock,
    id(_threading.RLock): sync.RLock,
    id(_threading.Condition): sync.Condition,
    id(_threading.Semaphore): sync.Semaphore,
    id(_threading.BoundedSemaphore): sync.BoundedSemaphore,
    id(_threading.Event): sync.Event,
    id(_threading.Thread): sync.Thread,
    id(_queue.Queue): sync.Queue,
    id(_time.sleep): sync.sleep,
    id(_time.monotonic): sync.monotonic,
}
_LOCK_TYPES = (type(_threading.Lock()), type(_threading.RLock()))


@contextlib.contextmanager
def patched(modules: Iterable[types.ModuleType]) -> Iterator[None]:
    """Point the given modules' threading names at racekit primitives."""
    saved: list[tuple[dict[str, Any], str, Any]] = []
    try:
        for mod in modules:
            g = vars(mod)
            for name, value in list(g.items()):
                replacement: Any = None
                if isinstance(value, types.ModuleType):
                    replacement = _SHIMS.get(id(value))
                elif isinstance(value, _LOCK_TYPES):
                    replacement = sync.RLock() if "RLock" in type(value).__name__ else sync.Lock()
                else:
                    try:
                        replacement = _BY_ID.get(id(value))
                    except TypeError:
                        replacement = None
                if replacement is not None:
                    saved.append((g, name, value))
                    g[name] = replacement
        yield
    finally:
        for g, name, value in reversed(saved):
            g[name] = value
