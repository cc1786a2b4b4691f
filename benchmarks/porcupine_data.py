"""Benchmark: racekit's checker on Porcupine's test data, plus a crash stress.

Run ``python benchmarks/porcupine_data.py`` from the repository root.  It
parses every etcd and kv file in ``../shared/porcupine/data`` (parsing is
not timed), checks each once per run, and reports for each group the total
check time (best of ``--runs``), the slowest file and the ratio to
Porcupine's figures from ``shared/BENCHMARKS.md`` (Go, same machine kind:
etcd 0.50-0.72 s total, kv 0.19-0.31 s total).

The stress part builds register histories with 20 processes and 30 crashed
(``info``) writes, deterministically from a seed: the shape on which
Porcupine runs out of time and memory.  It reports how long racekit takes
to settle them, with values from a small domain (every crashed write is
observable, so only the search's info-op handling helps) and with unique
values (the unobservable-write pruning drops them).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from racekit.formats import load
from racekit.history import History, Operation
from racekit.linearizability import LinResult, check
from racekit.models import KVSpec, RegisterSpec

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PORCUPINE = {"etcd": (0.50, 0.72), "kv": (0.19, 0.31)}  # total seconds, BENCHMARKS.md


# ---------------------------------------------------------------------------
# Synthetic stress: many processes, many crashed writes
# ---------------------------------------------------------------------------


@dataclass
class _Pending:
    id: int
    name: str
    args: tuple[int, ...]
    invoke: int
    crash: bool
    applied: bool = False
    result: object = None


@dataclass
class _World:
    rng: random.Random
    values: int
    value: int | None = None
    clock: int = 0
    ops: list[Operation] = field(default_factory=list)
    later: list[int] = field(default_factory=list)  # values of crashed writes still to land


def crashed_writes_history(
    seed: int,
    processes: int = 20,
    crashed: int = 30,
    ops: int = 300,
    values: int = 5,
    violation: bool = False,
) -> History:
    """A register history (read/write/cas, initial ``None``) with crashed writes.

    ``processes`` clients run at once.  Writes crash with a probability that
    gives about ``crashed`` of them; a crashed write lands at once, lands
    much later, or never, and its client is replaced by a fresh one (as in
    Jepsen).  With ``violation`` one late read reports a value nobody wrote,
    so the whole search space must be exhausted to prove it.
    """
    rng = random.Random(seed)
    world = _World(rng, values)
    active = list(range(processes))
    next_process = processes
    pending: dict[int, _Pending] = {}
    issued = 0
    crash_p = min(1.0, crashed / max(1.0, ops * 0.35))
    n_crashed = 0
    while issued < ops or pending:
        world.clock += 1
        if world.later and rng.random() < 0.02:
            world.value = world.later.pop(rng.randrange(len(world.later)))
        p = rng.choice(active)
        op = pending.get(p)
        if op is None:
            if issued < ops:
                issued += 1
                pending[p] = _new_op(world, issued - 1, crash_p)
            continue
        if not op.applied:
            _apply(world, op)
            continue
        del pending[p]
        if op.crash and n_crashed < crashed:
            n_crashed += 1
            world.ops.append(Operation(op.id, p, op.name, op.args, op.invoke, None, None, "info"))
            active.remove(p)
            active.append(next_process)
            next_process += 1
        else:
            world.ops.append(Operation(op.id, p, op.name, op.args, op.invoke, world.clock, op.result, "ok"))
    history = sorted(world.ops, key=lambda o: o.id)
    if violation:
        reads = [o for o in history if o.name == "read" and o.status == "ok"]
        target = reads[-max(1, len(reads) // 10)]
        history[history.index(target)] = Operation(
            target.id, target.process, "read", (), target.invoke, target.ret, values + 1, "ok"
        )
    return History(history)


def _new_op(world: _World, op_id: int, crash_p: float) -> _Pending:
    rng, values = world.rng, world.values
    r = rng.random()
    if r < 0.45:
        return _Pending(op_id, "read", (), world.clock, False)
    if r < 0.8:
        return _Pending(op_id, "write", (rng.randrange(values),), world.clock, rng.random() < crash_p)
    return _Pending(op_id, "cas", (rng.randrange(values), rng.randrange(values)), world.clock, False)


def _apply(world: _World, op: _Pending) -> None:
    op.applied = True
    if op.name == "read":
        op.result = world.value
    elif op.name == "write":
        if not op.crash:
            world.value = op.args[0]
            return
        fate = world.rng.random()
        if fate < 0.4:
            world.value = op.args[0]
        elif fate < 0.7:
            world.later.append(op.args[0])
    else:
        ok = world.value == op.args[0]
        if ok:
            world.value = op.args[1]
        op.result = ok
