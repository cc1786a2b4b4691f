"""``racekit new NAME --kind thr|sim|proc``: the files of a new system, ready to edit.

Each kind gets a working broken/fixed pair, so ``racekit check NAME`` passes
straight away and shows the shape to copy: the same three hooks (seed
scenarios, draw, shrink) for every kind.  The thread and simulator templates
are the worked examples of docs/extending.md.
"""

from __future__ import annotations

from pathlib import Path

from racekit.errors import RacekitError
from racekit.project import Project

_THR_SYSTEM = '''"""{title}: a value several threads add to; the broken variant loses updates."""

from __future__ import annotations

from racekit import System, Variant, sync


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

_THR_SPEC = '''"""Sequential spec of {name}: the sum of every put."""

from __future__ import annotations

from typing import Any

from racekit import Spec


class {cls}Spec(Spec):
    name = "{name}"

    def init(self) -> Any:
        return 0

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "put":
            return state + args[0], None
        if name == "get":
            return state, state
        raise ValueError(name)
'''

_THR_TEST = '''"""State machine for {name}: puts and gets on two threads."""

from __future__ import annotations

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, variant_tests
from {specs_pkg}.{name} import {cls}Spec
from {systems_pkg} import {name}


class Machine(ConcurrentStateMachine):
    system = {name}.SYSTEM
    spec = {cls}Spec()
    threads = 2
    max_ops = 4
    operations = {{"put": (st.integers(1, 3),), "get": ()}}
    final_calls = [("get", ())]  # observe the total once every operation returned
    seed_scenario = [[("put", (1,))], [("put", (2,))]]  # explored exhaustively first


test_{name} = variant_tests(Machine)
'''

_SIM_SYSTEM = '''"""{title}: a two-replica register; the broken variant acknowledges before replicating."""

from __future__ import annotations

from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request


class AckFirst(Node):
    """Broken: replies to a put at once and replicates in the background."""

    def __init__(self) -> None:
        self.value = 0

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if msg.name == "put":
                self.value = msg.args[0]
                for peer in self.ctx.peers:
                    self.send(peer, ("replicate", msg.args[0]))
                self.reply(src, msg, None)
            else:
                self.reply(src, msg, self.value)
        elif msg[0] == "replicate":
            self.value = max(self.value, msg[1])


class ReplicateFirst(Node):
    """Fixed: replies to a put only after every peer acknowledged it."""

    def __init__(self) -> None:
        self.value = 0
        self.waiting: dict[int, tuple[str, Request, set[str]]] = {{}}

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if msg.name == "put":
                self.value = max(self.value, msg.args[0])
                self.waiting[msg.req] = (src, msg, set(self.ctx.peers))
                for peer in self.ctx.peers:
                    self.send(peer, ("replicate", msg.req, msg.args[0]))
            else:
                self.reply(src, msg, self.value)
        elif msg[0] == "replicate":
            self.value = max(self.value, msg[2])
            self.send(src, ("ack", msg[1]))
        elif msg[0] == "ack" and msg[1] in self.waiting:
            client, request, pending = self.waiting[msg[1]]
            pending.discard(src)
            if not pending:
                del self.waiting[msg[1]]
                self.reply(client, request, None)


SYSTEM = System(
    name="{name}",
    summary="{title}",
    kind="sim",
    variants=[
        Variant("ack_first", lambda: AckFirst, expect="violation", property="no_stale_read",
                bug="acknowledges a write before any other replica has it"),
        Variant("replicate_first", lambda: ReplicateFirst, expect="correct"),
    ],
)
'''

_SIM_TEST = '''"""Simulated {name}: a put at one replica, reads anywhere, message drops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from racekit import Variant, variant_tests
from racekit.sim import ClientOp, ClientScript, Draw, FaultBudget, Node, Property, SimMachine, World, WorldConfig
from racekit.sim import make_scenario_json
from {systems_pkg} import {name}

NODES = ("a", "b")


def no_stale_read(world: World) -> str | None:
    """Values only grow, so a read must see at least the last write acknowledged before it."""
    ops = world.recorder.history().operations
    for read in ops:
        if read.name != "get" or read.status != "ok":
            continue
        acked = [w.args[0] for w in ops if w.name == "put" and w.status == "ok" and w.ret is not None and w.ret < read.invoke]
        if acked and read.result < max(acked):
            return f"get #{{read.id}} returned {{read.result}} after put({{max(acked)}}) was acknowledged"
    return None


class Machine(SimMachine):
    system = {name}.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """A put at a, then a get at b: every delivery order is run first."""
        ops = (ClientOp("a", "put", (1,)), ClientOp("b", "get"))
        return [make_scenario_json(WorldConfig(nodes=NODES, horizon=500), [ClientScript("c1", ops, timeout=100)])]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        ops = [ClientOp("a", "put", (1,)), ClientOp("b", "get")]
        for i in range(1, draw.integer(1, 3)):
            node = draw.pick(NODES)
            ops.append(ClientOp(node, "put", (i + 1,)) if draw.boolean() else ClientOp(node, "get"))
        config = WorldConfig(nodes=NODES, horizon=500, faults=FaultBudget(drop=1))
        return make_scenario_json(config, [ClientScript("c1", tuple(ops), timeout=100)])

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        node_cls = variant.factory()
        return lambda nid: node_cls()

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        return [Property("no_stale_read", no_stale_read)]


test_{name} = variant_tests(Machine)
'''

_PROC_SYSTEM = '''"""{title}: a deposit writes a ledger row and a balance; SIGKILL must not split them."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from racekit import System, Variant
from racekit.crash import crashpoint


