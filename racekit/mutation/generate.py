"""Making the mutants of one fixed variant: reachable functions x registered operators.

Every proposal is checked before it becomes a mutant: the edited module
must compile, its AST must differ from the original's (a change in
formatting only is not a mutant), and two proposals giving the same text
are one mutant.  Nothing here writes a file: a mutant is its full text in
memory, written later into a scratch copy of the catalogue.
"""

from __future__ import annotations

import ast
import difflib
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from racekit.declarations import Variant
from racekit.mutation.operators import Mutation, Operator, Unit, all_operators
from racekit.mutation.reach import Reachable, variant_code
from racekit.mutation.source import Source, apply
from racekit.registry import load_system


@dataclass(frozen=True)
class Mutant:
    """One planted bug in one fixed variant's code."""

    system: str
    variant: str
    id: str  # "<operator>@<line>:<col>[/<tag>]", stable while the file is unchanged
    operator: str
    family: str
    path: str  # relative to the catalogue root, e.g. "systems/counter.py"
    line: int
    function: str
    note: str
    original: str
    text: str
    anchors: tuple[int, ...]  # statement lines: the mutant is reached when one of them runs

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line} {self.function}"

    def diff(self, context: int = 2) -> str:
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
                n=context,
            )
        )


def _statements(fn: ast.AST) -> list[ast.stmt]:
    return [n for n in ast.walk(fn) if isinstance(n, ast.stmt) and n is not fn]


def anchor_lines(fn: ast.AST, node: ast.AST, src: Source) -> tuple[int, ...]:
    """The innermost statement of ``fn`` holding ``node`` (a statement is its own anchor)."""
    if isinstance(node, ast.stmt):
        return (node.lineno,)
    a, b = src.start(node), src.end(node)
    best: ast.stmt | None = None
    for stmt in _statements(fn):
        s, e = src.start(stmt), src.end(stmt)
        if s <= a and b <= e and (best is None or e - s < src.end(best) - src.start(best)):
            best = stmt
    if best is None:  # the node lies outside the function (a module-level SQL constant): no anchor
        return ()
    return (best.lineno,)


def _constants(fn: ast.AST, reach: Reachable) -> dict[str, ast.Assign]:
    names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return {k: v for k, v in reach.assignments.items() if k in names}


def mutants_of(
    text: str,
    path: str,
    reach: Reachable,
    operators: Iterable[Operator],
    system: str = "",
    variant: str = "",
) -> list[Mutant]:
    """Every valid mutant of the reachable functions in ``text``, in file order."""
    src = Source(text, path)
    original_dump = ast.dump(src.tree)
    seen_texts: set[str] = set()
    seen_ids: set[str] = set()
    out: list[Mutant] = []
    ops = list(operators)
    for qualname, fn in reach.functions.items():
        unit = Unit(src, fn, qualname, _constants(fn, reach))
        for op in ops:
            for m in op.fn(unit):
                mutant = _build(src, original_dump, unit, op, m, path, system, variant)
                if mutant is None or mutant.text in seen_texts:
                    continue
                seen_texts.add(mutant.text)
                mid, k = mutant.id, 2
                while mid in seen_ids:
                    mid, k = f"{mutant.id}#{k}", k + 1
                seen_ids.add(mid)
                out.append(mutant if mid == mutant.id else _renamed(mutant, mid))
    rank = {op.name: i for i, op in enumerate(ops)}
    out.sort(key=lambda m: (m.line, rank[m.operator]))
    return out


def _renamed(m: Mutant, new_id: str) -> Mutant:
    return replace(m, id=new_id)


def _build(
    src: Source, original_dump: str, unit: Unit, op: Operator, m: Mutation, path: str, system: str, variant: str
) -> Mutant | None:
    try:
        new_text = apply(src.text, m.edits)
        new_tree = ast.parse(new_text, path)
        compile(new_tree, path, "exec")
    except (SyntaxError, ValueError):
        return None
    if ast.dump(new_tree) == original_dump:
        return None
    line = getattr(m.node, "lineno", unit.node.lineno)
    col = getattr(m.node, "col_offset", 0)
    mid = f"{op.name}@{line}:{col}" + (f"/{m.tag}" if m.tag else "")
    anchors = anchor_lines(unit.node, m.node, src)
    return Mutant(system, variant, mid, op.name, op.family, path, line, unit.qualname, m.note, src.text, new_text, anchors)


def select_operators(names: Sequence[str] | None) -> list[Operator]:
    """The operators named (by operator or family name), all when ``names`` is empty."""
    registry = all_operators()
    if not names:
        return list(registry.values())
    chosen: list[Operator] = []
    for name in names:
        matches = [op for op in registry.values() if name in (op.name, op.family)]
        if not matches:
            from racekit.errors import RacekitError

            known = sorted({*registry, *(op.family for op in registry.values())})
            raise RacekitError(f"unknown mutation operator {name!r} (known: {', '.join(known)})")
        chosen.extend(op for op in matches if op not in chosen)
    order = list(registry)
    return sorted(chosen, key=lambda op: order.index(op.name))


def variant_mutants(root: Path, system_name: str, variant: Variant, operators: Sequence[Operator]) -> list[Mutant]:
    """The mutants of one fixed variant of a catalogue system (read-only on the catalogue)."""
    load_system(system_name, root)  # validates the name and makes the catalogue importable
    module = importlib.import_module(f"systems.{system_name}")
    rel = f"systems/{system_name}.py"
    text = (root / rel).read_text(encoding="utf-8")
    driver_path = root / "stateful_tests" / f"test_{system_name}.py"
    driver = driver_path.read_text(encoding="utf-8") if driver_path.is_file() else None
    reach = variant_code(ast.parse(text, rel), module, variant.factory, driver)
    return mutants_of(text, rel, reach, operators, system_name, variant.name)


def limited(mutants: Sequence[Mutant], limit: int | None) -> list[Mutant]:
    """At most ``limit`` mutants, taken round-robin over operators so each family is represented."""
    if limit is None or len(mutants) <= limit:
        return list(mutants)
    by_op: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_op.setdefault(m.operator, []).append(m)
    picked: list[Mutant] = []
    queues = list(by_op.values())
    while len(picked) < limit:
        for q in queues:
            if q and len(picked) < limit:
                picked.append(q.pop(0))
    keep = {id(m) for m in picked}
    return [m for m in mutants if id(m) in keep]
