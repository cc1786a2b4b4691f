"""Swap ``threading``/``queue``/``time``/``concurrent.futures`` for racekit's versions in chosen modules.

``racekit.explore`` runs plain ``threading`` code: for the duration of a run,
the globals of the code under test (its modules' namespaces, found from the
functions themselves by :mod:`racekit.sched.scope`) that name ``threading``,
``queue``, ``time``, ``concurrent.futures`` - or ``Lock``, ``Condition``,
``Queue``, ``sleep``, ``ThreadPoolExecutor`` ... imported from them - point
at racekit's schedulable versions.  Module-level instances of real locks,
events, semaphores, queues and ``threading.local`` are replaced by fresh
racekit ones with the same state, so an object created at import time cannot
block the one OS thread all logical threads share.

An ``import threading`` *inside a function* of that code runs while the run
is on, so ``__import__`` is wrapped for the duration: code whose globals are
in the patched set gets the racekit shims from it; everyone else gets the
real modules.  Everything is restored afterwards, even on error.
"""

from __future__ import annotations

import builtins
import concurrent
import concurrent.futures as _futures
import contextlib
import operator
import queue as _queue
import threading as _threading
import time as _time
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from racekit import futures, sync
from racekit.thread_local import local

_THREADING_NAMES: dict[str, Any] = {
    "Lock": sync.Lock,
    "RLock": sync.RLock,
    "Condition": sync.Condition,
    "Semaphore": sync.Semaphore,
    "BoundedSemaphore": sync.BoundedSemaphore,
    "Event": sync.Event,
    "Thread": sync.Thread,
    "Timer": sync.Timer,
    "Barrier": sync.Barrier,
    "local": local,
    "current_thread": sync.current_thread,
    "get_ident": sync.get_ident,
    "get_native_id": sync.get_ident,
}
_QUEUE_NAMES: dict[str, Any] = {
    "Queue": sync.Queue,
    "LifoQueue": sync.LifoQueue,
    "PriorityQueue": sync.PriorityQueue,
    "SimpleQueue": sync.SimpleQueue,
}
_TIME_NAMES: dict[str, Any] = {
    "sleep": sync.sleep,
    "monotonic": sync.monotonic,
    "monotonic_ns": sync.monotonic_ns,
    "perf_counter": sync.monotonic,
    "perf_counter_ns": sync.monotonic_ns,
    "time": sync.time,
    "time_ns": sync.time_ns,
}
_FUTURES_NAMES: dict[str, Any] = {
    "ThreadPoolExecutor": futures.ThreadPoolExecutor,
    "Future": futures.Future,
    "wait": futures.wait,
    "as_completed": futures.as_completed,
}


def _shim(real: types.ModuleType, overrides: dict[str, Any]) -> types.ModuleType:
    mod = types.ModuleType(real.__name__)
    mod.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    mod.__dict__.update(overrides)
    return mod


_FUTURES_SHIM = _shim(_futures, _FUTURES_NAMES)
_SHIMS: dict[int, types.ModuleType] = {
    id(_threading): _shim(_threading, _THREADING_NAMES),
    id(_queue): _shim(_queue, _QUEUE_NAMES),
    id(_time): _shim(_time, _TIME_NAMES),
    id(_futures): _FUTURES_SHIM,
    id(concurrent): _shim(concurrent, {"futures": _FUTURES_SHIM}),
}
_REAL_BY_NAME = {"threading": _threading, "queue": _queue, "time": _time, "concurrent.futures": _futures}

# Objects imported by name (``from threading import Lock``) -> racekit's.
_BY_ID: dict[int, Any] = {}
for _real, _names in ((_threading, _THREADING_NAMES), (_queue, _QUEUE_NAMES), (_time, _TIME_NAMES), (_futures, _FUTURES_NAMES)):
    for _name, _ours in _names.items():
        _BY_ID[id(getattr(_real, _name))] = _ours

_LOCK = type(_threading.Lock())
_RLOCK = type(_threading.RLock())


