"""Sequential spec of fleet metrics, and the exact answers the sketches are judged by.

The linearizable part is the request count: ``record(node, ms)`` adds one,
``total()`` reads the sum over nodes (a sharded count read while requests
are recorded is still linearizable, because every shard only grows by one
at a time - the argument of docs/systems/counter.md).  Quantiles are judged
at quiescence against :func:`exact_quantile` of every latency recorded:
DDSketch promises relative error, not linearizable reads.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from racekit import Spec


class FleetCountSpec(Spec):
    """The fleet's request count: ``record`` adds one, ``total`` reads it."""

    name: ClassVar[str] = "fleet request count"

    def init(self) -> Hashable:
        return 0

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "record":
            return state + 1, None
        if name == "total":
            return state, state
        if name == "load":
            return state, None
        raise ValueError(f"fleet count spec has no operation {name!r}")

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return name in ("total", "load")

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        # A load merges the nodes (and shards) one at a time, each under its own
        # lock: not an atomic snapshot of the fleet, so not a linearizable read.
        # load_problem judges it instead.
        return name == "load" or bool(expected == observed)


def load_problem(result: tuple[int, int], done: Sequence[int], overlapping: Sequence[int]) -> str | None:
    """Why a load's ``(count, total latency)`` describes no set of requests it may have seen, or None.

    A load must cover every request that returned before it began (``done``),
    and may cover any of those in flight meanwhile (``overlapping``): some
    subset of them makes up the rest of its count *and* of its total.  A
    sketch copied while a request is being added to it can carry the new
    count without the new sum (``DDSketch.add`` updates them one after the
    other): then no subset fits.
    """
    count, total = result
    rest, rest_total = count - len(done), total - sum(done)
    if 0 <= rest <= len(overlapping) and any(
        sum(chosen) == rest_total for chosen in itertools.combinations(overlapping, rest)
    ):
        return None
    return (
        f"a load read {count} requests totalling {total} ms, but it saw {sorted(done)} complete and "
        f"{sorted(overlapping)} in flight: no set of those requests has that count and total"
    )


def exact_quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile the sketch approximates: the value of rank floor(q (n - 1)).

    That is DDSketch's own rank convention (``get_quantile_value``: rank =
    q x (count - 1), the lowest value whose cumulative count exceeds it), so
    the only difference left between the two is the sketch's bucketing.

    pre: len(values) > 0 and 0 <= q <= 1
    post: __return__ in values
    """
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def relative_error(estimate: float, exact: float) -> float:
    """|estimate - exact| / exact (positive exact values: latencies)."""
    return abs(estimate - exact) / exact


def within(estimate: float | None, exact: float, alpha: float) -> bool:
    """DDSketch's promise, with room for floating-point rounding only.

    post: __return__ == (estimate is not None and abs(estimate - exact) <= alpha * exact * (1 + 1e-9))
    """
    return estimate is not None and abs(estimate - exact) <= alpha * exact * (1 + 1e-9)
