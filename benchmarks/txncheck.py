"""Benchmark: ``racekit txncheck`` on Elle's history files, growth with history size, and the hot path.

Run ``python benchmarks/txncheck.py`` from the repository root.  Three parts:

1. **Elle's files** (``../shared/elle/histories``): parse and check time and
   operations per second for each, with the anomalies found.
2. **Growth**: check time for doubling sizes, as ratios ``t(2n) / t(n)``
   (2.0 is linear), on (a) prefixes of ``huge-scc.edn`` (1/16 ... all of
   it: the real shape, anomalies in one large component) and (b) synthetic
   histories from a simulated snapshot-isolation database (write skew
   everywhere), 2,000 to 32,000 transactions.  Best of ``--runs``.
3. **Profile**: cProfile of checking the largest file; the top functions by
   own time.

Timings are of this process on this machine; the ratios are the point.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from racekit.formats.edn import Keyword
from racekit.txn import TxnHistory, check, load
from racekit.txn.history import Op, parse

HISTORIES = Path(__file__).resolve().parents[1].parent / "shared" / "elle" / "histories"


def _best(fn: Any, runs: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


# ---------------------------------------------------------------------------
# A simulated snapshot-isolation database: many clients, first committer wins
# ---------------------------------------------------------------------------


def simulate_si(txns: int, clients: int = 10, keys: int = 10, max_writes: int = 32, seed: int = 0) -> TxnHistory:
    """List-append transactions on a snapshot-isolation store, as a history.

    Each transaction reads its snapshot (taken at its start) and buffers its
    appends; it commits unless a transaction that committed after its start
    wrote one of its keys (first committer wins), else it fails.  Clients
    interleave at random, so write skew (G2-item) is common.  As in Elle's
    generator, ``keys`` keys are active at a time, chosen exponentially,
    and a key retires after ``max_writes`` appends, so lists stay short and
    the history's size grows linearly with the number of transactions.
    """
    rng = random.Random(seed)
    store: dict[int, tuple[int, ...]] = {}
    versions: dict[int, int] = {}  # key -> commit sequence number of its last write
    seq = 0
    next_value: dict[int, int] = {}
    ops: list[Op] = []
    running: dict[int, dict[str, Any]] = {}
    started = 0
    active = list(range(keys))
    fresh = keys

    def emit(kind: str, process: int, value: tuple[Any, ...]) -> None:
        ops.append(Op(len(ops), kind, process, value, Keyword("txn"), position=len(ops)))  # type: ignore[arg-type]

    while started < txns or running:
        c = rng.randrange(clients)
        if c not in running:
            if started >= txns:
                continue
            started += 1
            mops = []
            for _ in range(rng.randint(1, 4)):
                slot = min(int(rng.expovariate(0.5)), keys - 1)
                k = active[slot]
                if rng.random() < 0.5:
                    mops.append(("r", k, None))
                else:
                    next_value[k] = next_value.get(k, 0) + 1
                    mops.append(("append", k, next_value[k]))
                    if next_value[k] >= max_writes:
                        active[slot], fresh = fresh, fresh + 1
            snapshot = dict(store)
            running[c] = {"mops": mops, "snap": snapshot, "start": seq}
            emit("invoke", c, tuple(mops))
            continue
        t = running.pop(c)
        local = dict(t["snap"])
        out = []
        for f, k, v in t["mops"]:
            if f == "r":
                out.append(("r", k, local.get(k, ())))
            else:
                local[k] = local.get(k, ()) + (v,)
                out.append((f, k, v))
        written = {k for f, k, _ in t["mops"] if f == "append"}
        if any(versions.get(k, -1) >= t["start"] for k in written):
            emit("fail", c, tuple(t["mops"]))
            continue
        seq += 1
        for k in written:
            store[k] = store.get(k, ()) + tuple(v for f, kk, v in t["mops"] if f == "append" and kk == k)
            versions[k] = seq
        emit("ok", c, tuple(out))
    return TxnHistory("list-append", ops, f"si-sim-{txns}")


def prefix(text: str, fraction: float) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[: max(1, int(len(lines) * fraction))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    report: dict[str, Any] = {"files": [], "growth": {}, "profile": ""}
    out = sys.stdout if not args.json else io.StringIO()

    # 1. Elle's files
    if HISTORIES.is_dir():
        print(f"Elle's history files (best of {args.runs}; check = everything after parsing)", file=out)
        print(f"{'file':28} {'ops':>7} {'parse s':>8} {'check s':>8} {'ops/s':>9}  anomalies", file=out)
        for path in sorted(HISTORIES.glob("*.edn")):
            t_parse, history = _best(lambda p=path: load(p, "list-append"), args.runs)
            t_check, result = _best(lambda h=history: check(h), args.runs)
            n = len(history.ops)
            rate = n / (t_parse + t_check) if n else 0.0
            print(f"{path.name:28} {n:7d} {t_parse:8.3f} {t_check:8.3f} {rate:9.0f}  "
                  f"{result.valid} {','.join(result.anomaly_types)}", file=out)
            report["files"].append({"file": path.name, "ops": n, "parse_s": t_parse, "check_s": t_check,
                                    "ops_per_s": rate, "valid": result.valid, "anomalies": result.anomaly_types})
    else:
        print(f"(no {HISTORIES}: skipping Elle's files and the huge-scc prefixes)", file=out)

    # 2. growth
    series: list[tuple[str, list[tuple[int, Any]]]] = []
    huge = HISTORIES / "huge-scc.edn"
    if huge.is_file():
        text = huge.read_text()
        fractions = [1 / 16, 1 / 8, 1 / 4, 1 / 2, 1]
        series.append(("huge-scc.edn prefixes", [(0, parse(prefix(text, f), "list-append")) for f in fractions]))
    series.append(("simulated SI database", [(0, simulate_si(n)) for n in (2000, 4000, 8000, 16000, 32000)]))
    for name, histories in series:
        print(f"\nGrowth: {name} (check only, best of {args.runs})", file=out)
        print(f"{'ops':>7} {'txns':>6} {'sccs':>5} {'check s':>8} {'ops/s':>9} {'t(2n)/t(n)':>10}  anomalies", file=out)
        prev = None
        rows = []
        for _, h in histories:
            t, result = _best(lambda h=h: check(h), args.runs)
            graph = result.graph
            from racekit.txn.graph import sccs

            n_scc = len(sccs(graph.n, graph.out)) if graph is not None else 0
            ratio = "" if prev is None else f"{t / prev:.2f}"
            print(f"{len(h.ops):7d} {len(h.completions):6d} {n_scc:5d} {t:8.3f} {len(h.ops) / t:9.0f} {ratio:>10}  "
                  f"{','.join(result.anomaly_types)}", file=out)
            rows.append({"ops": len(h.ops), "txns": len(h.completions), "sccs": n_scc, "check_s": t,
                         "ratio": None if prev is None else t / prev, "anomalies": result.anomaly_types})
            prev = t
        report["growth"][name] = rows

    # 3. profile of the largest check
    target = load(huge, "list-append") if huge.is_file() else simulate_si(16000)
    prof = cProfile.Profile()
    prof.enable()
    check(target)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    report["profile"] = "\n".join(lines[start:])
    print(f"\nProfile: check({target.source}), top functions by own time", file=out)
    print(report["profile"], file=out)
    if args.json:
        print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
