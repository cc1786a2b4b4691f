"""Sequential spec of a hot-reloaded configuration.

State: the installed ``(version, content)``.  ``apply(version, content)``
installs it only if it is newer (versions move forward; a rollback is a new
version); ``read()`` returns the installed version's fields, whole.

A history is linearizable against this spec exactly when every read
returned one whole version that was current at some instant inside the
read, and the installed version never went backwards - "every read is one
whole version" and "a node's version never goes backwards", checked by the
linearizability checker rather than by hand-written invariants.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from racekit import Spec
from systems.config_reload import INITIAL, snapshot_of

Installed = tuple[int, str]


def install(state: Installed, version: int, content: str) -> Installed:
    """post: __return__[0] >= state[0]
    post: __return__ == state or __return__ == (version, content)
    """
    return (version, content) if version > state[0] else state


class ConfigSpec(Spec):
    """``apply(version, content)`` (forward only) and ``read()`` (whole fields)."""

    name: ClassVar[str] = "versioned-config"

    def init(self) -> Hashable:
        return (INITIAL.version, "c1")

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "apply":
            return install(state, args[0], args[1]), None
        if name == "read":
            return state, snapshot_of(state[0], state[1]).as_read()
        raise ValueError(f"config spec has no operation {name!r}")

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return name == "read"

    def describe_state(self, state: Hashable) -> str:
        assert isinstance(state, tuple)
        return f"version {state[0]} ({state[1]})"
