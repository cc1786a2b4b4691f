"""The registry: which systems exist, found by *registered name only*.

A catalogue system is two modules of a project (see :mod:`racekit.project`
for where the folders are):

* ``<systems>/<id>.py`` defines ``SYSTEM = System(...)`` (its variants);
* ``<machines>/test_<id>.py`` defines ``Machine``: the system's engine
  (see :mod:`racekit.engine`).

The registry lists the systems package; a name read from a counterexample
file is looked up in that list and never used as an import path itself.  A
Machine declared anywhere else (a test module of the user's) is named in
the files it saves as ``PATH.py:CLASS``; :func:`machine_for` imports it only
after checking that PATH is a module inside one of the project's configured
machine or systems folders, and that the class really is the engine of the
file's system.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from racekit.declarations import NAME as _NAME
from racekit.declarations import System
from racekit.errors import CounterexampleError, InvalidDefinition, UnknownSystem
from racekit.project import Project, find_project, project_at
from racekit.store import MACHINE_REF

if TYPE_CHECKING:
    from racekit.engine import Engine



def catalogue_root(start: Path | None = None) -> Path:
    """The root of the project racekit runs on (see :func:`racekit.project.find_project`)."""
    return find_project(start).root


def project(root: Path | Project | None = None) -> Project:
    """A project from what callers hold: nothing (find it from cwd), its root, or itself."""
    if root is None:
        return find_project()
    if isinstance(root, Project):
        return root
    return project_at(root)


def system_names(root: Path | Project | None = None) -> list[str]:
    """Every registered system: the modules of the systems package."""
    p = project(root)
    p.require_systems()
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(p.systems)])
        if not m.name.startswith("_") and _NAME.match(m.name)
    )


def load_system(name: str, root: Path | Project | None = None) -> System:
    p = project(root)
    names = system_names(p)
    if name not in names:
        raise UnknownSystem(f"unknown system {name!r} (known: {', '.join(names) or 'none'})")
    p.importable()
    module = importlib.import_module(f"{p.systems_package}.{name}")
    system = getattr(module, "SYSTEM", None)
    rel = p.rel(p.systems / f"{name}.py")
    if not isinstance(system, System):
        raise InvalidDefinition(f"{rel} defines no SYSTEM = System(...)")
    if system.name != name:
        raise InvalidDefinition(f"{rel} declares SYSTEM.name = {system.name!r}")
    return system


def _is_engine(obj: Any) -> bool:
    return isinstance(obj, type) and hasattr(obj, "session") and hasattr(obj, "seed_scenarios")


def load_machine(name: str, root: Path | Project | None = None) -> Engine:
    """The engine driver declared as ``Machine`` in ``<machines>/test_<name>.py``."""
    p = project(root)
    load_system(name, p)  # validates the name against the registry first
    file = p.machine_file(name)
    if file is None:
        where = " or ".join(p.rel(d / f"test_{name}.py") for d in p.machines)
        raise InvalidDefinition(f"system {name!r} has no state machine: expected {where} defining Machine")
    module = _import_file(p, file)
    machine = getattr(module, "Machine", None)
    if not _is_engine(machine):
        raise InvalidDefinition(f"{p.rel(file)} defines no Machine (a racekit engine subclass)")
    engine: Engine = machine  # type: ignore[assignment]  # checked above: a class with the engine's hooks
    return engine


# --------------------------------------------------------------------------
# Machines outside the registry, named by the files they saved


def _module_file(obj: Any) -> Path | None:
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def machine_ref(p: Project, machine: Any) -> str | None:
    """How a file names the Machine that found it: None for a registered system's own
    ``Machine`` (found by name), else ``PATH.py:CLASS`` relative to the project root."""
    system = getattr(machine, "system", None)
    name = getattr(system, "name", None)
    file = _module_file(machine)
    cls = getattr(machine, "__qualname__", "")
    if file is None or not isinstance(name, str) or not cls.isidentifier():
        return None
    registered = p.machine_file(name)
    if registered is not None and registered.resolve() == file and cls == "Machine" and p.has_systems() \
            and (p.systems / f"{name}.py").is_file():
        return None
    try:
        rel = file.relative_to(p.root.resolve()).as_posix()
    except ValueError:
        return None  # not inside the project: nothing a file could name safely
    return f"{rel}:{cls}" if MACHINE_REF.match(f"{rel}:{cls}") else None


def _import_file(p: Project, file: Path) -> Any:
    """Import a module file of the project under the name its package folders give it."""
    file = file.resolve()
    for module in list(sys.modules.values()):
        mfile = getattr(module, "__file__", None)
        if mfile and Path(mfile).resolve() == file:
            return module
    p.importable()
    base = file.parent
    parts = [file.stem]
    while (base / "__init__.py").is_file() and base != p.root.resolve():
        parts.insert(0, base.name)
        base = base.parent
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    name = ".".join(parts)
    module = importlib.import_module(name)
    got = getattr(module, "__file__", None)
    if not got or Path(got).resolve() != file:
        raise InvalidDefinition(f"importing {name!r} gave {got}, not {file}: another module of that name came first")
    return module


def machine_for(doc: dict[str, Any], root: Path | Project | None = None, source: str = "") -> Engine:
    """The engine of a counterexample document: by its ``machine`` reference, checked
    against the project's configuration, or by its system's registered name."""
    p = project(root)
    ref = doc.get("machine")
    if ref is None:
        return load_machine(doc["system"], p)
    where = f"{source}: " if source else ""
    m = MACHINE_REF.match(ref) if isinstance(ref, str) else None
    if m is None:
        raise CounterexampleError(f"{where}machine {ref!r} is not PATH.py:CLASS")
    rel = PurePosixPath(m["path"])
    if ".." in rel.parts or rel.is_absolute():
        raise CounterexampleError(f"{where}machine {ref!r} leaves the project")
    file = (p.root / rel).resolve()
    folders = (*p.machines, p.systems)
    if p.one_file:  # its root itself holds only the test_*.py modules pytest would import there, not below
        folders = tuple(d for d in folders if d != p.root)
    allowed = [d.resolve() for d in folders]
    top_test = p.one_file and file.parent == p.root.resolve() and file.name.startswith("test_")
    if not top_test and not any(file.is_relative_to(d) for d in allowed):
        shown = ", ".join([p.rel(d) for d in folders] + ([f"test_*.py in {p.root}"] if p.one_file else []))
        raise CounterexampleError(
            f"{where}machine {ref!r} is not in a folder {p.origin} allows machines in ({shown}); "
            "add its folder to [tool.racekit] machines"
        )
    if not file.is_file():
        raise CounterexampleError(f"{where}machine {ref!r}: no such file {file}")
    module = _import_file(p, file)
    machine = getattr(module, m["cls"], None)
    if not _is_engine(machine):
        raise CounterexampleError(f"{where}{m['path']} defines no engine class {m['cls']}")
    system = getattr(machine, "system", None)
    if not isinstance(system, System) or system.name != doc["system"]:
        got = getattr(system, "name", None)
        raise CounterexampleError(f"{where}{ref} runs system {got!r}, but the file is a counterexample of {doc['system']!r}")
    engine: Engine = machine  # type: ignore[assignment]
    return engine
