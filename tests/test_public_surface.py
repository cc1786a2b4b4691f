"""The catalogue uses racekit's public surface only: ``racekit``, and one
kind-specific module per engine kind - ``racekit.sync`` (threads),
``racekit.sim`` (simulator), ``racekit.crash`` (processes), ``racekit.aio``
(asyncio), ``racekit.series`` (pure functions of a series) - and every
public name resolves.  Why one per kind:
docs/architecture.md ("Public surface").  The throwaway servers
(``racekit.crash.redis``, ``racekit.crash.postgres``) are real parts any kind
may use (a thread system caching in a real redis-server), so they count as
kind-neutral."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import racekit
import racekit.aio
import racekit.crash
import racekit.series
import racekit.sim

ROOT = Path(__file__).resolve().parents[1]
KIND_MODULES = {
    "thr": "racekit.sync",
    "sim": "racekit.sim",
    "proc": "racekit.crash",
    "aio": "racekit.aio",
    "series": "racekit.series",
}
SERVICES = {"racekit.crash.redis", "racekit.crash.postgres"}
ALLOWED = {"racekit", *KIND_MODULES.values(), *SERVICES}


def racekit_modules(path: Path) -> set[str]:
    """The racekit modules a file imports (``from racekit import sync`` imports ``racekit.sync``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "racekit":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = node.module == "racekit" and importlib.util.find_spec(sub) is not None
                found.add(sub if is_module or sub in SERVICES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "racekit")
    return found


def test_catalogue_imports_racekit_through_one_module_per_engine_kind() -> None:
    used: dict[str, set[str]] = {}
    for package in ("systems", "specs", "stateful_tests"):
        for path in sorted((ROOT / package).glob("*.py")):
            for module in racekit_modules(path):
                used.setdefault(module, set()).add(f"{package}/{path.name}")
    assert set(used) <= ALLOWED, {m: sorted(f)[:3] for m, f in used.items() if m not in ALLOWED}
    assert len(set(used) - SERVICES) <= 1 + len(KIND_MODULES)


def test_each_catalogue_file_uses_at_most_one_kind_specific_module() -> None:
    """A system is one kind: its files reach racekit through ``racekit`` and at
    most one kind-specific module (a thread system never needs racekit.sim)."""
    kind_specific = set(KIND_MODULES.values())
    for package in ("systems", "specs", "stateful_tests"):
        for path in sorted((ROOT / package).glob("*.py")):
            kinds = racekit_modules(path) & kind_specific
            assert len(kinds) <= 1, f"{package}/{path.name} imports {sorted(kinds)}"


def test_every_public_name_resolves() -> None:
    for module in (racekit, racekit.sim, racekit.crash, racekit.aio, racekit.series):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
