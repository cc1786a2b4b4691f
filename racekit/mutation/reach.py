"""Which code of a system module belongs to one variant: static reachability.

A system module holds every variant; a mutant of a broken variant's class
tells nothing (that variant is expected to fail anyway), and one in a
method the fixed variant never calls is equivalent by construction.  So the
mutants of a fixed variant come only from the functions it can reach:

1. **Roots** - what the variant's factory names: the class or function
   itself, the names a ``lambda`` factory's code loads, the classes and
   functions held in its closure (``_factory(RcuCache)``); plus what the
   system's engine driver (``stateful_tests/test_<id>.py``) takes from the
   module - ``module.attr`` accesses and worker targets spelled
   ``"systems.<id>:fn"`` / ``f"{TARGET}:fn"`` (real-process systems call
   their code through such names).  ``SYSTEM`` itself is not a root.
2. **Closure** - every module-level name loaded by reachable code is
   reachable.  For a class used directly (instantiated, subclassed by a
   root...), each method is taken *as Python resolves it* on that class:
   walking the real ``__mro__``, the first definition is reachable; a
   base-class definition only when the override calls ``super()``.  So a
   fixed subclass's overridden base methods are not mutated.

What static reachability cannot see - a branch taken only for another
variant's configuration (``if self.config.charge_first:``) - is left to
the coverage pass (:mod:`racekit.mutation.coverage`).
"""

from __future__ import annotations

import ast
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_TARGET = re.compile(r":(\w+)$")


@dataclass(frozen=True)
class Reachable:
    """The functions (qualname -> node) and module-level assignments a variant reaches."""

    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]
    assignments: dict[str, ast.Assign]


def top_level(tree: ast.Module) -> dict[str, ast.AST]:
    """Module-level definitions by name: functions, classes, simple assignments."""
    defs: dict[str, ast.AST] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defs[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                if isinstance(t, ast.Name):
                    defs[t.id] = stmt
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            defs[stmt.target.id] = stmt
    return defs


def _loaded_names(node: ast.AST) -> Iterator[str]:
    for cur in ast.walk(node):
        if isinstance(cur, ast.Name) and isinstance(cur.ctx, ast.Load):
            yield cur.id


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def factory_roots(factory: Callable[..., Any], module: types.ModuleType) -> set[str]:
    """Module-level names a variant's factory stands for."""
    roots: set[str] = set()

    def own(obj: Any) -> str | None:
        name = getattr(obj, "__qualname__", None)
        if getattr(obj, "__module__", None) == module.__name__ and isinstance(name, str) and "<" not in name:
            return name.split(".")[0]
        return None

    direct = own(factory)
    if direct is not None:
        return {direct}
    code = getattr(factory, "__code__", None)
    if isinstance(code, types.CodeType):
        roots.update(n for n in _code_names(code) if hasattr(module, n))
    for cell in getattr(factory, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        name = own(value)
        if name is not None:
            roots.add(name)
    for default in getattr(factory, "__defaults__", None) or ():
        name = own(default)
        if name is not None:
            roots.add(name)
    return roots


def driver_roots(driver_source: str, module_name: str, defs: dict[str, ast.AST]) -> set[str]:
    """What the engine driver module takes from the system module (attributes and worker targets)."""
    tree = ast.parse(driver_source)
    package, _, short = module_name.rpartition(".")
    aliases: set[str] = set()
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            aliases.update(a.asname or a.name for a in node.names if a.name == short)
        elif isinstance(node, ast.ImportFrom) and node.module == module_name:
            roots.update(a.name for a in node.names if a.name in defs)
        elif isinstance(node, ast.Import):
            aliases.update(a.asname for a in node.names if a.name == module_name and a.asname)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if node.attr in defs:
                roots.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            m = _TARGET.search(node.value)
            if m and m.group(1) in defs:
                roots.add(m.group(1))
    roots.discard("SYSTEM")
    return roots


def _uses_super(fn: ast.AST) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super":
            return True
    return False


def _class_nodes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}


def _methods(cls: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {s.name: s for s in cls.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)}


def reachable(tree: ast.Module, module: types.ModuleType, roots: set[str]) -> Reachable:
    """Close ``roots`` over loaded names and method resolution (see the module docstring)."""
    defs = top_level(tree)
    classes = _class_nodes(tree)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    assignments: dict[str, ast.Assign] = {}
    done: set[str] = set()
    todo = sorted(r for r in roots if r in defs)

    def visit_code(node: ast.AST) -> None:
        for name in _loaded_names(node):
            if name in defs and name not in done and name != "SYSTEM":
                todo.append(name)

    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        node = defs[name]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[name] = node
            visit_code(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            if isinstance(node, ast.Assign):
                assignments[name] = node
            if node.value is not None:
                visit_code(node.value)
        elif isinstance(node, ast.ClassDef):
            for deco in node.decorator_list:
                visit_code(deco)
            live = getattr(module, name, None)
            mro = [c for c in getattr(live, "__mro__", ()) if getattr(c, "__module__", None) == module.__name__]
            for klass in mro:
                cnode = classes.get(klass.__name__)
                if cnode is None:
                    continue
                for stmt in cnode.body:  # class-level attributes (constants, nested helpers)
                    if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                        visit_code(stmt)
            resolved: set[str] = set()
            for klass in mro:
                cnode = classes.get(klass.__name__)
                if cnode is None:
                    continue
                for mname, fn in _methods(cnode).items():
                    if mname in resolved:
                        continue
                    functions[f"{cnode.name}.{mname}"] = fn
                    visit_code(fn)
                    if not _uses_super(fn):
                        resolved.add(mname)
    return Reachable(dict(sorted(functions.items(), key=lambda kv: kv[1].lineno)), assignments)


def variant_code(tree: ast.Module, module: types.ModuleType, factory: Callable[..., Any], driver_source: str | None) -> Reachable:
    """The reachable functions of one variant (see the module docstring)."""
    defs = top_level(tree)
    roots = factory_roots(factory, module)
    if driver_source is not None:
        roots |= driver_roots(driver_source, module.__name__, defs)
    return reachable(tree, module, roots)


def everything(tree: ast.Module) -> Reachable:
    """Every module-level function and method, and every module-level assignment, as reachable.

    For mutating a file that is not a catalogue system (tests, a user's own module).
    """
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[stmt.name] = stmt
        elif isinstance(stmt, ast.ClassDef):
            for name, fn in _methods(stmt).items():
                functions[f"{stmt.name}.{name}"] = fn
    assignments = {k: v for k, v in top_level(tree).items() if isinstance(v, ast.Assign)}
    return Reachable(functions, assignments)