def setup(db: str) -> None:
    with closing(sqlite3.connect(db)) as con, con:
        con.execute("CREATE TABLE account (balance INTEGER)")
        con.execute("CREATE TABLE ledger (amount INTEGER)")
        con.execute("INSERT INTO account VALUES (0)")


def deposit(db: str, variant: str, amount: int) -> None:
    """Runs in a worker process; the harness may switch or kill it after any statement or commit."""
    with closing(sqlite3.connect(db)) as con:
        if variant == "two_commits":
            con.execute("INSERT INTO ledger VALUES (?)", (amount,))
            con.commit()
            crashpoint("between-commits")
            con.execute("UPDATE account SET balance = balance + ?", (amount,))
            con.commit()
        else:
            with con:
                con.execute("INSERT INTO ledger VALUES (?)", (amount,))
                con.execute("UPDATE account SET balance = balance + ?", (amount,))
            crashpoint("after-commit")


SYSTEM = System(
    name="{name}",
    summary="{title}",
    kind="proc",
    variants=[
        Variant("two_commits", lambda: "two_commits", expect="violation", property="ledger-matches-balance",
                bug="the ledger row and the balance are committed separately"),
        Variant("one_transaction", lambda: "one_transaction", expect="correct"),
    ],
)
'''

_PROC_TEST = '''"""{name} under SIGKILL: a worker process per deposit, killed after any statement or commit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

from racekit import Draw, Variant, variant_tests
from racekit.crash import CrashMachine, Driver, Run, Violation
from {systems_pkg} import {name}


class DepositDriver(Driver):
    def __init__(self, variant: str, amounts: list[int]) -> None:
        self.variant, self.amounts, self.db = variant, amounts, ""

    def start(self, run: Run) -> None:
        self.db = str(run.workdir / "bank.db")
        {name}.setup(self.db)
        for i, amount in enumerate(self.amounts):
            run.submit(f"w{{i}}", "{systems_pkg}.{name}:deposit", {{"db": self.db, "variant": self.variant, "amount": amount}})

    def finish(self, run: Run) -> None:
        with closing(sqlite3.connect(self.db)) as con:
            balance = con.execute("SELECT balance FROM account").fetchone()[0]
            ledger = con.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger").fetchone()[0]
        run.note("check", "state", f"balance {{balance}}, ledger {{ledger}}")
        if balance != ledger:
            raise Violation("ledger-matches-balance", f"ledger says {{ledger}} but the balance is {{balance}}")


class Machine(CrashMachine):
    system = {name}.SYSTEM
    max_kills = 1

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return DepositDriver(variant.factory(), scenario["amounts"])

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [{{"amounts": [5]}}, {{"amounts": [5, 7]}}]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        return {{"amounts": [draw.integer(1, 9) for _ in range(draw.integer(1, 3))]}}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        amounts = scenario["amounts"]
        for i in range(len(amounts)):
            if len(amounts) > 1:
                yield {{"amounts": amounts[:i] + amounts[i + 1 :]}}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["amounts"])


test_{name} = variant_tests(Machine)
'''

_NOTE = '''# {title}

## What can go wrong?

## What did we sacrifice?

## What would break at 10x scale?

## What real system does this resemble?

## What racekit found
'''

def scaffold(root: Path | Project, name: str, kind: str = "thr") -> list[Path]:
    """Write the files of system ``name`` of ``kind`` into the project; refuse to overwrite.

    The files go where the project's ``[tool.racekit]`` says (systems, the
    first machines folder, specs, notes), and import those packages by the
    names the configuration gives them.
    """
    from racekit.registry import project

    proj = project(root)
    cls = "".join(part.title() for part in name.split("_"))
    title = name.replace("_", " ").capitalize()
    fmt = {"name": name, "cls": cls, "title": title, "systems_pkg": proj.systems_package,
           "specs_pkg": proj.package(proj.specs)}
    templates = {
        "thr": {"systems": _THR_SYSTEM, "specs": _THR_SPEC, "machines": _THR_TEST},
        "sim": {"systems": _SIM_SYSTEM, "machines": _SIM_TEST},
        "proc": {"systems": _PROC_SYSTEM, "machines": _PROC_TEST},
    }.get(kind)
    if templates is None:
        raise RacekitError(f"unknown kind {kind!r} (choose from: thr, sim, proc)")
    folders = {"systems": proj.systems, "specs": proj.specs, "machines": proj.machines[0]}
    files = {
        folders[folder] / (f"test_{name}.py" if folder == "machines" else f"{name}.py"): text.format(**fmt)
        for folder, text in templates.items()
    }
    files[proj.notes / f"{name}.md"] = _NOTE.format(**fmt)
    existing = [p for p in files if p.exists()]
    if existing:
        raise RacekitError(f"{existing[0]} already exists; pick another name")
    for folder in {proj.systems, proj.specs, proj.machines[0]}:
        # every package folder from the root down: the configured names are imported as packages
        for depth in range(1, len(folder.relative_to(proj.root).parts) + 1):
            init = proj.root.joinpath(*folder.relative_to(proj.root).parts[:depth]) / "__init__.py"
            if not init.exists():
                files[init] = ""
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
