"""Log aggregator: lines/s against batch size (the fixed ``segments`` variant), as ratios to batch 1.

    python benchmarks/log_aggregator.py [--lines 2000] [--writers 2] [--plot docs/systems/log_aggregator.png]

``--writers`` processes each store ``--lines`` lines through
``systems.log_aggregator.Writer`` (the code the harness kills): every batch
is one write, one fsync, one index transaction (SQLite, synchronous=FULL)
and then the acks.  Files live on the real disk (``/tmp`` unless
``--dir``), not tmpfs, so fsync costs what it costs here.  Each batch size
runs in the same invocation; the baseline is batch size 1 (an fsync per
line), and the sizes run interleaved ``--repeat`` times, the fastest
counting, so a burst of load elsewhere hits every size alike.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from systems import log_aggregator as la  # noqa: E402

SIZES = (1, 2, 4, 8, 16, 32, 64, 128)


def write_all(root: str, variant: str, source: str, n: int, batch: int) -> None:
    writer = la.Writer(root, variant, source, batch)
    try:
        writer.recover()
        writer.append([(i + 1, "api" if i % 3 else "db", i // 10, f"{source} line {i + 1} " + "x" * 60) for i in range(n)])
    finally:
        writer.close()


def one(base: str, variant: str, batch: int, writers: int, n: int) -> float:
    """Lines/s of ``writers`` processes storing ``n`` lines each, in a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="racekit-logagg-bench-", dir=base) as root:
        la.setup(root)
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=write_all, args=(root, variant, f"w{k}", n, batch)) for k in range(writers)]
        start = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join(300)
            if p.exitcode != 0:
                sys.exit(f"log_aggregator benchmark: a writer failed (exit code {p.exitcode})")
        seconds = time.perf_counter() - start
        stored = len(la.scan(root, variant))
        if stored != writers * n:
            sys.exit(f"log_aggregator benchmark: {stored} lines stored, {writers * n} written")
    return writers * n / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2000, help="lines per writer")
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--dir", default="/tmp", help="where the segments and the index live (a real disk)")
    ap.add_argument("--plot", default="", help="write a PNG here")
    a = ap.parse_args()
    if a.lines < 1 or a.writers < 1 or a.repeat < 1:
        sys.exit("log_aggregator benchmark: --lines, --writers and --repeat must be at least 1")
    best: dict[int, float] = {}
    for _ in range(a.repeat):
        for b in SIZES:
            best[b] = max(best.get(b, 0.0), one(a.dir, "segments", b, a.writers, a.lines))
    base = best[1]
    print(f"{a.writers} writer processes x {a.lines} lines, files on {a.dir}, best of {a.repeat}")
    print(f"{'batch':>6}{'lines/s':>12}{'x batch 1':>12}")
    for b in SIZES:
        print(f"{b:>6}{best[b]:>12,.0f}{best[b] / base:>12.2f}")
    if a.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        ax.plot(list(SIZES), [best[b] for b in SIZES], marker="o")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size (lines per write + fsync + index commit)")
        ax.set_ylabel("acked lines/s (all writers)")
        ax.set_title(f"log_aggregator: throughput vs batch size ({a.writers} writers)")
        ax.grid(True, which="both", linewidth=0.3)
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)
        print(f"plot: {a.plot}")


if __name__ == "__main__":
    main()
