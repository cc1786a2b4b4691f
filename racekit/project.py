"""Where a project keeps its catalogue: ``[tool.racekit]`` in its pyproject.toml.

racekit runs on the user's own repository, not only on its own checkout, so
nothing may assume the checkout's layout.  A project says where things are::

    [tool.racekit]
    systems = "systems"                   # the package of system modules (SYSTEM = System(...))
    machines = ["stateful_tests", "tests"]  # folders of test modules that may define Machines
    specs = "specs"                       # where `racekit new` writes a thread system's spec
    counterexamples = "counterexamples"   # where counterexamples are written
    notes = "docs/systems"                # one note per system (`racekit new`, the gallery)

Every key is optional (the values above are the defaults); paths are
relative to the folder holding pyproject.toml, the *project root*, which is
put first on ``sys.path`` so ``systems/pool.py`` is the module
``systems.pool``.

How the project is found, first match wins:

1. ``RACEKIT_CATALOGUE=DIR`` (DIR's pyproject.toml, if any, configures it);
2. walking up from the current directory (or, for a Machine, from the file
   defining it; for a counterexample, from the file) to the nearest
   pyproject.toml: its ``[tool.racekit]`` table if it has one, else the
   nearest folder on the way with the default layout (``systems/__init__.py``),
   else that pyproject.toml's folder with the defaults;
3. with no pyproject.toml above at all: the outermost folder on the way with
   a conftest.py (the folder pytest treats as the tests' root), defaults;
4. for a Machine only: the module's own folder (the "project of one test
   file": machines may live in that folder itself, counterexamples go to
   its ``counterexamples/``); for a counterexample file
   ``X/counterexamples/<system>/<file>.json`` with nothing above, or a
   command run in such an X: X, the same kind of project - there a file
   may name only a ``test_*.py`` module in X, the modules pytest itself
   would import.

A bad configuration is one :class:`ConfigError` sentence naming the file,
the key and what is wrong.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from racekit.errors import RacekitError

DEFAULTS: dict[str, str | tuple[str, ...]] = {
    "systems": "systems",
    "machines": ("stateful_tests", "tests"),
    "specs": "specs",
    "counterexamples": "counterexamples",
    "notes": "docs/systems",
}
PACKAGES = ("systems", "machines", "specs")  # imported by name: every part must be an identifier
ENV = "RACEKIT_CATALOGUE"


class ConfigError(RacekitError):
    """``[tool.racekit]`` (or ``RACEKIT_CATALOGUE``) cannot work as written."""


class NoProject(ConfigError):
    """No project around the current directory (or the file) at all."""


@dataclass(frozen=True)
class Project:
    """A project's root and the folders racekit reads and writes there."""

    root: Path
    systems: Path
    machines: tuple[Path, ...]
    specs: Path
    counterexamples: Path
    notes: Path
    origin: str  # how it was found, for messages: "/p/pyproject.toml [tool.racekit]", ...
    one_file: bool = False  # the project of one test file: machines only as test_*.py in the root itself

    def package(self, directory: Path) -> str:
        """The import name of a package folder inside the root (``checks/systems`` -> ``checks.systems``)."""
        return ".".join(directory.relative_to(self.root).parts)

    @property
    def systems_package(self) -> str:
        return self.package(self.systems)

    def rel(self, path: Path) -> str:
        """``path`` relative to the root when it is inside, else as given (for messages and files)."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path.as_posix()

    def shown(self, rel: str | Path) -> str:
        """A path inside the project (``rel`` to the root) as the user types it from the
        current directory: relative when near, else absolute (pytest and racekit run anywhere)."""
        path = self.root / rel
        try:
            text = os.path.relpath(path)
        except ValueError:
            return str(path)
        return text if not text.startswith("../../..") else str(path)

    def has_systems(self) -> bool:
        return (self.systems / "__init__.py").is_file()

    def require_systems(self) -> None:
        if not self.has_systems():
            key = "systems"
            raise ConfigError(
                f"no systems package at {self.systems} ({self.origin}): create one with `racekit new NAME`"
                f" or point [tool.racekit] {key} = \"...\" at yours"
            )

    def importable(self) -> None:
        """Put the root first on ``sys.path``; refuse a same-named package from elsewhere."""
        root = str(self.root)
        if root not in sys.path:
            sys.path.insert(0, root)
        for directory in (self.systems, self.specs, *self.machines):
            if directory == self.root:
                continue  # a one-file project's root: its modules are top-level names, no package
            top = directory.relative_to(self.root).parts[0]
            module = sys.modules.get(top)
            if module is None or not directory.exists():
                continue
            where = [Path(p).resolve() for p in getattr(module, "__path__", [])]
            if where and (self.root / top).resolve() not in where:
                raise ConfigError(
                    f"the package {top!r} is already imported from {where[0]}, not from {self.root / top}: "
                    f"another package of that name came first on sys.path (rename yours in [tool.racekit])"
                )

    def machine_file(self, system: str) -> Path | None:
        """``<machines>/test_<system>.py``, in the configured order."""
        for directory in self.machines:
            candidate = directory / f"test_{system}.py"
            if candidate.is_file():
                return candidate
        return None


# --------------------------------------------------------------------------
# Reading the configuration


def read_table(pyproject: Path) -> dict[str, Any] | None:
    """The ``[tool.racekit]`` table of a pyproject.toml; None when it has none."""
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pyproject}: cannot read ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: not valid TOML ({exc})") from None
    tool = data.get("tool")
    if not isinstance(tool, dict) or "racekit" not in tool:
        return None
    table = tool["racekit"]
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: tool.racekit must be a table ([tool.racekit]), found {type(table).__name__}")
    return table


def _relative(pyproject: Path, key: str, value: Any, package: bool) -> PurePosixPath:
    where = f"{pyproject}: [tool.racekit] {key}"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a path (a non-empty string), found {value!r}")
    path = PurePosixPath(value.strip().replace("\\", "/"))
    if path.is_absolute() or value.strip().startswith("~"):
        raise ConfigError(f"{where} = {value!r} must be relative to the project root {pyproject.parent}")
    parts = [p for p in path.parts if p != "."]
    if not parts or ".." in parts:
        raise ConfigError(f"{where} = {value!r} must name a folder inside the project root {pyproject.parent}")
    if package:
        bad = next((p for p in parts if not p.isidentifier()), None)
        if bad is not None:
            raise ConfigError(f"{where} = {value!r}: {bad!r} is not a Python package name (it is imported by name)")
    return PurePosixPath(*parts)


def from_table(root: Path, table: dict[str, Any], pyproject: Path, origin: str) -> Project:
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{pyproject}: unknown key [tool.racekit] {unknown[0]} (known: {', '.join(DEFAULTS)})")
    merged = {**DEFAULTS, **table}
    machines = merged["machines"]
    if isinstance(machines, str):
        machines = (machines,)
    if not isinstance(machines, (list, tuple)) or not machines:
        raise ConfigError(f"{pyproject}: [tool.racekit] machines must be a path or a list of paths, found {machines!r}")
    paths = {key: _relative(pyproject, key, merged[key], key in PACKAGES) for key in DEFAULTS if key != "machines"}
    machine_paths = tuple(root / _relative(pyproject, "machines", m, True) for m in machines)
    return Project(
        root=root,
        systems=root / paths["systems"],
        machines=machine_paths,
        specs=root / paths["specs"],
        counterexamples=root / paths["counterexamples"],
        notes=root / paths["notes"],
        origin=origin,
    )


def project_at(root: Path, origin: str | None = None) -> Project:
    """The project rooted at ``root``: its pyproject.toml's ``[tool.racekit]``, or the defaults."""
    root = Path(root).resolve()
    pyproject = root / "pyproject.toml"
    table = read_table(pyproject) if pyproject.is_file() else None
    if table is not None:
        return from_table(root, table, pyproject, origin or f"{pyproject} [tool.racekit]")
    return from_table(root, {}, pyproject, origin or f"the default layout under {root}")


