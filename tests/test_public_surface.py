"""The catalogue uses racekit's public surface only: ``racekit``, and
``racekit.sync`` / ``racekit.sim`` / ``racekit.crash`` for kind-specific
parts - four modules - and every public name resolves."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import racekit
import racekit.crash
import racekit.sim

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"racekit", "racekit.sync", "racekit.sim", "racekit.crash"}


def racekit_modules(path: Path) -> set[str]:
    """The racekit modules a file imports (``from racekit import sync`` imports ``racekit.sync``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "racekit":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = node.module == "racekit" and importlib.util.find_spec(sub) is not None
                found.add(sub if is_module else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "racekit")
    return found


def test_catalogue_imports_racekit_through_at_most_four_modules() -> None:
    used: dict[str, set[str]] = {}
    for package in ("systems", "specs", "stateful_tests"):
        for path in sorted((ROOT / package).glob("*.py")):
            for module in racekit_modules(path):
                used.setdefault(module, set()).add(f"{package}/{path.name}")
    assert set(used) <= ALLOWED, {m: sorted(f)[:3] for m, f in used.items() if m not in ALLOWED}
    assert len(used) <= 4


def test_every_public_name_resolves() -> None:
    for module in (racekit, racekit.sim, racekit.crash):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
