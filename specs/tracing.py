"""What exported spans must look like, as pure functions of a span summary.

A span is summarized as :class:`Span` (ids, parent, name, the request whose
work it traces).  A request is a ``handle`` span with ``parts`` children,
one ``lookup`` per part.  Two properties:

* **parent in the same trace** - a span without a parent is a request's
  ``handle`` (no orphans), and every other span's parent was exported and
  belongs to the same trace;
* **trees well formed** - each request is exactly one tree: its ``handle``
  is the root of a trace, and that trace holds exactly its own ``lookup``
  spans, one per part, each a child of the root (no span in another
  request's trace, none missing, none twice).

The sequential spec of the service itself is trivial: ``handle(parts)``
returns 1 + 2 + ... + parts whatever else runs.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar, NamedTuple

from racekit import Spec


class Span(NamedTuple):
    span_id: int
    trace_id: int
    parent_id: int | None
    parent_trace: int | None
    name: str
    request: str
    part: int  # -1 for a handle span
    parts: int  # the handle span's fan-out (0 for a lookup)

    def text(self) -> str:
        what = f"{self.name}({self.request}" + (f", part {self.part})" if self.name == "lookup" else ")")
        return f"{what} [span {self.span_id}, trace {self.trace_id}]"


def parent_problem(spans: Sequence[Span]) -> str | None:
    """The first span whose parent is missing or in another trace, described; None if none."""
    by_id = {s.span_id: s for s in spans}
    for s in spans:
        if s.parent_id is None:
            if s.name != "handle":
                return f"{s.text()} has no parent: an orphan root, no request links to it"
            continue
        parent = by_id.get(s.parent_id)
        if parent is None:
            return f"{s.text()} names parent span {s.parent_id}, which was never exported"
        if parent.trace_id != s.trace_id or s.parent_trace != s.trace_id:
            return f"{s.text()} has its parent {parent.text()} in another trace"
    return None


def tree_problem(spans: Sequence[Span]) -> str | None:
    """The first request that is not exactly one tree of its own spans, described; None if none."""
    roots = [s for s in spans if s.name == "handle"]
    for root in roots:
        if root.parent_id is not None:
            return f"{root.text()} is not the root of its trace"
        mine = [s for s in spans if s.name == "lookup" and s.request == root.request]
        in_trace = [s for s in spans if s.trace_id == root.trace_id and s is not root]
        strangers = [s for s in in_trace if s.request != root.request]
        if strangers:
            return f"{strangers[0].text()} sits in the trace of {root.text()}: another request's tree"
        for s in mine:
            if s.trace_id != root.trace_id or s.parent_id != root.span_id:
                return f"{s.text()} is not a child of its request's {root.text()}"
        parts = sorted(s.part for s in mine)
        if parts != list(range(root.parts)):
            return f"{root.text()} fanned out {root.parts} parts but its tree has lookups {parts}"
    if len({r.request for r in roots}) != len(roots):
        return "two handle spans for one request"
    return None


class ServiceSpec(Spec):
    """``handle(parts)`` returns the sum of 1..parts."""

    name: ClassVar[str] = "traced service"

    def init(self) -> Hashable:
        return 0

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "handle":
            (parts,) = args
            return state, parts * (parts + 1) // 2
        raise ValueError(f"traced service spec has no operation {name!r}")

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = None) -> bool:
        return True
