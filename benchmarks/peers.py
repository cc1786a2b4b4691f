"""racekit vs frontrun vs plain stress on the BENCHMARKS.md workloads, in one run.

    python benchmarks/peers.py [--trials N] [--frontrun-full]

Workloads (shared/BENCHMARKS.md): W1a ``v = self.value; self.value = v + 1``
and W1b ``self.value += 1`` with 2 threads x 1 increment and 3 x 2; W2
check-then-act withdraw (two withdrawals of 80 from 100); W3 AB/BA deadlock.

* racekit: strategies dfs (DPOR), pct, random, hypothesis, in this process.
* frontrun 0.7 (if installed): launched under its own CLI
  (``frontrun python benchmarks/peers.py --frontrun-child``), which preloads
  its I/O library and patches ``threading``; DPOR with its default preemption
  bound 2, and its random strategy.  Results come back as JSON.  If it cannot
  run, the reason is printed and the rest goes on.
* plain stress: N trials of real threads with ``sys.setswitchinterval(1e-6)``.

Per tool and workload: schedules (executions) until the first failure, time
to the first failure (median of 3), counterexample length (thread switches;
preemptions where known), replay success over 20 replays, and each as a
ratio to racekit's DPOR.  Then the exhaustive unbounded W1a 3x2 exploration.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.classics import PROGRAMS, racekit_explore  # noqa: E402

REPLAYS = 20


# ------------------------------------------------------------------ workloads
class CounterA:
    """W1a: read, then write back."""

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        v = self.value
        self.value = v + 1


class CounterB:
    """W1b: augmented assignment."""

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1


class Bank:
    """W2: check-then-act."""

    def __init__(self) -> None:
        self.balance = 100

    def withdraw(self, amount: int) -> bool:
        if self.balance >= amount:
            self.balance -= amount
            return True
        return False


class TwoLocks:
    """W3: AB/BA lock order."""

    def __init__(self) -> None:
        self.a = threading.Lock()
        self.b = threading.Lock()


def ab(s: TwoLocks) -> None:
    with s.a, s.b:
        pass


def ba(s: TwoLocks) -> None:
    with s.b, s.a:
        pass


def counter_workers(cls: type, n: int, k: int) -> list[Callable[[Any], None]]:
    def work(c: Any) -> None:
        for _ in range(k):
            c.inc()

    return [work] * n


# name -> (setup, workers(state) callables taking the state, invariant, what a failure is)
WORKLOADS: dict[str, tuple[Callable[[], Any], list[Callable[[Any], Any]], Callable[[Any], bool], str]] = {
    "W1a 2x1": (CounterA, counter_workers(CounterA, 2, 1), lambda c: c.value == 2, "assertion"),
    "W1b 2x1": (CounterB, counter_workers(CounterB, 2, 1), lambda c: c.value == 2, "assertion"),
    "W1a 3x2": (CounterA, counter_workers(CounterA, 3, 2), lambda c: c.value == 6, "assertion"),
    "W1b 3x2": (CounterB, counter_workers(CounterB, 3, 2), lambda c: c.value == 6, "assertion"),
    "W2 withdraw": (Bank, [lambda b: b.withdraw(80), lambda b: b.withdraw(80)], lambda b: b.balance >= 0, "assertion"),
    "W3 AB/BA": (TwoLocks, [ab, ba], lambda s: True, "deadlock"),
}


def switches(threads: list[int]) -> int:
    return sum(1 for x, y in zip(threads, threads[1:], strict=False) if x != y)


# -------------------------------------------------------------------- racekit
def racekit_row(name: str, strategy: str) -> dict[str, Any]:
    import racekit

    setup, workers, invariant, _ = WORKLOADS[name]

    def threads(state: Any) -> list[Callable[[], Any]]:
        return [(lambda w=w: w(state)) for w in workers]

    def check(state: Any) -> None:
        assert invariant(state), "invariant violated"

    times = []
    result = None
    for _ in range(3):
        start = time.perf_counter()
        result = racekit.explore(setup, threads, check, strategy=strategy, budget=20_000)
        times.append(time.perf_counter() - start)
    assert result is not None
    row: dict[str, Any] = {"found": result.failed, "kind": result.kind}
    if not result.failed:
        return row | {"schedules": result.schedules, "seconds": statistics.median(times)}
    ok = 0
    for _ in range(REPLAYS):
        again = racekit.replay(setup, threads, check, result.choices)
        ok += again.kind == result.kind and again.trace == result.trace
    return row | {
        "schedules": result.first_failure,
        "seconds": statistics.median(times),
        "switches": switches([r["thread"] for r in result.trace]),
        "preemptions": result.preemptions,
        "replays": ok,
    }


def racekit_exhaustive() -> dict[str, Any]:
    import racekit

    setup, workers, _, _ = WORKLOADS["W1a 3x2"]

    def threads(state: Any) -> list[Callable[[], Any]]:
        return [(lambda w=w: w(state)) for w in workers]

    out: dict[str, Any] = {}
    for strategy in ("dpor", "dfs"):
        start = time.perf_counter()
        r = racekit.explore(setup, threads, strategy=strategy)
        out[strategy] = {"schedules": r.schedules, "seconds": time.perf_counter() - start, "exhausted": r.exhausted}
    return out


# --------------------------------------------------------------------- stress
def stress_row(name: str, trials: int) -> dict[str, Any]:
    setup, workers, invariant, kind = WORKLOADS[name]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    found_at = None
    start = time.perf_counter()
    first_seconds = None
    try:
        for trial in range(1, trials + 1):
            state = setup()
            if kind == "deadlock":
                ok = stress_deadlock_trial(state)
            else:
                ts = [threading.Thread(target=w, args=(state,)) for w in workers]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                ok = invariant(state)
            if not ok:
                found_at = trial
                first_seconds = time.perf_counter() - start
                break
    finally:
        sys.setswitchinterval(old)
    return {
        "found": found_at is not None,
        "schedules": found_at if found_at is not None else trials,
        "seconds": first_seconds if first_seconds is not None else time.perf_counter() - start,
        "replays": 0 if found_at is not None else None,  # a stress failure has no schedule to replay
    }


def stress_deadlock_trial(s: TwoLocks) -> bool:
    """AB/BA with a timeout on the inner lock: a timeout is the deadlock."""
    stuck = []

    def run(first: threading.Lock, second: threading.Lock) -> None:
        with first:
            if second.acquire(timeout=0.05):
                second.release()
            else:
                stuck.append(1)

    ts = [threading.Thread(target=run, args=(s.a, s.b)), threading.Thread(target=run, args=(s.b, s.a))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return not stuck


# ------------------------------------------------------------------- frontrun
def frontrun_child(full: bool) -> None:
    """Runs under ``frontrun python``: every workload, JSON lines on stdout."""
    import frontrun

    for name, (setup, workers, invariant, _) in WORKLOADS.items():
        for strategy in ("dpor", "random"):
            seed = {"seed": 0} if strategy == "random" else {}
            times = []
            result = None
            for _ in range(3):
                start = time.perf_counter()
                result = frontrun.explore(
                    setup=setup, workers=list(workers), invariant=invariant, strategy=strategy,
                    reproduce_on_failure=0, timeout_per_run=5.0, **seed,
                )
                times.append(time.perf_counter() - start)
            assert result is not None
            row: dict[str, Any] = {"workload": name, "strategy": strategy, "seconds": statistics.median(times)}
            row["found"] = result.property_holds is False
            row["schedules"] = result.num_explored
            if row["found"]:
                ce = result.counterexample
                ce_list = list(ce) if isinstance(ce, list) else []
                row["switches"] = switches(ce_list) if ce_list else None
                start = time.perf_counter()
                again = frontrun.explore(
                    setup=setup, workers=list(workers), invariant=invariant, strategy=strategy,
                    reproduce_on_failure=REPLAYS, timeout_per_run=5.0, **seed,
                )
                row["replays"] = again.reproduction_successes
                row["replay_attempts"] = again.reproduction_attempts
                row["replay_seconds"] = time.perf_counter() - start
            print(json.dumps(row), flush=True)
    for program in PROGRAMS:
        start = time.perf_counter()
        try:
            result = frontrun.explore(
                setup=program.setup, workers=list(program.workers), invariant=program.invariant, strategy="dpor",
                reproduce_on_failure=0, timeout_per_run=5.0, max_executions=20_000,
            )
            print(json.dumps({"classic": program.name, "found": result.property_holds is False,
                              "schedules": result.num_explored, "seconds": time.perf_counter() - start}), flush=True)
        except Exception as exc:  # noqa: BLE001 - a peer's failure is a row, not the end of the report
            print(json.dumps({"classic": program.name, "error": f"{type(exc).__name__}: {exc}"[:120]}), flush=True)
    # exhaustive W1a 3x2: bounded (its default preemption bound 2), unbounded on request
    setup, workers, _, _ = WORKLOADS["W1a 3x2"]
    for bound in ([2, None] if full else [2]):
        start = time.perf_counter()
        r = frontrun.explore(
            setup=setup, workers=list(workers), invariant=lambda c: True, preemption_bound=bound,
            stop_on_first=False, reproduce_on_failure=0, timeout_per_run=30.0, max_executions=10**6,
        )
        print(json.dumps({"exhaustive": True, "bound": bound, "schedules": r.num_explored,
                          "seconds": time.perf_counter() - start}), flush=True)


def run_frontrun(full: bool) -> tuple[list[dict[str, Any]], str | None]:
    beside = Path(sys.executable).with_name("frontrun")
    exe = str(beside) if beside.exists() else shutil.which("frontrun")
    if exe is None:
        return [], "frontrun is not installed (pip install frontrun==0.7.0)"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        proc = subprocess.run(
            [exe, sys.executable, str(Path(__file__).resolve()), "--frontrun-child"] + (["--frontrun-full"] if full else []),
            capture_output=True, text=True, timeout=3600 if full else 900, env=env, cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return [], "frontrun run timed out"
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            rows.append(json.loads(line))
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return rows, f"frontrun exited with {proc.returncode}: {' | '.join(tail)}"
    return rows, None


# ---------------------------------------------------------------------- report
def fmt_ratio(x: float | None, base: float | None) -> str:
    if x is None or base is None or base == 0:
        return "-"
    return f"x{x / base:.2f}"


def report_row(tool: str, r: dict[str, Any], base: dict[str, Any]) -> str:
    if not r.get("found"):
        shown = f"not found in {r.get('schedules')} ({r.get('seconds', 0):.2f} s)"
        return f"  {tool:<22} {shown}"
    sw = r.get("switches")
    pre = r.get("preemptions")
    length = f"{sw if sw is not None else '?'} sw" + (f"/{pre} pre" if pre is not None else "")
    rep = r.get("replays")
    rep_s = "-" if rep is None else f"{rep}/{r.get('replay_attempts', REPLAYS)}"
    return (
        f"  {tool:<22} {r['schedules']:>7} sched {fmt_ratio(r['schedules'], base.get('schedules')):>8}"
        f"  {r['seconds'] * 1e3:9.1f} ms {fmt_ratio(r['seconds'], base.get('seconds')):>9}"
        f"  {length:<12} {fmt_ratio(sw, base.get('switches')):>7}  replay {rep_s}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000, help="stress trials per workload")
    ap.add_argument("--frontrun-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--frontrun-full", action="store_true", help="also run frontrun's unbounded W1a 3x2 (~8 min)")
    args = ap.parse_args()
    if args.frontrun_child:
        frontrun_child(args.frontrun_full)
        return

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; times are medians of 3; ratios are to racekit dpor")
    fr_rows, fr_error = run_frontrun(args.frontrun_full)
    if fr_error:
        print(f"frontrun: {fr_error}")
    fr = {(r["workload"], r["strategy"]): r for r in fr_rows if "workload" in r}

    racekit_row("W1a 2x1", "dpor")  # warm-up: imports, opcode tables of this file
    for name in WORKLOADS:
        print(f"\n{name}")
        base = racekit_row(name, "dpor")
        print(report_row("racekit dpor", base, base))
        for strategy in ("bounded", "pct", "random", "hypothesis"):
            print(report_row(f"racekit {strategy}", racekit_row(name, strategy), base))
        for strategy in ("dpor", "random"):
            row = fr.get((name, strategy))
            if row is not None:
                print(report_row(f"frontrun {strategy}", row, base))
        stress = stress_row(name, args.trials)
        print(report_row(f"stress x{args.trials}", stress, base))

    print("\nclassic programs (benchmarks/classics.py): schedules to the first failure; twins: schedules, no failure")
    fr_classic = {r["classic"]: r for r in fr_rows if "classic" in r}
    print(f"  {'program':<22} {'racekit':>10} {'frontrun dpor':>14}  verdict")
    for program in PROGRAMS:
        r = racekit_explore(program, budget=5_000 if program.buggy else 1_500)
        ours = r.first_failure if r.failed else None
        mine = f"{ours}" if ours is not None else f"-({r.schedules})"
        fr_row = fr_classic.get(program.name)
        if fr_row is None or "error" in fr_row:
            theirs, verdict = "n/a", (fr_row or {}).get("error", "not run")
        else:
            theirs = str(fr_row["schedules"]) if fr_row["found"] else f"-({fr_row['schedules']})"
            if program.buggy:
                verdict = "racekit <= frontrun" if ours is not None and (not fr_row["found"] or ours <= fr_row["schedules"]) \
                    else "racekit needs more"
            else:
                verdict = "no false alarm" if not r.failed else f"FALSE ALARM: {r.kind}"
        print(f"  {program.name:<22} {mine:>10} {theirs:>14}  {verdict}")

    print("\nexhaustive W1a 3x2, unbounded")
    ex = racekit_exhaustive()
    for strategy, r in ex.items():
        per_min = r["schedules"] / r["seconds"] * 60
        print(f"  racekit {strategy:<10} {r['schedules']:>7} schedules  {r['seconds']:6.2f} s  {per_min:,.0f}/min"
              f"  exhausted={r['exhausted']}")
    fr_ex = [r for r in fr_rows if r.get("exhaustive")]
    for r in fr_ex:
        bound = "unbounded" if r["bound"] is None else f"bound {r['bound']}"
        print(f"  frontrun {bound:<10} {r['schedules']:>6} executions {r['seconds']:6.2f} s"
              f"  (racekit dpor unbounded x{r['seconds'] / ex['dpor']['seconds']:.1f} faster)")
    if not any(r["bound"] is None for r in fr_ex):
        print(f"  frontrun unbounded (BENCHMARKS.md, not re-run): 95,245 executions / 503 s"
              f" -> racekit dpor x{503 / ex['dpor']['seconds']:.0f} faster, x{95_245 / ex['dpor']['schedules']:.1f} fewer schedules")


if __name__ == "__main__":
    main()
