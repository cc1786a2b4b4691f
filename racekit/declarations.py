"""Catalogue declarations: a system, its variants, and what each must show.

A broken variant names the ``property`` it must be caught violating and its
``bug`` in words; a fixed one (``expect="correct"``) must stay clean under
the same search and replay every broken sibling's counterexample clean.
Mistakes fail at definition time with a sentence naming them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from racekit.errors import InvalidDefinition, UnknownSystem

Expect = Literal["violation", "correct"]
Kind = Literal["thr", "sim", "db", "proc", "aio", "series"]
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Variant:
    """One implementation of a system.

    ``factory`` builds a fresh instance (thread systems) or a configuration
    the engine understands (simulated and process systems).  ``trace_files``
    (thread systems): the source files opcode tracing covers; None = the
    factory's own code, () = none.  ``params``: system-specific settings
    the system's ``Machine`` reads (``variant.params["approximate"]``).
    ``options`` is the older untyped spelling of both, still read.
    """

    name: str
    factory: Callable[..., Any]
    expect: Expect
    property: str | None = None
    bug: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    trace_files: Sequence[str] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise InvalidDefinition(f"variant name {self.name!r} must match {NAME.pattern}")
        if self.expect not in ("violation", "correct"):
            raise InvalidDefinition(f"variant {self.name!r}: expect must be 'violation' or 'correct'")
        if self.expect == "violation" and not self.property:
            raise InvalidDefinition(f"variant {self.name!r} expects a violation but names no property it breaks")
        unknown = set(self.options) - {"trace_files"}
        if unknown:
            raise InvalidDefinition(
                f"variant {self.name!r}: unknown option(s) {sorted(unknown)}; put system settings in params={{...}}"
            )
        if "trace_files" in self.options and self.trace_files is None:
            object.__setattr__(self, "trace_files", tuple(self.options["trace_files"]))


@dataclass(frozen=True)
class System:
    """A catalogue system: its variants and which engine runs it."""

    name: str
    summary: str
    kind: Kind
    variants: Sequence[Variant]
    properties: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise InvalidDefinition(f"system name {self.name!r} must match {NAME.pattern}")
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
