"""The registry: which systems exist, found by *registered name only*.

A catalogue system is two modules:

* ``systems/<id>.py`` defines ``SYSTEM = System(...)`` (its variants);
* ``stateful_tests/test_<id>.py`` defines ``Machine``: the system's engine
  (see :mod:`racekit.engine`).

The registry lists the ``systems`` package; a name read from a
counterexample file is looked up in that list and never used as an import
path itself.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from racekit.declarations import NAME as _NAME
from racekit.declarations import System
from racekit.errors import InvalidDefinition, UnknownSystem

if TYPE_CHECKING:
    from racekit.engine import Engine



def catalogue_root(start: Path | None = None) -> Path:
    """The directory holding ``systems/``: the racekit checkout.

    Found from ``RACEKIT_CATALOGUE`` or by walking up from ``start`` (cwd).
    """
    import os

    env = os.environ.get("RACEKIT_CATALOGUE")
    if env:
        root = Path(env).resolve()
        if (root / "systems" / "__init__.py").is_file():
            return root
        raise UnknownSystem(f"RACEKIT_CATALOGUE={env} holds no systems/ package")
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "systems" / "__init__.py").is_file() and (candidate / "racekit").is_dir():
            return candidate
    raise UnknownSystem(
        "no racekit catalogue found: run from the racekit checkout or set RACEKIT_CATALOGUE"
    )


def _ensure_importable(root: Path) -> None:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def system_names(root: Path | None = None) -> list[str]:
    """Every registered system: the modules of the ``systems`` package."""
    root = root or catalogue_root()
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(root / "systems")])
        if not m.name.startswith("_") and _NAME.match(m.name)
    )


def load_system(name: str, root: Path | None = None) -> System:
    root = root or catalogue_root()
    names = system_names(root)
    if name not in names:
        raise UnknownSystem(f"unknown system {name!r} (known: {', '.join(names) or 'none'})")
    _ensure_importable(root)
    module = importlib.import_module(f"systems.{name}")
    system = getattr(module, "SYSTEM", None)
    if not isinstance(system, System):
        raise InvalidDefinition(f"systems/{name}.py defines no SYSTEM = System(...)")
    if system.name != name:
        raise InvalidDefinition(f"systems/{name}.py declares SYSTEM.name = {system.name!r}")
    return system


def load_machine(name: str, root: Path | None = None) -> Engine:
    """The engine driver declared as ``Machine`` in ``stateful_tests/test_<name>.py``."""
    root = root or catalogue_root()
    load_system(name, root)  # validates the name against the registry first
    module = importlib.import_module(f"stateful_tests.test_{name}")
    machine = getattr(module, "Machine", None)
    if not isinstance(machine, type) or not hasattr(machine, "session") or not hasattr(machine, "seed_scenarios"):
        raise InvalidDefinition(f"stateful_tests/test_{name}.py defines no Machine (a racekit engine subclass)")
    engine: Engine = machine  # type: ignore[assignment]  # checked above: a class with the engine's hooks
    return engine
