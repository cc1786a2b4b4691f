"""Durability operators: what a crash can expose.

* ``drop_commit``: ``con.commit()`` / ``execute("COMMIT")`` removed.
* ``drop_fsync``: ``os.fsync(fd)`` / ``disk.fsync()`` removed - only a
  power-loss model of the page cache can see this one.
* ``drop_transaction``: the statements of a transaction run one by one in
  autocommit: ``with write_txn(db):`` unwrapped, or every ``BEGIN`` /
  ``COMMIT`` / ``ROLLBACK`` of one connection in a function removed together
  (removing only one of them leaves a transaction open, which fails at the
  next ``BEGIN``: stillborn).
* ``split_transaction``: one transaction becomes two, committed between two
  of its statements - ``with write_txn(db):`` re-entered, or
  ``COMMIT; BEGIN`` inserted after a statement.  A crash between the two
  commits exposes a half-done change (e.g. an inbox row without its effect).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from racekit.mutation.operators import Mutation, Unit, operator
from racekit.mutation.operators.locks import split_points
from racekit.mutation.operators.shapes import header_text, local_names, movable, txn_blocks, unwrap
from racekit.mutation.source import (
    Edit,
    call_name,
    receiver,
    sql_literal,
    stmt_call,
    txn_keyword,
    walk_local,
)


def _statements(node: ast.AST) -> Iterator[ast.stmt]:
    for cur in ast.walk(node):
        if isinstance(cur, ast.stmt):
            yield cur


def _pass(unit: Unit, stmt: ast.stmt) -> Edit:
    return Edit(unit.src.start(stmt), unit.src.end(stmt), "pass")


@operator("drop_commit", "durability", "remove a commit")
def drop_commit(unit: Unit) -> Iterator[Mutation]:
    for stmt in _statements(unit.node):
        call = stmt_call(stmt)
        if call is None:
            continue
        if (call_name(call) == "commit" and not call.args) or txn_keyword(call) == "COMMIT":
            yield Mutation(stmt, (_pass(unit, stmt),), note="commit removed")


@operator("drop_fsync", "durability", "remove an fsync")
def drop_fsync(unit: Unit) -> Iterator[Mutation]:
    for stmt in _statements(unit.node):
        call = stmt_call(stmt)
        if call is not None and call_name(call) in ("fsync", "fdatasync"):
            yield Mutation(stmt, (_pass(unit, stmt),), note=f"{call_name(call)} removed")


def _txn_statements(unit: Unit) -> dict[str, list[tuple[ast.stmt, str]]]:
    """Per connection (receiver text): its BEGIN/COMMIT/ROLLBACK statements in this function."""
    out: dict[str, list[tuple[ast.stmt, str]]] = {}
    for stmt in _statements(unit.node):
        call = stmt_call(stmt)
        word = txn_keyword(call) if call is not None else None
        if call is not None and word is not None:
            recv = receiver(call, unit.src)
            if recv is not None:
                out.setdefault(recv, []).append((stmt, word))
    return out


@operator("drop_transaction", "durability", "run a transaction's statements one by one (autocommit)")
def drop_transaction(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for block in txn_blocks(unit.node):
        if movable(src, block):
            yield Mutation(block, (Edit(*src.stmt_span(block), unwrap(src, block, block.body)),),
                           note="transaction block removed")
    for recv, stmts in _txn_statements(unit).items():
        if any(w == "BEGIN" for _, w in stmts) and any(w == "COMMIT" for _, w in stmts):
            begin = next(s for s, w in stmts if w == "BEGIN")
            yield Mutation(begin, tuple(_pass(unit, s) for s, _ in stmts), note=f"BEGIN/COMMIT/ROLLBACK on {recv} removed")


def _sql_statements(unit: Unit, recv: str, after: int, before: int) -> list[ast.stmt]:
    """Statements running SQL on ``recv`` between two lines, outside exception handlers."""
    handlers: set[int] = set()
    for node in ast.walk(unit.node):
        if isinstance(node, ast.ExceptHandler):
            handlers.update(id(s) for s in ast.walk(node) if isinstance(s, ast.stmt))
    found = []
    for stmt in _statements(unit.node):
        if isinstance(stmt, ast.If | ast.For | ast.While | ast.Try | ast.With | ast.FunctionDef):
            continue  # compound: its inner statements are considered instead
        if id(stmt) in handlers or not (after < stmt.lineno and (stmt.end_lineno or stmt.lineno) < before):
            continue
        for node in walk_local(stmt):
            if (
                isinstance(node, ast.Call)
                and sql_literal(node) is not None
                and txn_keyword(node) is None
                and receiver(node, unit.src) == recv
            ):
                found.append(stmt)
                break
    return sorted(found, key=lambda s: s.lineno)


@operator("split_transaction", "durability", "commit in the middle of a transaction and begin a new one")
def split_transaction(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for block in txn_blocks(unit.node):
        if len(block.body) < 2 or not movable(src, block):
            continue
        header = header_text(src, block)
        for g in split_points(block, local_names(unit.node)):
            at = src.line_start(block.body[g].lineno)
            yield Mutation(block.body[g], (Edit(at, at, header),), tag=str(g), note=f"transaction committed after statement {g}")
    for recv, stmts in _txn_statements(unit).items():
        begins = [s for s, w in stmts if w == "BEGIN"]
        commits = [s for s, w in stmts if w == "COMMIT"]
        if len(begins) != 1 or len(commits) != 1 or commits[0].lineno <= begins[0].lineno:
            continue
        begin_call = stmt_call(begins[0])
        assert begin_call is not None
        begin_arg = src.segment(begin_call.args[0])
        inner = _sql_statements(unit, recv, begins[0].lineno, commits[0].lineno)
        for k, stmt in enumerate(inner[:-1], start=1):
            if not src.owns_lines(stmt):
                continue
            ind = src.indent(stmt.lineno)
            text = f'{ind}{recv}.execute("COMMIT")\n{ind}{recv}.execute({begin_arg})\n'
            at = src.line_end(stmt.end_lineno or stmt.lineno)
            yield Mutation(stmt, (Edit(at, at, text),), tag=str(k), note="COMMIT; BEGIN inserted")
