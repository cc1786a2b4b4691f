"""What an id generator promises, as checks over the ids it issued.

There is no useful sequential *model* that predicts the next id (any
larger number is fine), so the spec is two invariants:

* ``unique``    - no id is issued twice, across all nodes and restarts;
* ``monotonic`` - each node's ids strictly increase in the order it issued
  them, across its own restarts.

Both are stated over what the nodes issued (ghost notes at the moment of
issue), not over what clients received: an id issued but lost on the way
to a timed-out client still must not be reissued.
"""

from __future__ import annotations

from collections.abc import Iterable


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
