"""Plain operators that matter for concurrent code.

``drop_assignment``: a state update that never happens - a flag not reset,
a counter not decremented, a cache entry not stored.  Only assignments
whose target surely exists without them are dropped: attributes and
items, augmented assignments, and local names assigned earlier in the
function.  Initialisers (``__init__``, ``on_start`` ...) are skipped: an
attribute that is never created fails at its first read, a stillborn mutant.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from racekit.mutation.operators import Mutation, Unit, operator
from racekit.mutation.source import Edit

INITIALISERS = frozenset({"__init__", "__post_init__", "__new__", "on_start", "setup", "setUp"})


def _targets(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.Assign):
        out: list[ast.expr] = []
        for t in stmt.targets:
            out.extend(t.elts if isinstance(t, ast.Tuple | ast.List) else [t])
        return out
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return [stmt.target]
    if isinstance(stmt, ast.AugAssign):
        return [stmt.target]
    return []


@operator("drop_assignment", "plain", "remove an assignment to shared or earlier-bound state")
def drop_assignment(unit: Unit) -> Iterator[Mutation]:
    if unit.name in INITIALISERS:
        return
    src = unit.src
    bound_at: dict[str, int] = {}  # local name -> first line it is bound
    for arg in [*unit.node.args.posonlyargs, *unit.node.args.args, *unit.node.args.kwonlyargs]:
        bound_at[arg.arg] = 0
    for node in ast.walk(unit.node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound_at[node.id] = min(bound_at.get(node.id, node.lineno), node.lineno)
    for stmt in sorted((s for s in ast.walk(unit.node) if isinstance(s, ast.stmt)), key=lambda s: (s.lineno, s.col_offset)):
        targets = _targets(stmt)
        if not targets:
            continue
        ok = isinstance(stmt, ast.AugAssign) or all(
            isinstance(t, ast.Attribute | ast.Subscript)
            or (isinstance(t, ast.Name) and bound_at.get(t.id, stmt.lineno) < stmt.lineno)
            for t in targets
        )
        if ok:
            yield Mutation(stmt, (Edit(src.start(stmt), src.end(stmt), "pass"),), note="assignment removed")
