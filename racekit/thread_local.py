"""``threading.local`` for logical threads.

Logical threads are greenlets on one OS thread, so a real
``threading.local`` gives them all the same namespace: a request context
stored by one logical thread is read by another, and correct code fails
(a false alarm).  :class:`local` keeps one namespace per *logical* thread
while a controlled run is active, and one per OS thread otherwise, so the
same code runs for real in production and benchmarks.

As in CPython, a subclass's ``__init__`` runs again, with the constructor's
arguments, the first time each thread touches the object.  Namespaces made
during a run live in the run (``Execution.objects``) and go with it; the
creating thread's namespace is the object's own.

How: every attribute access points the instance's ``__dict__`` at the
calling thread's namespace first (the technique of CPython's pure-Python
``_threading_local``, written here for logical threads).  Under control
that is atomic: no switch point can come between the swap and the access.
"""

from __future__ import annotations

import itertools
import threading as _threading
from typing import Any

from racekit.sched.runtime import current_execution

__all__ = ["local"]

_keys = itertools.count(1)


class _Impl:
    __slots__ = ("args", "kwargs", "key", "real", "inited")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs
        self.key = -next(_keys)  # its slot in Execution.objects: negative, primitives are positive
        self.real = _threading.local()  # per-OS-thread namespaces outside control
        self.inited = _threading.local()


def _namespace(self: local) -> dict[str, Any]:
    impl: _Impl = object.__getattribute__(self, "_local__impl")
    ex = current_execution()
    if ex is None or ex.current is None:
        ns: dict[str, Any] = impl.real.__dict__
        if not getattr(impl.inited, "done", False):
            impl.inited.done = True
            _init(self, impl, ns)
        return ns
    per_thread: dict[int, dict[str, Any]] | None = ex.objects.get(impl.key)
    if per_thread is None:
        per_thread = ex.objects[impl.key] = {}
    tid = ex.current.tid
    run_ns = per_thread.get(tid)
    if run_ns is None:
        run_ns = per_thread[tid] = {}
        _init(self, impl, run_ns)
    return run_ns


def _init(self: local, impl: _Impl, ns: dict[str, Any]) -> None:
    """A thread's first touch: run ``__init__`` again in its own namespace."""
    object.__setattr__(self, "__dict__", ns)
    init = type(self).__init__
    if init is not object.__init__:
        init(self, *impl.args, **impl.kwargs)


class local:  # noqa: N801 - named after threading.local, which it replaces
    """Thread-local data: each logical (or OS) thread sees its own attributes."""

    __slots__ = ("_local__impl", "__dict__", "__weakref__")

    def __new__(cls, *args: Any, **kwargs: Any) -> local:
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        impl = _Impl(args, kwargs)
        object.__setattr__(self, "_local__impl", impl)
        # The creating thread's namespace: type.__call__ runs __init__ in it next.
        ex = current_execution()
        if ex is None or ex.current is None:
            ns = impl.real.__dict__
            impl.inited.done = True
        else:
            ns = {}
            ex.objects.setdefault(impl.key, {})[ex.current.tid] = ns
        object.__setattr__(self, "__dict__", ns)
        return self

    def __getattribute__(self, name: str) -> Any:
        ns = _namespace(self)
        object.__setattr__(self, "__dict__", ns)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        ns = _namespace(self)
        object.__setattr__(self, "__dict__", ns)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        ns = _namespace(self)
        object.__setattr__(self, "__dict__", ns)
        object.__delattr__(self, name)
