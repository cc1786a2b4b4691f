"""``racekit new NAME``: the four files of a new thread system, ready to edit."""

from __future__ import annotations

from pathlib import Path

from racekit.errors import RacekitError

_SYSTEM = '''"""{title}: what it is, and how its broken variant goes wrong."""

from __future__ import annotations

from racekit import sync
from racekit.declarations import System, Variant


class Broken:
    def __init__(self) -> None:
        self.value = 0

    def put(self, x: int) -> None:
        self.value = self.value + x  # read-modify-write without a lock

    def get(self) -> int:
        return self.value


class Fixed:
    def __init__(self) -> None:
        self.value = 0
        self.lock = sync.Lock()

    def put(self, x: int) -> None:
        with self.lock:
            self.value = self.value + x

    def get(self) -> int:
        with self.lock:
            return self.value


SYSTEM = System(
    name="{name}",
    summary="{title}",
    kind="thr",
    variants=[
        Variant("broken", Broken, expect="violation", property="linearizability", bug="lost update"),
        Variant("fixed", Fixed, expect="correct"),
    ],
)
'''

_SPEC = '''"""Sequential spec of {name}."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from racekit.spec import Spec


class {cls}Spec(Spec):
    name = "{name}"

    def init(self) -> Hashable:
        return 0

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "put":
            return state + args[0], None
        if name == "get":
            return state, state
        raise ValueError(name)
'''

_TEST = '''"""State machine for {name}."""

from __future__ import annotations

from hypothesis import strategies as st

from racekit.machine import ConcurrentStateMachine
from racekit.testing import variant_tests
from specs.{name} import {cls}Spec
from systems import {name}


class Machine(ConcurrentStateMachine):
    system = {name}.SYSTEM
    spec = {cls}Spec()
    threads = 2
    max_ops = 4
    operations = {{"put": (st.integers(1, 3),), "get": ()}}
    final_calls = [("get", ())]
    explore_scenario = [[("put", (1,))], [("put", (2,))]]


Test{cls}Machine = Machine.TestCase
test_{name} = variant_tests(Machine)
'''

_NOTE = '''# {title}

## What can go wrong?

## What did we sacrifice?

## What would break at 10x scale?

## What real system does this resemble?

## What racekit found
'''


def scaffold(root: Path, name: str) -> list[Path]:
    cls = "".join(part.title() for part in name.split("_"))
    title = name.replace("_", " ").capitalize()
    files = {
        root / "systems" / f"{name}.py": _SYSTEM.format(name=name, title=title),
        root / "specs" / f"{name}.py": _SPEC.format(name=name, cls=cls),
        root / "stateful_tests" / f"test_{name}.py": _TEST.format(name=name, cls=cls),
        root / "docs" / "systems" / f"{name}.md": _NOTE.format(title=title),
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise RacekitError(f"{existing[0]} already exists; pick another name")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
