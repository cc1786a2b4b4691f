"""Lock operators (ConMAn RSB/RSK, SHCR, SPCR, ESP): remove, shrink, split, reorder critical sections.

A block whose body waits on or notifies a condition is never unwrapped or
shrunk around that call: ``Condition.wait`` without its lock raises
``RuntimeError`` on the first call, a *stillborn* mutant that measures
nothing about the harness.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from racekit.mutation.operators import Mutation, Unit, operator
from racekit.mutation.operators.shapes import (
    acquire_pairs,
    acquire_statements,
    header_text,
    is_lock_item,
    local_names,
    local_only,
    lock_blocks,
    movable,
    unwrap,
    waits_or_notifies,
)
from racekit.mutation.source import Edit, reindent


@operator("remove_lock", "locks", "remove a lock around its statements (with-block or acquire/try/finally-release)")
def remove_lock(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for block in lock_blocks(unit.node):
        if waits_or_notifies(block.body) or not movable(src, block):
            continue
        a, b = src.stmt_span(block)
        yield Mutation(block, (Edit(a, b, unwrap(src, block, block.body)),), note="lock removed")
        if len(block.items) > 1:
            # ``with a.lock, b.lock:`` - also drop one lock and keep the other
            first, last = block.items[0].context_expr, block.items[-1].context_expr
            texts = [src.segment(i.context_expr) for i in block.items]
            for k in range(len(texts)):
                rest = ", ".join(t for j, t in enumerate(texts) if j != k)
                yield Mutation(block, (Edit(src.start(first), src.end(last), rest),), tag=str(k + 1),
                               note=f"lock {texts[k]} removed")
    for pair in acquire_pairs(src, unit.node):
        if waits_or_notifies(pair.guarded.body):
            continue
        if not (src.owns_lines(pair.acquire) and src.owns_lines(pair.release)):
            continue
        a, b = src.stmt_span(pair.acquire)
        edits = [Edit(a, b, "")]
        if len(pair.guarded.finalbody) == 1:
            edits.append(Edit(src.start(pair.release), src.end(pair.release), "pass"))
        else:
            edits.append(Edit(*src.stmt_span(pair.release), ""))
        yield Mutation(pair.acquire, tuple(edits), note=f"{pair.receiver} no longer acquired")


@operator("shrink_critical_section", "locks", "move the first or last statement of a critical section out of it")
def shrink_critical_section(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    locals_ = local_names(unit.node)
    for block in lock_blocks(unit.node):
        if len(block.body) < 2 or not movable(src, block):
            continue
        outer, inner = src.indent(block.lineno), src.indent(block.body[0].lineno)
        head, tail = block.body[0], block.body[-1]
        if not waits_or_notifies(head) and not local_only(head, locals_):
            text = reindent(src.block_text([head]), inner, outer)
            at = src.line_start(block.lineno)
            yield Mutation(head, (Edit(at, at, text), Edit(*src.stmt_span(head), "")), tag="head",
                           note="first statement moved before the lock")
        if not waits_or_notifies(tail) and not local_only(tail, locals_):
            text = reindent(src.block_text([tail]), inner, outer)
            a, b = src.stmt_span(tail)
            yield Mutation(tail, (Edit(a, b, ""), Edit(b, b, text)), tag="tail",
                           note="last statement moved after the lock")


def split_points(block: ast.With, locals_: set[str]) -> Iterator[int]:
    """Where cutting a block in two changes something: both halves touch shared state.

    Not after a statement that leaves the block (the rest is dead), and not
    where either half only computes with local variables (equivalent).
    """
    for g in range(1, len(block.body)):
        if isinstance(block.body[g - 1], ast.Return | ast.Raise | ast.Break | ast.Continue):
            continue
        if all(local_only(s, locals_) for s in block.body[:g]) or all(local_only(s, locals_) for s in block.body[g:]):
            continue
        yield g


@operator("split_critical_section", "locks", "release and re-acquire the lock between two statements of a critical section")
def split_critical_section(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    locals_ = local_names(unit.node)
    for block in lock_blocks(unit.node):
        if len(block.body) < 2 or not movable(src, block):
            continue
        header = header_text(src, block)
        for g in split_points(block, locals_):
            at = src.line_start(block.body[g].lineno)
            # closing the block = dedenting; the rest goes under a fresh copy of the header
            yield Mutation(block.body[g], (Edit(at, at, header),), tag=str(g), note=f"lock released after statement {g}")


@operator("swap_lock_order", "locks", "take two locks in the opposite order")
def swap_lock_order(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for block in lock_blocks(unit.node):
        if len(block.items) >= 2:
            texts = [src.segment(i.context_expr) for i in block.items]
            first, last = block.items[0].context_expr, block.items[-1].context_expr
            yield Mutation(block, (Edit(src.start(first), src.end(last), ", ".join(reversed(texts))),),
                           note="with-items reversed")
        elif (
            len(block.body) == 1
            and isinstance(block.body[0], ast.With)
            and len(block.body[0].items) == 1
            and is_lock_item(block.body[0].items[0])
        ):
            outer, inner = block.items[0].context_expr, block.body[0].items[0].context_expr
            yield Mutation(block, (Edit(src.start(outer), src.end(outer), src.segment(inner)),
                                   Edit(src.start(inner), src.end(inner), src.segment(outer))),
                           note="nested locks swapped")
    for one, two in acquire_statements(src, unit.node):
        a, _ = src.stmt_span(one)
        _, b = src.stmt_span(two)
        ia, ib = src.indent(one.lineno), src.indent(two.lineno)
        swapped = reindent(src.block_text([two]), ib, ia) + reindent(src.block_text([one]), ia, ib)
        yield Mutation(one, (Edit(a, b, swapped),), note="acquires swapped")
