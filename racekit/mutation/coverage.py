"""The coverage pass: which lines of a system does its fixed variant's check execute?

Static reachability (:mod:`racekit.mutation.reach`) over-approximates: a
method reachable in principle may hold a branch taken only under another
variant's configuration (``if self.config.charge_first:``), or a path the
search never drives.  Before the mutants of a variant run, the *unmutated*
check runs once on an instrumented copy of the system module: every
statement inside every function is preceded by ``_racekit_hit(<line>)``.
The probe writes to a per-process file, so lines reached in harness worker
processes (killed with SIGKILL or not) are counted like the in-process ones.

Why source instrumentation and not ``sys.settrace``/``coverage.py``: the
thread scheduler owns the trace function of every logical thread, and
real-process systems run in workers started with ``python -S``; a probe
call in the code itself works under every engine.

A mutant whose statement never ran is reported ``uncovered`` and is not
run: the check cannot kill what it never executes.
"""

from __future__ import annotations

import ast

PROBE = "_racekit_hit"
IMPORT = f"from racekit.mutation.probe import hit as {PROBE}"


def _probe(line: int) -> ast.stmt:
    return ast.Expr(ast.Call(ast.Name(PROBE, ast.Load()), [ast.Constant(line)], []))


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def instrument(text: str, filename: str = "<system>") -> str:
    """The module with a line probe before every statement of every function."""
    tree = ast.parse(text, filename)
    for fn in _functions(tree):  # nested functions too: each body once, probes never nested twice
        fn.body = _instrument_block(fn.body)
    at = 0
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            at = i + 1
        elif i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            at = 1  # the module docstring
    tree.body.insert(at, ast.parse(IMPORT).body[0])
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


def _is_probe(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Call)
        and isinstance(stmt.value.func, ast.Name)
        and stmt.value.func.id == PROBE
    )


def _instrument_block(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in stmts:
        if _is_probe(stmt):
            continue
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            _instrument_children(stmt)
        out.append(_probe(stmt.lineno))
        out.append(stmt)
    return out


def _instrument_children(stmt: ast.AST) -> None:
    for attr in ("body", "orelse", "finalbody"):
        value = getattr(stmt, attr, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            setattr(stmt, attr, _instrument_block(value))
    for handler in getattr(stmt, "handlers", None) or ():
        handler.body = _instrument_block(handler.body)
    for case in getattr(stmt, "cases", None) or ():
        case.body = _instrument_block(case.body)
