"""What a run traces and patches, found from the code it is given.

``racekit.explore(setup, threads, check)`` must trace the code under test and
swap its ``threading``/``queue``/``time`` for racekit's.  Deciding that
through ``inspect.getmodule`` needs the module in ``sys.modules``, which code
loaded with ``importlib.util.spec_from_file_location`` + ``exec_module``,
``exec`` of a string, a notebook cell or pytest's importlib mode is not - and
then nothing was traced and a lost update came back "clean".

A function carries all that is needed: ``__code__.co_filename`` says what to
trace and ``__globals__`` is the namespace to patch.  So the scope is the
user code reachable from the given callables (closures, partials, bound
methods, classes and their methods), plus the user code their namespaces
name (one more level: helper classes and modules), never the standard
library, installed packages or racekit itself.  Code with no file to read
(``exec`` of a string, ``<stdin>``) is registered with the tracer by code
object, so only that code - not every ``"<string>"`` code object, such as a
dataclass's generated ``__init__`` - is traced.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from racekit.sched.tracing import register_code

_RACEKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_SYSTEM_DIRS = tuple(
    sorted(
        {
            os.path.abspath(p) + os.sep
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        }
    )
)


@dataclass(frozen=True)
class Scope:
    """Files to trace and module namespaces to patch for one program."""

    files: frozenset[str]
    namespaces: tuple[dict[str, Any], ...]


def is_user_file(filename: str) -> bool:
    """Code of the user's own, as opposed to the standard library, installed
    packages, racekit, or frozen modules."""
    if filename.startswith("<frozen") or not filename:
        return False
    if filename.startswith("<"):
        return True  # exec'd strings, <stdin>, notebook cells
    path = os.path.abspath(filename)
    return not path.startswith(_RACEKIT_DIR) and not path.startswith(_SYSTEM_DIRS)


def _functions(obj: Any, depth: int = 0) -> Iterable[types.FunctionType]:
    """The Python functions behind a callable or class (methods included)."""
    if depth > 3:
        return
    if isinstance(obj, types.FunctionType):
        yield obj
        for cell in obj.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, types.FunctionType | type | functools.partial | types.MethodType):
                yield from _functions(value, depth + 1)
    elif isinstance(obj, types.MethodType):
        yield from _functions(obj.__func__, depth + 1)
        yield from _functions(type(obj.__self__), depth + 1)
    elif isinstance(obj, functools.partial):
        yield from _functions(obj.func, depth + 1)
        for arg in (*obj.args, *obj.keywords.values()):
            if callable(arg):
                yield from _functions(arg, depth + 1)
    elif isinstance(obj, staticmethod | classmethod):
        yield from _functions(obj.__func__, depth + 1)
    elif isinstance(obj, property):
        for f in (obj.fget, obj.fset, obj.fdel):
            if f is not None:
                yield from _functions(f, depth + 1)
    elif isinstance(obj, type):
        for klass in obj.__mro__:
            if klass.__module__ == "builtins" or not _user_module(klass.__module__):
                continue
            for member in vars(klass).values():
                if isinstance(member, types.FunctionType | staticmethod | classmethod | property):
                    yield from _functions(member, depth + 1)
    elif callable(obj) and not isinstance(obj, types.BuiltinFunctionType | types.BuiltinMethodType):
        call = vars(type(obj)).get("__call__")
        if isinstance(call, types.FunctionType):
            yield from _functions(type(obj), depth + 1)


def _user_module(name: str) -> bool:
    """A class's module is the user's (or has no file: exec'd, a notebook).

    Checked by module, not by each method's ``co_filename``: a NamedTuple's
    generated ``__new__`` has the file ``"<string>"`` whichever module made it,
    so racekit's own ``Access`` (imported by a test) had its constructor traced
    and registered for the rest of the process - and every later DPOR search
    switched inside the scheduler's own bookkeeping."""
    module = sys.modules.get(name)
    filename = getattr(module, "__file__", None)
    return not filename or is_user_file(filename)


def scope_of(*callables: Callable[..., Any] | None) -> Scope:
    """The scope of the user code reachable from ``callables``."""
    files: set[str] = set()
    namespaces: dict[int, dict[str, Any]] = {}
    pseudo: dict[str, list[types.CodeType]] = {}

    def add(fn: types.FunctionType) -> dict[str, Any] | None:
        filename = fn.__code__.co_filename
        if not is_user_file(filename):
            return None
        files.add(filename)
        if _no_source(filename):
            pseudo.setdefault(filename, []).append(fn.__code__)
        g = fn.__globals__
        namespaces.setdefault(id(g), g)
        return g

    first: list[dict[str, Any]] = []
    for c in callables:
        if c is None:
            continue
        for fn in _functions(c):
            g = add(fn)
            if g is not None and all(g is not x for x in first):
                first.append(g)
    # One more level: what the first namespaces name at module level.
    for g in first:
        for value in list(g.values()):
            if isinstance(value, types.ModuleType):
                ns = vars(value)
                f = getattr(value, "__file__", None)
                if f and is_user_file(f) and id(ns) not in namespaces:
                    files.add(f)
                    namespaces[id(ns)] = ns
            elif isinstance(value, types.FunctionType | type):
                if isinstance(value, type) and value.__module__ == "builtins":
                    continue
                for fn in _functions(value):
                    add(fn)
    for filename, codes in pseudo.items():
        register_code(filename, codes)
    return Scope(frozenset(files), tuple(namespaces.values()))


def _no_source(filename: str) -> bool:
    """A file whose source the tracer cannot read back (linecache knows notebook cells)."""
    import linecache

    if filename.startswith("<") and not linecache.getlines(filename):
        return True
    return not filename.startswith("<") and not os.path.exists(filename) and not linecache.getlines(filename)
