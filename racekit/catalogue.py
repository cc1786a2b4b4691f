"""Catalogue declarations: systems, their variants, and what each must show.

A catalogue system is two modules found by *registered name only*:

* ``systems/<id>.py`` defines ``SYSTEM = System(...)``: the variants (broken
  and fixed, each with its expectation) and a one-line summary.
* ``stateful_tests/test_<id>.py`` defines ``Machine``: the engine driver for
  that system (a :class:`racekit.machine.ConcurrentStateMachine` for thread
  systems, a simulator machine for distributed ones, a crash harness for real
  processes).  A machine implements the :class:`Engine` protocol below.

The registry lists the ``systems`` package; a name read from a counterexample
file is looked up in that list and never used as an import path itself.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from racekit.errors import InvalidDefinition, UnknownSystem

Expect = Literal["violation", "correct"]
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Variant:
    """One implementation of a system.

    ``factory`` builds a fresh instance (thread systems) or a configuration
    object the engine understands (sim/proc systems).  A broken variant names
    the ``property`` it must be caught violating and its ``bug`` in words.
    """

    name: str
    factory: Callable[..., Any]
    expect: Expect
    property: str | None = None
    bug: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidDefinition(f"variant name {self.name!r} must match {_NAME.pattern}")
        if self.expect == "violation" and not self.property:
            raise InvalidDefinition(
                f"variant {self.name!r} expects a violation but names no property it breaks"
            )
        if self.expect not in ("violation", "correct"):
            raise InvalidDefinition(f"variant {self.name!r}: expect must be 'violation' or 'correct'")


@dataclass(frozen=True)
class System:
    """A catalogue system: its variants and how it is run."""

    name: str
    summary: str
    kind: Literal["thr", "sim", "db", "proc"]
    variants: Sequence[Variant]
    properties: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidDefinition(f"system name {self.name!r} must match {_NAME.pattern}")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise InvalidDefinition(f"system {self.name!r} declares a variant name twice: {names}")
        if not any(v.expect == "correct" for v in self.variants):
            raise InvalidDefinition(f"system {self.name!r} has no fixed (expect='correct') variant")

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise UnknownSystem(
            f"system {self.name!r} has no variant {name!r} (it has: {', '.join(v.name for v in self.variants)})"
        )

    @property
    def broken(self) -> list[Variant]:
        return [v for v in self.variants if v.expect == "violation"]

    @property
    def fixed(self) -> list[Variant]:
        return [v for v in self.variants if v.expect == "correct"]


@dataclass
class Outcome:
    """What one search or replay of one variant found.

    Everything here is plain JSON-able data, so the store can write it and the
    gallery can draw it.  ``failed`` with ``kind`` in assertion / invariant /
    linearizability / deadlock / livelock / exception; ``property`` names the
    catalogue property that was violated.
    """

    failed: bool
    kind: str | None = None
    property: str | None = None
    message: str = ""
    engine: str = ""
    scenario: Any = None
    choices: list[int] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] | None = None
    explanation: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)


class Profile(Protocol):
    name: str
    max_examples: int
    budget: int


@dataclass(frozen=True)
class ProfileSettings:
    """How hard to look: ``ci`` keeps the suite under five minutes, ``deep`` does not."""

    name: str
    max_examples: int
    budget: int
    stateful_step_count: int


PROFILES: dict[str, ProfileSettings] = {
    "smoke": ProfileSettings("smoke", max_examples=15, budget=300, stateful_step_count=15),
    "ci": ProfileSettings("ci", max_examples=60, budget=2_000, stateful_step_count=25),
    "deep": ProfileSettings("deep", max_examples=3_000, budget=100_000, stateful_step_count=80),
}


def profile(name: str) -> ProfileSettings:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownSystem(f"unknown profile {name!r} (choose from: {', '.join(PROFILES)})") from None


class Engine(Protocol):
    """What every system's ``Machine`` provides to the plugin and the CLI."""

    system: System

    @classmethod
    def search(cls, variant: Variant, profile: ProfileSettings) -> Outcome: ...

    @classmethod
    def replay(cls, variant: Variant, scenario: Any, choices: list[int]) -> Outcome: ...


# --------------------------------------------------------------------------
# Registry


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


def load_machine(name: str, root: Path | None = None) -> type[Engine]:
    """The engine driver declared as ``Machine`` in ``stateful_tests/test_<name>.py``."""
    root = root or catalogue_root()
    load_system(name, root)  # validates the name against the registry first
    module = importlib.import_module(f"stateful_tests.test_{name}")
    machine = getattr(module, "Machine", None)
    if machine is None or not hasattr(machine, "search") or not hasattr(machine, "replay"):
        raise InvalidDefinition(
            f"stateful_tests/test_{name}.py defines no Machine with search() and replay()"
        )
    return machine  # type: ignore[no-any-return]
