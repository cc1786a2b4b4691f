"""State machine for traced requests: 2 request threads, a pool of 1 worker.

``handle(parts)`` opens a request span and fans ``parts`` lookups out to the
pool.  At quiescence the spans the SDK exported (``InMemorySpanExporter``)
are judged: ``parent_in_same_trace`` and ``trees_well_formed``
(specs/tracing.py); ``pool_bounded`` checks the pool never starts more than
its ``size`` workers.  The pool's workers are logical threads of the thread
engine, so every interleaving of submits, workers and waits is explored.
"""

from __future__ import annotations

import contextvars
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import strategies as st
from opentelemetry import propagate

import racekit
from racekit import (
    PROFILES,
    ConcurrentStateMachine,
    History,
    ProfileSettings,
    System,
    Variant,
    quiescent_invariant,
    sync,
    variant_tests,
)
from specs.tracing import ServiceSpec, Span, parent_problem, tree_problem
from systems import tracing

TWO_REQUESTS = [[("handle", (1,))], [("handle", (1,))]]


def summary(service: tracing.Service) -> list[Span]:
    rows = []
    for s in service.spans():
        attrs = s.attributes or {}
        rows.append(
            Span(
                s.context.span_id,
                s.context.trace_id,
                s.parent.span_id if s.parent is not None else None,
                s.parent.trace_id if s.parent is not None else None,
                s.name,
                str(attrs.get("request", "?")),
                int(attrs.get("part", -1)),  # type: ignore[arg-type]
                int(attrs.get("parts", 0)),  # type: ignore[arg-type]
            )
        )
    return rows


class Machine(ConcurrentStateMachine):
    system = tracing.SYSTEM
    spec = ServiceSpec()
    threads = 2
    max_ops = 3
    operations = {"handle": (st.integers(1, 2),)}
    seed_scenario = [[("handle", (1,))]]
    variant_seeds = {
        # two requests in flight: the second overwrites the slot before a worker reads it
        "shared_slot": TWO_REQUESTS,
        "copied_context": TWO_REQUESTS,
        "propagated": TWO_REQUESTS,
    }

    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Any:
        """A fixed sibling replays the two-request counterexample over every schedule
        with at most one preemption (90; the bug needs one): the unbounded space is
        past 20,000 schedules, every OpenTelemetry call being one opaque step."""
        return replace(super().plan(variant, profile), cross_bound=1)

    @quiescent_invariant("parent_in_same_trace")
    def parent_in_same_trace(self, service: Any, history: History) -> None:
        problem = parent_problem(summary(service))
        assert problem is None, problem

    @quiescent_invariant("trees_well_formed")
    def trees_well_formed(self, service: Any, history: History) -> None:
        problem = tree_problem(summary(service))
        assert problem is None, problem

    @quiescent_invariant("pool_bounded")
    def pool_bounded(self, service: Any, history: History) -> None:
        started, size = len(service.pool.threads), service.pool.size
        assert started <= size, f"the pool of {size} started {started} worker threads"


test_tracing = variant_tests(Machine)


# ---------------------------------------------------------------------------
# Planted bugs in copies of the fixed variants: each must be caught.
class _CopiedInTheWorker(tracing.Service):
    """The context is copied when the job runs - the worker's own, empty one."""

    def submit(self, fn: Any, *args: Any) -> Any:
        return self.pool.submit(lambda: contextvars.copy_context().run(fn, *args))


class _CopiedOnce(tracing.Service):
    """One context copied when the service starts, reused for every job."""

    def __init__(self) -> None:
        super().__init__()
        self.ctx = contextvars.copy_context()

    def submit(self, fn: Any, *args: Any) -> Any:
        return self.pool.submit(self.ctx.run, fn, *args)


class _ExtractedNotAttached(tracing.Propagated):
    """The worker extracts the traceparent but never makes it current."""

    def _in_context(self, carrier: dict[str, str], fn: Any, *args: Any) -> Any:
        propagate.extract(carrier)
        return fn(*args)


class _SharedCarrier(tracing.Propagated):
    """One carrier dict for the whole service: the last inject wins."""

    def __init__(self) -> None:
        super().__init__()
        self.carrier: dict[str, str] = {}

    def submit(self, fn: Any, *args: Any) -> Any:
        propagate.inject(self.carrier)
        return self.pool.submit(self._in_context, self.carrier, fn, *args)


class _PoolPerSubmit(tracing.Pool):
    """A worker started on every submit: the pool's bound forgotten (spans stay right)."""

    def submit(self, fn: Any, *args: Any) -> Any:
        worker = sync.Thread(target=self._work, name=f"pool-{len(self.threads)}", daemon=True)
        self.threads.append(worker)
        worker.start()
        reply: Any = sync.Queue()
        self.jobs.put((fn, args, reply))
        return reply


class _RacyPool(tracing.Pool):
    """The bound checked without the lock: two submits both see room for one more."""

    def submit(self, fn: Any, *args: Any) -> Any:
        if len(self.threads) < self.size:
            worker = sync.Thread(target=self._work, name=f"pool-{len(self.threads)}", daemon=True)
            self.threads.append(worker)
            worker.start()
        reply: Any = sync.Queue()
        self.jobs.put((fn, args, reply))
        return reply


class _UnlockedPoolBound(tracing.CopiedContext):
    def __init__(self) -> None:
        super().__init__()
        self.pool = _RacyPool()


class _UnboundedPool(tracing.CopiedContext):
    def __init__(self) -> None:
        super().__init__()
        self.pool = _PoolPerSubmit()


PLANTED = {
    "copied_in_the_worker": _CopiedInTheWorker,
    "unbounded_pool": _UnboundedPool,
    "unlocked_pool_bound": _UnlockedPoolBound,
    "copied_once": _CopiedOnce,
    "extracted_not_attached": _ExtractedNotAttached,
    "shared_carrier": _SharedCarrier,
}


class PlantedMachine(Machine):
    system = System(
        name="tracing",
        summary="planted bugs",
        kind="thr",
        variants=[
            Variant(n, f, expect="violation", property="trees_well_formed", trace_files=(tracing.__file__, __file__))
            for n, f in PLANTED.items()
        ]
        + [Variant("copied_context", tracing.CopiedContext, expect="correct")],
    )
    variant_seeds = {n: TWO_REQUESTS for n in PLANTED}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_planted_bug_is_caught(planted: str) -> None:
    found = racekit.search(PlantedMachine, planted, PROFILES["ci"])
    assert found.failed and found.property in tracing.SYSTEM.properties, (found.property, found.message)
