"""What an id generator promises, as checks over the ids it issued.

There is no useful sequential *model* that predicts the next id (any
larger number is fine), so the spec is two invariants:

* ``unique``    - no id is issued twice, across all nodes and restarts;
* ``monotonic`` - each node's ids strictly increase in the order it issued
  them, across its own restarts.

and, for the hybrid logical clock, a third:

* ``causal``    - an id a node issues after it heard a peer's logical time
  ``m`` carries a timestamp above ``m``: it sorts after every id the peer
  issued up to then (whose timestamps are all <= m).

All are stated over what the nodes issued (ghost notes at the moment of
issue), not over what clients received: an id issued but lost on the way
to a timed-out client still must not be reissued.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def first_duplicate(issued: Iterable[tuple[str, int]]) -> str | None:
    """``issued`` = (node, id) in issue order; a message for the first id seen twice."""
    seen: dict[int, str] = {}
    for node, value in issued:
        if value in seen:
            return f"id {value} issued twice: by {seen[value]} and by {node}"
        seen[value] = node
    return None


def first_regression(issued: Iterable[tuple[str, int]]) -> str | None:
    """A message for the first id not above its node's previous id, else None."""
    last: dict[str, int] = {}
    for node, value in issued:
        if node in last and value <= last[node]:
            return f"{node} issued {value} after {last[node]} (not increasing)"
        last[node] = value
    return None


def first_acausal(events: Iterable[tuple[str, str, Any]], timestamp: Any) -> str | None:
    """``events`` in order: ``(node, "heard", ms)``, ``(node, "issued", id)`` or ``(node, "started", None)``;
    ``timestamp(id)`` is an id's ms.  A (re)start forgets what was heard (it was only in memory).

    A message for the first id not above a logical time its node had heard.
    """
    heard: dict[str, int] = {}
    for node, what, value in events:
        if what == "started":
            heard.pop(node, None)
        elif what == "heard":
            heard[node] = max(heard.get(node, -1), int(value))
        elif node in heard and timestamp(value) <= heard[node]:
            return f"{node} issued {value} (timestamp {timestamp(value)}) after hearing logical time {heard[node]} from a peer"
    return None
