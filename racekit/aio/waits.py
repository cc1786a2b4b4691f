"""Where a task is suspended and what it waits on, in words.

A deadlock report must say who waits on what: "fetch waits on Lock
self.lock (locked) at systems/cache.py:31".  A suspended task is a chain of
coroutines ending in an ``await`` of a future; the innermost frame in the
user's code gives the line, and the innermost asyncio frame's ``self`` the
primitive (``Lock.acquire``, ``Event.wait``, ``Queue.get``,
``TaskGroup.__aexit__`` ...).  Only read when a run's story is told (a
deadlock, a detailed replay): never on the search's hot path.
"""

from __future__ import annotations

import asyncio
import os
import types
from typing import Any

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
_RACEKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def frames(task: asyncio.Task[Any]) -> list[types.FrameType]:
    """The frames of a suspended task, outermost first."""
    out: list[types.FrameType] = []
    obj: Any = task.get_coro()
    for _ in range(200):
        if obj is None:
            break
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None) or getattr(obj, "ag_frame", None)
        if frame is not None:
            out.append(frame)
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None) or getattr(obj, "ag_await", None)
    return out


def _is_user(frame: types.FrameType) -> bool:
    name = frame.f_code.co_filename
    return not (name.startswith(_ASYNCIO_DIR) or name.startswith(_RACEKIT_DIR))


def short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def where(task: asyncio.Task[Any]) -> str:
    """file:line of the innermost user frame of a suspended task ("" if none)."""
    user = [f for f in frames(task) if _is_user(f)]
    if not user:
        return ""
    f = user[-1]
    return f"{short(f.f_code.co_filename)}:{f.f_lineno}"


def waits_on(task: asyncio.Task[Any]) -> str:
    """What a suspended task waits on: a primitive with its state, a task, a timer, a future."""
    stack = frames(task)
    user = [f for f in stack if _is_user(f)]
    inner = [f for f in stack if not _is_user(f)]
    prim = inner[-1].f_locals.get("self") if inner else None
    fut = getattr(task, "_fut_waiter", None)
    names = {f.f_code.co_name for f in inner}
    if "sleep" in names or "__sleep0" in names:
        delay = next((f.f_locals.get("delay") for f in inner if f.f_code.co_name == "sleep"), None)
        return f"sleep({delay})" if fut is not None else "sleep(0): it yields to the loop"
    if prim is None or isinstance(prim, asyncio.Future):
        if isinstance(fut, asyncio.Task):
            return f"task {fut.get_name()}"
        if fut is None:
            return "nothing (ready to run)"
        children = getattr(fut, "_children", None)
        if isinstance(children, list):
            done = sum(1 for c in children if c.done())
            return f"gather ({done} of {len(children)} done)"
        if inner:
            return f"asyncio.{inner[-1].f_code.co_name.lstrip('_')}"
        return "a future"
    text = f"{type(prim).__name__}{_held_as(prim, user[-1] if user else None)}{_state(prim)}"
    return text


def _held_as(prim: Any, frame: types.FrameType | None) -> str:
    """" self.lock": the name the user's frame reaches the primitive by."""
    if frame is None:
        return ""
    for name, value in frame.f_locals.items():
        if value is prim:
            return f" {name}"
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict):
            for attr, inner in attrs.items():
                if inner is prim:
                    return f" {name}.{attr}"
    return ""


def _state(prim: Any) -> str:
    if isinstance(prim, asyncio.Lock):
        return " (locked)" if prim.locked() else " (free)"
    if isinstance(prim, asyncio.Semaphore):
        return f" (value {prim._value})"
    if isinstance(prim, asyncio.Event):
        return " (set)" if prim.is_set() else " (never set)"
    if isinstance(prim, asyncio.Queue):
        return f" ({prim.qsize()} items, maxsize {prim.maxsize})"
    if isinstance(prim, asyncio.TaskGroup):
        pending = [t.get_name() for t in getattr(prim, "_tasks", ())]
        return f" (children still running: {', '.join(pending)})" if pending else ""
    return ""


def first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def raised_at(exc: BaseException) -> str:
    """file:line of the innermost user frame of an exception's traceback."""
    tb = exc.__traceback__
    last = ""
    while tb is not None:
        if _is_user(tb.tb_frame):
            last = f"{short(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return last
