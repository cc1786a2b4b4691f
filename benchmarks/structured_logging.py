"""Several real processes logging into one file at full speed, no harness: what each variant leaves.

For each variant, 4 processes (forked) each log 5,000 JSON records as fast
as they can into one file (``queue_listener``: through one collector in
this process).  Then the file is read back and judged with the spec's own
functions: lines that are not one record, records lost, records seen
twice, summed over 3 rounds (60,000 records); and records per second
(best of the 3), with the ratio to ``single_append`` (the baseline,
measured in the same run).

    .venv/bin/python benchmarks/structured_logging.py
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from specs.structured_logging import invalid_lines, lines_of, parse  # noqa: E402
from systems import structured_logging as sl  # noqa: E402

PROCESSES = 4
RECORDS = 5_000
VARIANTS = ["single_append", "split_writes", "no_append", "queue_listener"]


def one_round(variant: str, tmp: Path) -> tuple[float, int, int, int]:
    log, sock = str(tmp / f"{variant}.log"), str(tmp / f"{variant}.sock")
    Path(log).unlink(missing_ok=True)
    collector = sl.collector(variant, log, sock)
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=sl.work, args=(log, sock, variant, f"w{p}", [f"r{p}-{i}" for i in range(RECORDS)]))
        for p in range(PROCESSES)
    ]
    start = time.perf_counter()
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    if collector is not None:
        collector.stop()
    elapsed = time.perf_counter() - start
    text = Path(log).read_text(encoding="utf-8", errors="replace")
    bad = len(invalid_lines(text))
    seen = Counter((r["worker"], r["request"]) for r in map(parse, lines_of(text)) if r is not None)
    expected = {(f"w{p}", f"r{p}-{i}") for p in range(PROCESSES) for i in range(RECORDS)}
    lost = sum(1 for key in expected if seen[key] == 0)
    twice = sum(n - 1 for n in seen.values() if n > 1)
    return PROCESSES * RECORDS / elapsed, bad, lost, twice


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="rk-logbench-") as d:
        tmp = Path(d)
        rounds = {v: [one_round(v, tmp) for _ in range(3)] for v in VARIANTS}
    rows = {
        v: (max(r[0] for r in rs), sum(r[1] for r in rs), sum(r[2] for r in rs), sum(r[3] for r in rs))
        for v, rs in rounds.items()
    }
    base = rows["single_append"][0]
    total = 3 * PROCESSES * RECORDS
    print(f"{PROCESSES} processes x {RECORDS:,} records into one file, full speed, 3 rounds "
          f"(rate: best round; counts: all {total:,} records)")
    print(f"{'variant':<15} {'records/s':>10} {'ratio':>6} {'bad lines':>10} {'lost':>8} {'twice':>6}")
    for v, (rate, bad, lost, twice) in rows.items():
        print(f"{v:<15} {rate:10,.0f} {rate / base:6.2f} {bad:10,} {lost:8,} {twice:6,}   "
              f"({bad / total:.2%} bad, {lost / total:.2%} lost)")


if __name__ == "__main__":
    main()
