"""Atomic operators: a compare-and-set that no longer compares.

* ``cas_to_store``: ``x.compare_and_set(seen, new)`` becomes
  ``(x.store(new), True)[1]`` - the retry loop around it now does a plain
  load, then a store, and always "succeeds" (ConMAn's lost-update pattern
  for lock-free code).
* ``drop_sql_guard``: the SQL form of the same bug.  An ``UPDATE`` /
  ``DELETE`` whose ``WHERE`` has several conditions (``WHERE id = ? AND
  version = ?``, ``... AND owner IS ?``, ``... AND remaining >= ?``) loses
  one condition other than the first (the row key), with its parameter; an
  upsert's ``DO UPDATE ... WHERE`` (newer-wins) loses its guard.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from racekit.mutation.operators import Mutation, Unit, operator
from racekit.mutation.source import Edit, call_name

_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_TAIL = re.compile(r"\b(RETURNING|ORDER\s+BY|LIMIT)\b", re.IGNORECASE)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\?|%s")
_WRITE = re.compile(r"^\s*(UPDATE|DELETE)\b", re.IGNORECASE)
_UPSERT = re.compile(r"\bDO\s+UPDATE\b", re.IGNORECASE)


@operator("cas_to_store", "atomics", "replace a compare-and-set by a plain store that always succeeds")
def cas_to_store(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for node in ast.walk(unit.node):
        if (
            isinstance(node, ast.Call)
            and call_name(node) == "compare_and_set"
            and isinstance(node.func, ast.Attribute)
            and len(node.args) == 2
            and not node.keywords
        ):
            recv = src.segment(node.func.value)
            new = src.segment(node.args[1])
            yield Mutation(node, (Edit(src.start(node), src.end(node), f"({recv}.store({new}), True)[1]"),),
                           note="compare_and_set -> store")


def guard_variants(sql: str) -> Iterator[tuple[str, int, int, str]]:
    """``(new_sql, first_placeholder, placeholders_removed, dropped)`` for each droppable guard."""
    wheres = list(_WHERE.finditer(sql))
    if not wheres:
        return
    if not (_WRITE.match(sql) or _UPSERT.search(sql[: wheres[-1].start()])):
        return
    where = wheres[-1]
    clause_start = where.end()
    tail = _TAIL.search(sql, clause_start)
    clause_end = tail.start() if tail else len(sql)
    clause = sql[clause_start:clause_end]
    if "(" in clause:
        return  # nested conditions: not split by a regex
    seps = list(_AND.finditer(clause))
    if not seps:
        if _UPSERT.search(sql[: where.start()]):
            # the upsert's only guard (newer wins): drop "WHERE cond" entirely
            rest = sql[clause_end:]
            new_sql = sql[: where.start()].rstrip() + (" " + rest.lstrip() if rest.strip() else "")
            before = len(_PLACEHOLDER.findall(sql[:clause_start]))
            yield new_sql, before, len(_PLACEHOLDER.findall(clause)), sql[where.start() : clause_end].strip()
        return
    # conjunct j (j >= 1) spans from separator j-1's start to separator j's start (or the clause end)
    for j in range(1, len(seps) + 1):
        a = clause_start + seps[j - 1].start()
        b = clause_start + (seps[j].start() if j < len(seps) else len(clause.rstrip()))
        dropped = sql[a:b]
        before = len(_PLACEHOLDER.findall(sql[:a]))
        yield sql[:a] + sql[b:], before, len(_PLACEHOLDER.findall(dropped)), dropped.strip()


def _sql_of(unit: Unit, arg: ast.expr) -> tuple[ast.Constant, str] | None:
    """The string constant holding the SQL: a literal argument or a module-level constant it names."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg, arg.value
    if isinstance(arg, ast.Name) and arg.id in unit.constants:
        value = unit.constants[arg.id].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value, value.value
    return None


@operator("drop_sql_guard", "atomics", "drop a condition of a guarded UPDATE/DELETE (SQL compare-and-set)")
def drop_sql_guard(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for node in ast.walk(unit.node):
        if not (isinstance(node, ast.Call) and call_name(node) in ("execute", "executemany") and node.args):
            continue
        found = _sql_of(unit, node.args[0])
        if found is None:
            continue
        const, sql = found
        params = node.args[1] if len(node.args) > 1 else None
        total = len(_PLACEHOLDER.findall(sql))
        for k, (new_sql, first, count, dropped) in enumerate(guard_variants(sql), start=1):
            edits = [Edit(src.start(const), src.end(const), repr(new_sql))]
            if count:
                if not isinstance(params, ast.Tuple | ast.List) or len(params.elts) != total:
                    continue  # the parameters are not a literal we can trim in step
                kept = [src.segment(e) for i, e in enumerate(params.elts) if not first <= i < first + count]
                if isinstance(params, ast.Tuple):
                    text = "(" + ", ".join(kept) + ("," if len(kept) == 1 else "") + ")"
                else:
                    text = "[" + ", ".join(kept) + "]"
                edits.append(Edit(src.start(params), src.end(params), text))
            yield Mutation(node, tuple(edits), tag=str(k), note=f"dropped {dropped!r}")
