"""Hypothesis aimed at the workload shapes that show an anomaly, then shrinking them.

:func:`find_anomaly` runs Hypothesis-generated workloads
(:func:`racekit.txn.shapes.workloads`) against a database until one shows an
anomaly of the wanted kinds, then lets Hypothesis shrink it to the smallest
shape that still shows it.  The search is steered with ``hypothesis.target``
towards shapes with many anti-dependency (rw) edges, the raw material of
G-single and G2 cycles.  Generation is derandomized, so the same budget
explores the same shapes every run; the database's own timing is the only
source of variation, and lock-step rounds keep it small.

A database whose answers change between runs of the same shape makes
Hypothesis report flakiness while shrinking; the smallest shape seen so far
is returned then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings, target
from hypothesis.errors import Flaky

from racekit.txn.check import TxnResult, check
from racekit.txn.graph import RW
from racekit.txn.history import TxnHistory
from racekit.txn.shapes import Workload, workloads


@dataclass
class Found:
    workload: Workload
    history: TxnHistory
    result: TxnResult
    runs: int  # workloads run, shrinking included

    @property
    def size(self) -> tuple[int, int]:
        return (sum(len(r) for r in self.workload), sum(len(t) for r in self.workload for t in r))


class _Shows(Exception):
    pass


def find_anomaly(run: Callable[[Workload], TxnHistory], wanted: Iterable[str], options: dict[str, Any] | None = None,
                 budget: int = 100, shrink: bool = True, strategy: Any = None) -> tuple[Found | None, int]:
    """The smallest workload (after shrinking) whose history shows one of ``wanted``; and the runs made.

    ``run`` executes a workload and returns its history (e.g.
    ``functools.partial(racekit.txn.runner.run, db)``); ``budget`` bounds the
    workloads generated before shrinking.
    """
    want = set(wanted)
    seen: list[Found] = []
    runs = 0

    @settings(max_examples=budget, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              phases=[Phase.generate, Phase.target] + ([Phase.shrink] if shrink else []))
    @given(strategy if strategy is not None else workloads())
    def probe(workload: Workload) -> None:
        nonlocal runs
        runs += 1
        history = run(workload)
        result = check(history, options)
        graph = result.graph
        rw = sum(1 for _, _, m in graph.edges() if m & RW) if graph is not None else 0
        target(float(rw), label="anti-dependency edges")
        if want & set(result.found):
            seen.append(Found(workload, history, result, runs))
            raise _Shows()

    with contextlib.suppress(_Shows, Flaky):
        probe()
    if not seen:
        return None, runs
    best = min(seen, key=lambda f: f.size)
    best.runs = runs
    return best, runs
