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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from racekit.formats import load
from racekit.history import History, Operation, Status
from racekit.linearizability import LinResult, check
from racekit.models import CasRegisterSpec, KVSpec, RegisterSpec
from racekit.spec import Spec

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
    failed_cas: str = "result",
) -> History:
    """A register history (read/write/cas, initial ``None``) with crashed writes.

    ``processes`` clients run at once.  Writes crash with a probability that
    gives about ``crashed`` of them; a crashed write lands at once, lands
    much later, or never, and its client is replaced by a fresh one (as in
    Jepsen).  With ``violation`` one late read reports a value nobody wrote,
    so the whole search space must be exhausted to prove it.  A cas whose
    compare fails is recorded as an ok op returning False (``failed_cas=
    "result"``, Porcupine's etcd) or as ``fail``, did not happen
    (``failed_cas="fail"``, Knossos's cas-register).
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
            status: Status = "fail" if failed_cas == "fail" and op.result is False else "ok"
            world.ops.append(Operation(op.id, p, op.name, op.args, op.invoke, world.clock, op.result, status))
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


def as_porcupine_sees_it(history: History) -> History:
    """Crashed writes as Porcupine models them: mandatory, pending until after the end."""
    end = max((o.ret for o in history if o.ret is not None), default=0) + 1
    return History([
        Operation(o.id, o.process, o.name, o.args, o.invoke, end, None, "ok") if o.status == "info" else o
        for o in history
    ])


# ---------------------------------------------------------------------------
# Porcupine's data
# ---------------------------------------------------------------------------


def _porcupine_files() -> dict[str, list[tuple[str, History]]]:
    expected = json.loads((SHARED / "porcupine" / "expected.json").read_text())
    groups: dict[str, list[tuple[str, History]]] = {"etcd": [], "kv": []}
    for path in sorted((SHARED / "porcupine" / "data").iterdir()):
        model = "etcd" if path.name.startswith("etcd_") else "kv"
        entry = expected.get(path.name)
        if entry is not None:
            assert entry["model"] == model
        groups[model].append((path.name, load(path, "jepsen-etcd" if model == "etcd" else "porcupine-kv")))
    return groups


def bench_porcupine(runs: int) -> dict[str, dict[str, float | str]]:
    groups = _porcupine_files()
    report: dict[str, dict[str, float | str]] = {}
    for model, files in groups.items():
        spec = RegisterSpec(None) if model == "etcd" else KVSpec()
        best: dict[str, float] = {}
        totals = []
        cpu_totals = []
        for _ in range(runs):
            total = cpu_total = 0.0
            for name, history in files:
                cpu = time.process_time()
                result = check(history, spec)
                cpu_total += time.process_time() - cpu
                total += result.seconds
                best[name] = min(best.get(name, float("inf")), result.seconds)
            totals.append(total)
            cpu_totals.append(cpu_total)
        slowest = max(best, key=lambda n: best[n])
        low, high = PORCUPINE[model]
        report[model] = {
            "files": len(files),
            "total_best": min(totals),
            "total_median": sorted(totals)[len(totals) // 2],
            "cpu_best": min(cpu_totals),
            "slowest_file": slowest,
            "slowest_seconds": best[slowest],
            "ratio_low": min(totals) / high,
            "ratio_high": min(totals) / low,
        }
    return report


STRESS_CASES: list[tuple[str, int, str, Callable[[], Spec]]] = [
    ("etcd semantics, values 0-4", 5, "result", lambda: RegisterSpec(None)),
    ("etcd semantics, unique values", 1000, "result", lambda: RegisterSpec(None)),
    ("Knossos semantics, unique values", 1000, "fail", lambda: CasRegisterSpec(None)),
]


def bench_stress(seeds: int, baseline_timeout: float) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for label, values, failed_cas, make_spec in STRESS_CASES:
        for violation in (False, True):
            for seed in range(seeds):
                history = crashed_writes_history(seed, values=values, violation=violation, failed_cas=failed_cas)
                cpu = time.process_time()
                result: LinResult = check(history, make_spec(), timeout=60)
                cpu = time.process_time() - cpu
                row: dict[str, object] = {
                    "case": f"{label}, {'violation' if violation else 'linearizable'}",
                    "seed": seed,
                    "ops": len(history),
                    "crashed": sum(o.status == "info" for o in history),
                    "processes": len({o.process for o in history}),
                    "verdict": result.verdict,
                    "seconds": result.seconds,
                    "cpu": cpu,
                    "states": result.states,
                    "dropped": len(result.dropped),
                }
                if seed == 0 and baseline_timeout > 0:
                    base = check(as_porcupine_sees_it(history), make_spec(), timeout=baseline_timeout)
                    row["porcupine_style"] = f"{base.verdict} after {base.seconds:.2f} s, {base.states} states"
                rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="runs per Porcupine file group (best is reported)")
    parser.add_argument("--seeds", type=int, default=5, help="stress histories per case")
    parser.add_argument("--baseline-timeout", type=float, default=10.0,
                        help="budget of the Porcupine-style run (crashed writes mandatory); 0 to skip")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not (SHARED / "porcupine").is_dir():
        print(f"Porcupine data not found at {SHARED / 'porcupine'}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    porcupine = bench_porcupine(args.runs)
    stress = bench_stress(args.seeds, args.baseline_timeout)
    if args.json:
        print(json.dumps({"porcupine": porcupine, "stress": stress}, indent=1, default=str))
        return 0
    print(f"Porcupine test data, check time only, best of {args.runs} runs (Python {sys.version.split()[0]})")
    for model, r in porcupine.items():
        low, high = PORCUPINE[model]
        print(
            f"  {model:4} {r['files']:3} files: total {r['total_best']:.3f} s (median {r['total_median']:.3f} s, "
            f"CPU {r['cpu_best']:.3f} s), "
            f"slowest {r['slowest_file']} {r['slowest_seconds']:.3f} s; "
            f"Porcupine {low:.2f}-{high:.2f} s -> ratio {r['ratio_low']:.2f}-{r['ratio_high']:.2f}"
        )
    print("\nStress: register, 20 processes, ~30 crashed writes, 300 ops (seeded)")
    for row in stress:
        extra = f"  | Porcupine-style: {row['porcupine_style']}" if "porcupine_style" in row else ""
        print(
            f"  {row['case']:48} seed {row['seed']}: {row['verdict']:12} {row['seconds']:.3f} s "
            f"(CPU {row['cpu']:.3f} s) "
            f"{row['states']:>7} states, {row['crashed']} crashed, {row['dropped']} dropped{extra}"
        )
    print(f"\n(total benchmark time {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
