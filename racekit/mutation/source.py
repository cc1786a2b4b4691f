"""Source text and the span edits mutants are made of.

Mutants are written as small edits of the original text, not by unparsing
a changed AST: everything outside the edited span - comments, formatting,
line numbers of the rest of the file - stays byte-identical, so a mutant's
diff is the bug and nothing else, and tracebacks point at the real lines.

``ast`` positions are (1-based line, UTF-8 *byte* column); :class:`Source`
turns them into string offsets.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` by ``new`` (string offsets into the original)."""

    start: int
    end: int
    new: str


class Source:
    """One module's text, its AST, and position arithmetic on both."""

    def __init__(self, text: str, filename: str = "<mutant>") -> None:
        self.text = text
        self.filename = filename
        self.tree = ast.parse(text, filename)
        self.lines = text.splitlines(keepends=True)
        self._starts: list[int] = []
        pos = 0
        for line in self.lines:
            self._starts.append(pos)
            pos += len(line)
        self._starts.append(pos)  # one past the last line

    # -- positions -------------------------------------------------------------
    def offset(self, lineno: int, col_byte: int) -> int:
        """String offset of (1-based line, byte column)."""
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        col = len(line.encode("utf-8")[:col_byte].decode("utf-8", errors="ignore"))
        return self._starts[lineno - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        return self.text[self.start(node) : self.end(node)]

    def line_start(self, lineno: int) -> int:
        return self._starts[lineno - 1]

    def line_end(self, lineno: int) -> int:
        """Offset just past the newline of ``lineno``."""
        return self._starts[lineno]

    def indent(self, lineno: int) -> str:
        line = self.lines[lineno - 1]
        return line[: len(line) - len(line.lstrip(" \t"))]

    # -- statements as whole lines ----------------------------------------------
    def owns_lines(self, stmt: ast.stmt) -> bool:
        """True when ``stmt`` alone occupies its lines (no ``a; b``, nothing before it)."""
        first = self.lines[stmt.lineno - 1]
        before = first[: self.start(stmt) - self.line_start(stmt.lineno)]
        if before.strip():
            return False
        last_end = self.end(stmt)
        after = self.text[last_end : self.line_end(stmt.end_lineno or stmt.lineno)]
        after = after.strip()
        return not after or after.startswith("#")

    def block_span(self, stmts: list[ast.stmt]) -> tuple[int, int]:
        """Offsets of the whole lines holding ``stmts`` (consecutive statements)."""
        return self.line_start(stmts[0].lineno), self.line_end(stmts[-1].end_lineno or stmts[-1].lineno)

    def block_text(self, stmts: list[ast.stmt]) -> str:
        a, b = self.block_span(stmts)
        return self.text[a:b]

    def stmt_span(self, stmt: ast.stmt) -> tuple[int, int]:
        return self.block_span([stmt])


def reindent(block: str, old: str, new: str) -> str:
    """Move every line of ``block`` from indentation ``old`` to ``new``.

    Lines that do not start with ``old`` (blank lines, continuation lines of
    a string literal) are kept as they are.
    """
    return "".join(
        new + line[len(old) :] if line.startswith(old) else line for line in block.splitlines(keepends=True)
    )


def apply(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (any order) to ``text``."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            raise ValueError(f"overlapping edits at {a.start}-{a.end} and {b.start}-{b.end}")
    for e in reversed(ordered):
        text = text[: e.start] + e.new + text[e.end :]
    return text


# -- small AST helpers shared by the operators -------------------------------------

WAIT_CALLS = frozenset({"wait", "wait_for"})
NOTIFY_CALLS = frozenset({"notify", "notify_all", "notifyAll"})


def call_name(node: ast.AST) -> str | None:
    """``x.y.z(...)`` -> ``"z"``, ``f(...)`` -> ``"f"``, anything else -> None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def calls_in(nodes: Iterable[ast.AST], names: frozenset[str]) -> bool:
    """Does any of ``nodes`` (not counting nested functions) call a method named in ``names``?"""
    for top in nodes:
        for node in walk_local(top):
            if call_name(node) in names:
                return True
    return False


def walk_local(node: ast.AST) -> Iterable[ast.AST]:
    """``ast.walk`` that does not enter nested function, lambda or class bodies."""
    stack = [node]
    while stack:
        cur = stack.pop()
        yield cur
        for child in ast.iter_child_nodes(cur):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                continue
            stack.append(child)


def statement_lists(node: ast.AST) -> Iterable[list[ast.stmt]]:
    """Every statement list (body, orelse, handlers, finalbody, cases) under ``node``, nested included."""
    for cur in ast.walk(node):
        for attr in ("body", "orelse", "finalbody"):
            value = getattr(cur, attr, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value


_SQL_START = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|END)\b", re.IGNORECASE)


def sql_literal(call: ast.AST) -> str | None:
    """The SQL text of ``x.execute("...")`` when it is a literal (the literal head of an f-string)."""
    if call_name(call) not in ("execute", "executescript", "executemany"):
        return None
    assert isinstance(call, ast.Call)
    if not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value)  # an f-string: its literal head is enough to tell BEGIN from SELECT
    return None


def txn_keyword(call: ast.AST) -> str | None:
    """``"BEGIN"``/``"COMMIT"``/``"ROLLBACK"`` for ``x.execute("BEGIN ...")`` and friends."""
    sql = sql_literal(call)
    if sql is None:
        return None
    m = _SQL_START.match(sql)
    if not m:
        return None
    word = m.group(1).upper()
    return "COMMIT" if word == "END" else word


def receiver(call: ast.Call, src: Source) -> str | None:
    """Source text of the object a method is called on: ``self.db`` for ``self.db.execute(...)``."""
    if isinstance(call.func, ast.Attribute):
        return src.segment(call.func.value)
    return None


def stmt_call(stmt: ast.stmt) -> ast.Call | None:
    """The call of an expression statement ``f(...)``; None for anything else."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return stmt.value
    return None
