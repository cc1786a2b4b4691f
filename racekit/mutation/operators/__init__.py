"""The operator registry: one small module per operator family.

An operator is a generator: given one function of a fixed variant's code
(:class:`Unit`), it yields :class:`Mutation` s - each a set of text edits
anchored at one AST node.  Families follow ConMAn (Bradbury, Cordy & Dingel,
"Mutation operators for concurrent Java", 2006), translated to Python's
``with``-statement locks, conditions, atomics and SQL transactions, plus the
plain operators that matter for this code (off-by-one, dropped assignment).

Operators only *propose*; :mod:`racekit.mutation.generate` keeps a mutant
only when the result compiles and differs from the original AST.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from racekit.mutation.source import Edit, Source


@dataclass(frozen=True)
class Unit:
    """One reachable function or method, with what an operator may need to know about it."""

    src: Source
    node: ast.FunctionDef | ast.AsyncFunctionDef
    qualname: str
    # module-level string constants this function reads (name -> assignment), for SQL operators
    constants: dict[str, ast.Assign] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(frozen=True)
class Mutation:
    """One proposed change: edits to the original text, anchored at ``node``."""

    node: ast.AST
    edits: tuple[Edit, ...]
    tag: str = ""  # tells apart several mutations of one node ("+1", "2", ...)
    note: str = ""  # what changed, in a few words


OperatorFn = Callable[[Unit], Iterator[Mutation]]


@dataclass(frozen=True)
class Operator:
    name: str
    family: str
    summary: str
    fn: OperatorFn


REGISTRY: dict[str, Operator] = {}

FAMILIES = ("locks", "conditions", "atomics", "durability", "guards", "plain")


def operator(name: str, family: str, summary: str) -> Callable[[OperatorFn], OperatorFn]:
    """Register an operator function under ``name`` (unique) in ``family``."""
    if family not in FAMILIES:
        raise ValueError(f"unknown operator family {family!r}")

    def register(fn: OperatorFn) -> OperatorFn:
        if name in REGISTRY:
            raise ValueError(f"operator {name!r} registered twice")
        REGISTRY[name] = Operator(name, family, summary, fn)
        return fn

    return register


def all_operators() -> dict[str, Operator]:
    """Every registered operator, in family order (importing the family modules registers them)."""
    for family in FAMILIES:
        importlib.import_module(f"racekit.mutation.operators.{family}")
    order = {f: i for i, f in enumerate(FAMILIES)}
    return dict(sorted(REGISTRY.items(), key=lambda kv: order[kv[1].family]))
