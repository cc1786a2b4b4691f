"""Recognising critical sections and transactions in Python source.

Shared by the lock and durability operators, so that "what is a lock" and
"what is a transaction" are decided in one place:

* a **lock block** is ``with <expr>:`` where every context expression is a
  plain name, attribute or subscript (``self.lock``, ``first.lock``,
  ``self.not_full``): objects used as context managers are locks and
  conditions in this code, while calls (``open(...)``, ``closing(...)``)
  are resources;
* a **transaction block** is ``with <call>:`` whose callee's name says so
  (``write_txn(db)``, ``transaction()``, ``atomic()``);
* an **acquire/release pair** is ``x.acquire()`` (or ``acquire_read`` ...)
  followed, in the same block, by a ``try`` whose ``finally`` calls the
  matching ``x.release()``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from racekit.mutation.source import (
    NOTIFY_CALLS,
    WAIT_CALLS,
    Source,
    call_name,
    calls_in,
    reindent,
    statement_lists,
    stmt_call,
)

_TXN_NAME = re.compile(r"(txn|transaction|atomic)", re.IGNORECASE)
_ACQUIRE = re.compile(r"^acquire(_\w+)?$")

BLOCKING_CALLS = WAIT_CALLS | NOTIFY_CALLS


def is_lock_item(item: ast.withitem) -> bool:
    return item.optional_vars is None and isinstance(item.context_expr, ast.Name | ast.Attribute | ast.Subscript)


def is_txn_item(item: ast.withitem) -> bool:
    expr = item.context_expr
    if not isinstance(expr, ast.Call):
        return False
    name = call_name(expr)
    return name is not None and bool(_TXN_NAME.search(name))


def lock_blocks(node: ast.AST) -> Iterator[ast.With]:
    """``with`` statements under ``node`` whose every item is a lock."""
    for cur in ast.walk(node):
        if isinstance(cur, ast.With) and all(is_lock_item(i) for i in cur.items):
            yield cur


def txn_blocks(node: ast.AST) -> Iterator[ast.With]:
    """``with`` statements under ``node`` with exactly one item, a transaction."""
    for cur in ast.walk(node):
        if isinstance(cur, ast.With) and len(cur.items) == 1 and is_txn_item(cur.items[0]):
            yield cur


def waits_or_notifies(nodes: list[ast.stmt] | ast.AST) -> bool:
    """Code that waits on or signals a condition must hold its lock: moving it out is stillborn."""
    return calls_in(nodes if isinstance(nodes, list) else [nodes], BLOCKING_CALLS)


def movable(src: Source, block: ast.With) -> bool:
    """Can statements of this block be moved line-wise?  (Header and body on lines of their own.)"""
    if not src.owns_lines(block):
        return False
    if block.body[0].lineno == block.lineno:
        return False  # ``with x: stmt`` on one line
    return all(src.owns_lines(s) for s in block.body)


def header_text(src: Source, block: ast.With) -> str:
    """The ``with ...:`` line(s), from the block's first line to the line before its body."""
    return src.text[src.line_start(block.lineno) : src.line_start(block.body[0].lineno)]


def body_indent(src: Source, block: ast.With | ast.Try) -> str:
    return src.indent(block.body[0].lineno)


def unwrap(src: Source, block: ast.With | ast.Try, body: list[ast.stmt]) -> str:
    """``body`` re-indented to where ``block`` starts: the block without its wrapper."""
    return reindent(src.block_text(body), body_indent(src, block), src.indent(block.lineno))


@dataclass(frozen=True)
class AcquirePair:
    """``x.acquire_y()`` ... ``try: ... finally: x.release_y()`` in one statement list."""

    acquire: ast.Expr
    release: ast.Expr
    guarded: ast.Try
    receiver: str


def acquire_pairs(src: Source, node: ast.AST) -> Iterator[AcquirePair]:
    for stmts in statement_lists(node):
        for k, stmt in enumerate(stmts):
            call = stmt_call(stmt)
            name = call_name(call) if call is not None else None
            if call is None or name is None or not _ACQUIRE.match(name) or call.args or call.keywords:
                continue
            assert isinstance(call.func, ast.Attribute)
            recv = src.segment(call.func.value)
            release_name = "release" + name[len("acquire") :]
            for later in stmts[k + 1 :]:
                if isinstance(later, ast.Try):
                    for fin in later.finalbody:
                        fcall = stmt_call(fin)
                        if (
                            fcall is not None
                            and call_name(fcall) == release_name
                            and isinstance(fcall.func, ast.Attribute)
                            and src.segment(fcall.func.value) == recv
                        ):
                            assert isinstance(fin, ast.Expr) and isinstance(stmt, ast.Expr)
                            yield AcquirePair(stmt, fin, later, recv)
                    break
                if stmt_call(later) is None:
                    break  # only other acquires may sit between the acquire and its try


def acquire_statements(src: Source, node: ast.AST) -> Iterator[tuple[ast.Expr, ast.Expr]]:
    """Two consecutive ``a.acquire()`` / ``b.acquire()`` statements on different objects."""
    for stmts in statement_lists(node):
        for first, second in zip(stmts, stmts[1:], strict=False):
            c1, c2 = stmt_call(first), stmt_call(second)
            if c1 is None or c2 is None:
                continue
            if call_name(c1) == "acquire" == call_name(c2) and not c1.args and not c2.args:
                assert isinstance(c1.func, ast.Attribute) and isinstance(c2.func, ast.Attribute)
                if src.segment(c1.func.value) != src.segment(c2.func.value):
                    assert isinstance(first, ast.Expr) and isinstance(second, ast.Expr)
                    yield first, second


def local_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names bound in ``fn`` (arguments except the first of a method, assignments, loop targets)."""
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    names = {a.arg for a in args[1:]} if args and args[0].arg in ("self", "cls") else {a.arg for a in args}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


_PURE_BUILTINS = frozenset({"len", "tuple", "list", "dict", "set", "sorted", "min", "max", "sum", "int", "str", "bool", "abs", "range"})


def local_only(stmt: ast.stmt, locals_: set[str]) -> bool:
    """A statement that touches only the function's own variables (no attribute, item or global).

    Inside or outside a lock it means the same, so moving it across the
    lock's boundary, or cutting the lock next to it, is an equivalent mutant.
    """
    for node in ast.walk(stmt):
        if isinstance(node, ast.Attribute | ast.Subscript | ast.Starred | ast.Await | ast.Yield | ast.YieldFrom):
            return False
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _PURE_BUILTINS):
            return False
        if isinstance(node, ast.Name) and node.id not in locals_ and node.id not in _PURE_BUILTINS:
            return False
        if isinstance(node, ast.Global | ast.Nonlocal):
            return False
    return True