def _replacement(value: Any) -> Any:
    """A racekit object standing in for a real one made at import time (None: keep it)."""
    kind = type(value)
    if kind is _LOCK:
        return sync.Lock()
    if kind is _RLOCK:
        return sync.RLock()
    if kind is _threading.local:
        return local()
    if kind is _threading.Event:
        return sync.Event()  # each run starts unset, as a module-level event is made
    if kind in (_threading.Semaphore, _threading.BoundedSemaphore):
        return (sync.BoundedSemaphore if kind is _threading.BoundedSemaphore else sync.Semaphore)(value._value)
    if kind is _queue.Queue:
        return sync.Queue(value.maxsize)  # each run starts empty
    return None


_LOCAL_SUBCLASSES: dict[type, type] = {}


def _local_subclass(cls: type) -> type | None:
    """``class Ctx(threading.local)`` made at import: the same class on racekit's local."""
    if cls is _threading.local or not issubclass(cls, _threading.local):
        return None
    ours = _LOCAL_SUBCLASSES.get(cls)
    if ours is None:
        body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
        ours = _LOCAL_SUBCLASSES[cls] = type(cls.__name__, (local,), body)
    return ours


def _replace(value: Any) -> Any:
    if isinstance(value, types.ModuleType):
        return _SHIMS.get(id(value))
    try:
        replacement = _BY_ID.get(id(value))
    except TypeError:
        replacement = None
    if replacement is None:
        replacement = _local_subclass(value) if isinstance(value, type) else _replacement(value)
    return replacement


# namespace id -> (its values when scanned, the (name, value) pairs that need
# replacing): a search patches the same namespaces thousands of times, and
# comparing values by identity is far cheaper than classifying them again
_SCANS: dict[int, tuple[tuple[Any, ...], list[tuple[str, Any]]]] = {}


def _candidates(g: Mapping[str, Any]) -> list[tuple[str, Any]]:
    values = tuple(g.values())
    scan = _SCANS.get(id(g))
    if scan is not None and len(scan[0]) == len(values) and all(map(operator.is_, scan[0], values)):
        return scan[1]
    found = [(name, value) for name, value in list(g.items()) if _replace(value) is not None]
    if len(_SCANS) > 256:
        _SCANS.clear()
    _SCANS[id(g)] = (values, found)
    return found


@contextlib.contextmanager
def patched(modules: Iterable[types.ModuleType | Mapping[str, Any]]) -> Iterator[None]:
    """Point the given namespaces' threading names at racekit's versions.

    ``modules``: module objects or namespaces (a function's ``__globals__``).
    """
    saved: list[tuple[Any, str, Any]] = []
    namespaces: dict[int, Any] = {}
    for mod in modules:
        g = vars(mod) if isinstance(mod, types.ModuleType) else mod
        namespaces[id(g)] = g
    real_import = builtins.__import__
    try:
        for g in namespaces.values():
            for name, value in _candidates(g):
                replacement = _replace(value)
                if replacement is not None:
                    saved.append((g, name, value))
                    g[name] = replacement
        if namespaces:
            builtins.__import__ = _importer(real_import, namespaces)
        yield
    finally:
        builtins.__import__ = real_import
        for g, name, value in reversed(saved):
            g[name] = value


def _importer(real_import: Any, namespaces: dict[int, Any]) -> Any:
    """``__import__`` that hands the patched code racekit's modules."""

    def racekit_import(
        name: str,
        globals: Mapping[str, Any] | None = None,  # noqa: A002 - __import__'s own parameter names
        locals: Mapping[str, Any] | None = None,  # noqa: A002
        fromlist: tuple[str, ...] | list[str] | None = (),
        level: int = 0,
    ) -> Any:
        module = real_import(name, globals, locals, fromlist, level)
        if globals is None or id(globals) not in namespaces or level != 0:
            return module
        return _SHIMS.get(id(module), module)

    return racekit_import
