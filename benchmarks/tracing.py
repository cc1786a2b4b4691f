"""Traced requests on real threads: what each variant exports, and what propagation costs.

8 client threads each send 200 requests (3 parts each) to one service, whose
pool has 4 real worker threads (no scheduler: ``racekit.sync`` primitives
behave as ``threading``'s).  The exported spans are judged with the spec's
functions: lookup spans that are orphans (no parent), that sit in another
request's trace, and requests whose tree is not exactly their own.  Requests
per second, best of 3, with the ratio to ``no_propagation`` (the baseline,
same run): the price of carrying the context.

    .venv/bin/python benchmarks/tracing.py
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from specs.tracing import parent_problem, tree_problem  # noqa: E402
from stateful_tests.test_tracing import summary  # noqa: E402
from systems import tracing  # noqa: E402

CLIENTS, REQUESTS, PARTS, WORKERS = 8, 200, 3, 4


def one_round(cls: type[tracing.Service]) -> tuple[float, int, int, int, bool, bool]:
    service = cls()
    service.pool = tracing.Pool(WORKERS)
    barrier = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        barrier.wait()
        for _ in range(REQUESTS):
            service.handle(PARTS)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    spans = summary(service)
    roots = {s.span_id: s for s in spans if s.name == "handle"}
    lookups = [s for s in spans if s.name == "lookup"]
    orphans = sum(1 for s in lookups if s.parent_id is None)
    strangers = sum(1 for s in lookups if s.parent_id in roots and roots[s.parent_id].request != s.request)
    by_request = {r.request: r for r in roots.values()}
    broken = sum(
        1 for r in by_request.values()
        if sorted(s.part for s in lookups if s.request == r.request and s.parent_id == r.span_id) != list(range(PARTS))
    )
    return CLIENTS * REQUESTS / elapsed, orphans, strangers, broken, parent_problem(spans) is None, tree_problem(spans) is None


def main() -> None:
    names = [v.name for v in tracing.SYSTEM.variants]
    rows = {}
    for name in names:
        rounds = [one_round(tracing.SYSTEM.variant(name).factory) for _ in range(3)]
        best = max(rounds, key=lambda r: r[0])
        rows[name] = best
    base = rows["no_propagation"][0]
    total = CLIENTS * REQUESTS
    print(f"{CLIENTS} client threads x {REQUESTS} requests x {PARTS} parts, pool of {WORKERS} threads (best of 3)")
    print(f"{'variant':<16} {'requests/s':>10} {'ratio':>6} {'orphan spans':>13} {'in a stranger':>14} {'bad trees':>10}")
    for name, (rate, orphans, strangers, broken, _, _) in rows.items():
        print(f"{name:<16} {rate:10,.0f} {rate / base:6.2f} {orphans:13,} {strangers:14,} {broken:7,} of {total:,}")


if __name__ == "__main__":
    main()
