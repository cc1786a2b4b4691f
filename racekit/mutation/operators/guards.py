"""Guard operators: a comparison that decides too much or too little.

* ``flip_comparison``: ``<`` <-> ``<=``, ``>`` <-> ``>=`` (the boundary
  moves by one: a fencing check ``token >= highest`` -> ``>``), ``==`` <->
  ``!=``, ``is`` <-> ``is not``, ``in`` <-> ``not in`` (the guard is negated).
* ``off_by_one``: a small integer literal bound (|n| <= 64), in a comparison,
  a ``range()`` or a slice, plus or minus one.

Comparisons inside f-strings are skipped (their positions are not reliable
on every supported Python).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from racekit.mutation.operators import Mutation, Unit, operator
from racekit.mutation.source import Edit, call_name

FLIP: dict[type[ast.cmpop], str] = {
    ast.Lt: "<=",
    ast.LtE: "<",
    ast.Gt: ">=",
    ast.GtE: ">",
    ast.Eq: "!=",
    ast.NotEq: "==",
    ast.Is: "is not",
    ast.IsNot: "is",
    ast.In: "not in",
    ast.NotIn: "in",
}
SMALL = 64  # larger literals are retry caps and sizes: one more or less is an equivalent mutant
_OP_TOKEN = re.compile(r"<=|>=|==|!=|<|>|\bis\s+not\b|\bnot\s+in\b|\bis\b|\bin\b")


def _outside_fstrings(root: ast.AST) -> Iterator[ast.AST]:
    stack = [root]
    while stack:
        cur = stack.pop()
        yield cur
        stack.extend(c for c in ast.iter_child_nodes(cur) if not isinstance(c, ast.JoinedStr))


@operator("flip_comparison", "guards", "move a comparison's boundary by one or negate it")
def flip_comparison(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for node in _outside_fstrings(unit.node):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            a, b = src.end(operands[i]), src.start(operands[i + 1])
            between = src.text[a:b]
            code = between.split("#")[0]
            tokens = list(_OP_TOKEN.finditer(code))
            if len(tokens) != 1:
                continue
            tok = tokens[0]
            new = FLIP[type(op)]
            yield Mutation(node, (Edit(a + tok.start(), a + tok.end(), new),), tag=str(i + 1) if len(node.ops) > 1 else "",
                           note=f"{tok.group(0)} -> {new}")


def _bound_constants(root: ast.AST) -> Iterator[ast.Constant]:
    for node in _outside_fstrings(root):
        candidates: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            candidates = [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and call_name(node) == "range":
            candidates = list(node.args)
        elif isinstance(node, ast.Slice):
            candidates = [x for x in (node.lower, node.upper) if x is not None]
        for cand in candidates:
            if isinstance(cand, ast.BinOp):  # ``n - 1``, ``self.position + 1``
                cand = cand.right
            if isinstance(cand, ast.Constant) and type(cand.value) is int and abs(cand.value) <= SMALL:
                yield cand


@operator("off_by_one", "guards", "an integer bound (comparison, range, slice) plus or minus one")
def off_by_one(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    seen: set[int] = set()
    for const in _bound_constants(unit.node):
        if id(const) in seen:
            continue
        seen.add(id(const))
        assert isinstance(const.value, int)
        for delta in (1, -1):
            value = const.value + delta
            text = str(value) if value >= 0 else f"({value})"
            yield Mutation(const, (Edit(src.start(const), src.end(const), text),), tag=f"{delta:+d}",
                           note=f"{const.value} -> {value}")
