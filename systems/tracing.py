"""Distributed tracing across a thread pool (seed exercise 32), on the real OpenTelemetry SDK.

A service handles a request inside a ``handle`` span and fans its work out
to a shared pool of worker threads; each piece runs inside a ``lookup``
span that should be a child of the request's.  Spans are exported by the
SDK's ``SimpleSpanProcessor`` to an ``InMemorySpanExporter``, and the checks
read the exported spans - what a tracing backend would receive.

OpenTelemetry keeps the current span in a ``contextvars.ContextVar``.  A
worker thread does not inherit the submitter's context (a new thread starts
with an empty one; a pool thread keeps its own), so unless the context is
carried over, the work is traced as if no request were active.

Variants:

* ``no_propagation`` - ``pool.submit(fn)``: the ``lookup`` span starts a
  trace of its own, an orphan no request links to.
* ``shared_slot`` - the hand-rolled fix: the submitter stores its context
  in ``self.parent`` and the worker attaches whatever it finds there.  Two
  requests in flight overwrite each other's slot: one request's work lands
  in the other's trace.
* ``copied_context`` (fixed) - ``pool.submit(contextvars.copy_context().run, fn)``:
  the job runs in a copy of the submitter's context (what
  ``asyncio.to_thread`` does).
* ``propagated`` (fixed) - OpenTelemetry's own propagation: the submitter
  injects the W3C ``traceparent`` into a carrier that travels with the job,
  the worker extracts it and attaches the context for the job's duration
  (what crossing a queue or a process needs).

Span and trace ids come from a counter per service, so a run exports the
same spans every time (the SDK's default ids are random).
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from racekit import System, Variant, sync

WORKERS = 1
# Given, not detected: Resource.create() runs the SDK's resource detectors on a
# real thread pool each time, which a provider per run cannot afford.
RESOURCE = Resource({"service.name": "traced-service"})


class CountingIds(IdGenerator):
    """Deterministic ids: 1, 2, 3 ... Each generator is a count's own ``__next__``:
    one atomic C call, so id generation is never interleaved (nor traced)."""

    def __init__(self) -> None:
        self.generate_trace_id = itertools.count(1).__next__  # type: ignore[method-assign]
        self.generate_span_id = itertools.count(1).__next__  # type: ignore[method-assign]

    def generate_trace_id(self) -> int:  # replaced per instance in __init__
        raise NotImplementedError

    def generate_span_id(self) -> int:  # replaced per instance in __init__
        raise NotImplementedError


class Pool:
    """A fixed pool of worker threads fed by a queue: ``ThreadPoolExecutor``'s shape.

    Written on ``racekit.sync`` so the thread engine schedules the workers
    (started lazily, one per submit until there are ``size``, as the
    executor's are); outside a
    controlled run these are plain threads.  ``submit`` returns the job's
    reply queue, a one-shot future that ``result`` waits on.
    """

    def __init__(self, workers: int = WORKERS) -> None:
        self.size = workers
        self.jobs: sync.Queue[tuple[Callable[..., Any], tuple[Any, ...], sync.Queue[Any]]] = sync.Queue()
        self.threads: list[sync.Thread] = []
        self.lock = sync.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> sync.Queue[Any]:
        # One more worker per submit until the pool is full (the executor's
        # _adjust_thread_count, which it too runs under a lock): two requests
        # submitting at once would both see room for one more and start two.
        # The machine checks the bound (pool_bounded).
        with self.lock:
            if len(self.threads) < self.size:
                worker = sync.Thread(target=self._work, name=f"pool-{len(self.threads)}", daemon=True)
                self.threads.append(worker)
                worker.start()
        reply: sync.Queue[Any] = sync.Queue()
        self.jobs.put((fn, args, reply))
        return reply

    @staticmethod
    def result(reply: sync.Queue[Any]) -> Any:
        raised, value = reply.get()
        if raised:
            raise value
        return value

    def _work(self) -> None:
        while True:
            fn, args, reply = self.jobs.get()
            try:
                reply.put((False, fn(*args)))
            except Exception as exc:  # the job's exception is its caller's
                reply.put((True, exc))


class Service:
    """Handles requests, fans their parts out to a pool, and traces both."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        # shutdown_on_exit=False: a provider per service must not pile up atexit hooks
        provider = TracerProvider(resource=RESOURCE, id_generator=CountingIds(), shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("racekit.catalogue.tracing")
        self.pool = Pool()
        self._requests = itertools.count(1)

    def handle(self, parts: int) -> int:
        """One request: its parts looked up in parallel, their results summed."""
        request = f"r{next(self._requests)}"
        with self.tracer.start_as_current_span("handle", attributes={"request": request, "parts": parts}):
            replies = [self.submit(self.lookup, request, part) for part in range(parts)]
            return sum(self.pool.result(reply) for reply in replies)

    def lookup(self, request: str, part: int) -> int:
        with self.tracer.start_as_current_span("lookup", attributes={"request": request, "part": part}):
            return part + 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> sync.Queue[Any]:
        """Bug: the worker runs ``fn`` in its own context, not the request's."""
        return self.pool.submit(fn, *args)

    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.exporter.get_finished_spans())


class SharedSlot(Service):
    """Bug: the context to continue in is handed over through one shared attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.parent: otel_context.Context | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> sync.Queue[Any]:
        self.parent = otel_context.get_current()
        return self.pool.submit(self._in_parent, fn, *args)

    def _in_parent(self, fn: Callable[..., Any], *args: Any) -> Any:
        token = otel_context.attach(self.parent)  # whichever request wrote the slot last
        try:
            return fn(*args)
        finally:
            otel_context.detach(token)


class CopiedContext(Service):
    """The job runs in a copy of the submitter's whole ``contextvars`` context."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> sync.Queue[Any]:
        return self.pool.submit(contextvars.copy_context().run, fn, *args)


class Propagated(Service):
    """The W3C ``traceparent`` travels with the job; the worker attaches what it carries."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> sync.Queue[Any]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return self.pool.submit(self._in_context, carrier, fn, *args)

    def _in_context(self, carrier: dict[str, str], fn: Callable[..., Any], *args: Any) -> Any:
        token = otel_context.attach(propagate.extract(carrier))
        try:
            return fn(*args)
        finally:
            otel_context.detach(token)


SYSTEM = System(
    name="tracing",
    summary="OpenTelemetry spans across a thread pool: lost, mixed up, copied or propagated context",
    kind="thr",
    properties=("parent_in_same_trace", "trees_well_formed", "pool_bounded", "linearizability"),
    variants=[
        Variant(
            "no_propagation",
            Service,
            expect="violation",
            property="parent_in_same_trace",
            bug="pool.submit(fn) runs fn in the worker's empty context: its span starts a trace of its own",
        ),
        Variant(
            "shared_slot",
            SharedSlot,
            expect="violation",
            property="trees_well_formed",
            bug="the submitter's context is handed over in self.parent: a second request overwrites it "
            "before the worker reads it, and the first request's work lands in the second's trace",
        ),
        Variant("copied_context", CopiedContext, expect="correct"),
        Variant("propagated", Propagated, expect="correct"),
    ],
)