def _from_env() -> Project | None:
    env = os.environ.get(ENV)
    if not env:
        return None
    root = Path(env)
    if not root.is_dir():
        raise ConfigError(f"{ENV}={env} is not a directory")
    return project_at(root, f"{ENV}={env}")


def _walk(start: Path) -> Project | None:
    """The nearest pyproject.toml bounds the search: its table if it has one; else
    the nearest default layout below or at it; else it, with the defaults."""
    here = start.resolve()
    chain: list[Path] = []
    boundary = None
    for candidate in (here, *here.parents):
        chain.append(candidate)
        if (candidate / "pyproject.toml").is_file():
            boundary = candidate
            break
    if boundary is not None and read_table(boundary / "pyproject.toml") is not None:
        return project_at(boundary)
    for candidate in chain:
        if (candidate / "systems" / "__init__.py").is_file():
            return project_at(candidate)
    if boundary is not None:
        return project_at(boundary)
    conftests = [d for d in chain if (d / "conftest.py").is_file()]
    if conftests:
        return project_at(conftests[-1], f"the default layout under {conftests[-1]} (its conftest.py, no pyproject.toml)")
    return None


def one_file_project(root: Path, why: str) -> Project:
    """The project of one test file in ``root`` (no pyproject.toml, no conftest.py above):
    the defaults, and machines in ``root`` itself (``test_*.py`` modules only)."""
    p = project_at(root, why)
    return dataclasses.replace(p, machines=(*p.machines, p.root), one_file=True)


def find_project(start: Path | None = None) -> Project:
    """The project for a command run in ``start`` (default: the current directory)."""
    found = _from_env() or _walk(start or Path.cwd())
    here = (start or Path.cwd()).resolve()
    if found is None and (here / str(DEFAULTS["counterexamples"])).is_dir():
        found = one_file_project(here, f"the folder holding {here / str(DEFAULTS['counterexamples'])} (no pyproject.toml)")
    if found is None:
        raise NoProject(
            f"no racekit project found from {(start or Path.cwd()).resolve()}: add a [tool.racekit] table to your "
            f"pyproject.toml (see docs/extending.md), run `racekit new NAME` here, or set {ENV}"
        )
    return found


def project_for_file(path: Path) -> Project:
    """The project a counterexample file belongs to: walking up from the file, else from cwd."""
    env = _from_env()
    if env is not None:
        return env
    here = Path(path).resolve()
    found = _walk(here.parent)
    if found is not None:
        return found
    folder = here.parent.parent
    if folder.name == DEFAULTS["counterexamples"] and here.suffix == ".json":
        return one_file_project(folder.parent, f"the folder holding {folder} (no pyproject.toml or conftest.py)")
    return find_project()


def project_of(obj: Any) -> Project:
    """The project of a Machine (or any class): walking up from the file that defines it.

    This is how ``variant_tests`` in a test module finds where to write
    counterexamples, whatever directory pytest was started from.
    """
    env = _from_env()
    if env is not None:
        return env
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    file = getattr(module, "__file__", None)
    if not file:
        return find_project()
    here = Path(file).resolve().parent
    return _walk(here) or one_file_project(here, f"the folder of {Path(file).name} (no pyproject.toml or conftest.py)")
