"""Work queue throughput vs worker count (real threads, no scheduler).

One producer submits ``JOBS`` jobs into a ``WorkQueue`` (capacity 64, the
submit timeout long enough that nothing is rejected), then shuts it down;
jobs/s is measured from the first submit to the end of shutdown (every job
drained).  Two kinds of job:

* ``io``  - ``time.sleep(5 ms)``: the GIL is released while waiting;
* ``cpu`` - a pure-Python loop of ~1 ms: holds the GIL the whole time.

Prints jobs/s and speedup over 1 worker; writes ``docs/systems/work_queue.png``.

    python benchmarks/work_queue.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from systems.work_queue import WorkQueue  # noqa: E402

WORKERS = (1, 2, 4, 8, 16)
IO_SECONDS = 0.005


def io_job(_: int) -> None:
    time.sleep(IO_SECONDS)


def cpu_job(_: int) -> None:
    total = 0
    for i in range(25_000):
        total += i * i


KINDS = {"io": (io_job, 400), "cpu": (cpu_job, 400)}


def throughput(handler, jobs: int, workers: int) -> float:  # type: ignore[no-untyped-def]
    q = WorkQueue(handler, capacity=64, workers=workers, submit_timeout=60.0)
    start = time.perf_counter()
    for job in range(jobs):
        q.submit(job)
    q.shutdown()
    return jobs / (time.perf_counter() - start)


def main() -> None:
    t = time.perf_counter()
    cpu_job(0)
    print(f"one cpu job: {(time.perf_counter() - t) * 1e3:.2f} ms; one io job: {IO_SECONDS * 1e3:.1f} ms sleep")
    results: dict[str, list[float]] = {}
    for kind, (handler, jobs) in KINDS.items():
        results[kind] = []
        print(f"\n{kind}: {jobs} jobs")
        print(f"{'workers':>8}{'jobs/s':>12}{'speedup':>10}")
        for w in WORKERS:
            rate = max(throughput(handler, jobs, w) for _ in range(3))
            results[kind].append(rate)
            print(f"{w:>8}{rate:>12,.0f}{rate / results[kind][0]:>10.2f}")
    plot(results)


def plot(results: dict[str, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for kind, rates in results.items():
        ax.plot(WORKERS, [r / rates[0] for r in rates], marker="o", label=f"{kind}-bound jobs")
    ax.plot(WORKERS, WORKERS, linestyle=":", color="grey", label="linear")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xticks(WORKERS, [str(w) for w in WORKERS])
    ax.set_xlabel("workers")
    ax.set_ylabel("speedup over 1 worker")
    ax.set_title("work_queue: throughput vs workers (CPython 3.11, GIL, 2 cores)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "work_queue.png"
    fig.savefig(out, dpi=110)
    print(f"plot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
