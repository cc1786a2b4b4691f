"""Sequential spec of a blocking FIFO queue with draining shutdown.

State: ``(items, closed)`` with ``items`` a tuple, head first.

* ``put(x)``: open -> append, returns ``None``; closed -> ``ShutDown``.
  Capacity is *not* modelled here: a put that finds the queue full waits,
  and whether it waited long enough is the job of the invariant "never over
  capacity" (checked on the history) and of the hang check (a put may stay
  blocked at the end only while the queue is full).
* ``take()``: non-empty -> the head; empty and open -> BLOCKED (it waits,
  which is not an error); empty and closed -> ``ShutDown``.
* ``shutdown()``: closes.  Consumers drain for a grace period, then the
  caller gets the leftovers.  Sequentially that is: some prefix of the items
  stays for the consumers, the rest (a suffix) is returned, so the step is
  nondeterministic - one outcome per split point.  A later ``shutdown``
  returns ``()``.

Loss is not a linearizability question here (an item no one ever observes
is invisible to a history); it is the invariant
"every item consumed exactly once or returned by shutdown", checked at
quiescence on the history plus what is left in the buffer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any, ClassVar

from racekit import BLOCKED, History, Outcomes, Spec

SHUT_DOWN = ("error", "ShutDown")


def shutdown_splits(items: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every way to split the buffer into (left for consumers, returned).

    post: len(__return__) == len(items) + 1
    post: all(kept + returned == items for kept, returned in __return__)
    """
    return [(items[:k], items[k:]) for k in range(len(items) + 1)]


def take_step(items: tuple[int, ...], closed: bool) -> Any:
    """A take: the head, ``ShutDown`` when closed and empty, else BLOCKED.

    post: (not items and not closed) == (__return__ is BLOCKED)
    post: not items or __return__ == ((items[1:], closed), items[0])
    """
    if items:
        return (items[1:], closed), items[0]
    if closed:
        return ((), True), SHUT_DOWN
    return BLOCKED


class BlockingQueueSpec(Spec):
    """Blocking FIFO: ``put(x)``, ``take()``, ``shutdown() -> leftovers``."""

    name: ClassVar[str] = "blocking-fifo-with-shutdown"

    def init(self) -> Hashable:
        return ((), False)

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        items, closed = state
        if name == "put":
            if closed:
                return state, SHUT_DOWN
            return ((*items, args[0]), False), None
        if name == "take":
            return take_step(items, closed)
        if name == "shutdown":
            if closed:
                return state, ()
            return Outcomes(tuple(((kept, True), returned) for kept, returned in shutdown_splits(items)))
        raise ValueError(f"bounded queue spec has no operation {name!r}")


# --------------------------------------------------------------- invariants
def _ok(result: Any) -> bool:
    return not (isinstance(result, tuple) and len(result) == 2 and result[0] == "error")


def over_capacity(history: History, capacity: int) -> str | None:
    """A moment when more than ``capacity`` items were certainly buffered, if any.

    Certainly buffered at time t: puts that returned before t, minus takes
    invoked before t (each may have removed one).  Checked up to the first
    shutdown, which may empty the buffer at any point.  Sound: it never
    blames a correct queue.
    """
    events: list[tuple[int, int, str]] = []  # (position, order, kind)
    for op in history:
        if op.name == "put" and op.status == "ok" and op.ret is not None and _ok(op.result):
            events.append((op.ret, 1, "put"))
        elif op.name == "take":
            events.append((op.invoke, 0, "take"))
        elif op.name == "shutdown":
            events.append((op.invoke, 0, "shutdown"))
    buffered = 0
    for _pos, _order, kind in sorted(events):
        if kind == "shutdown":
            return None
        buffered += 1 if kind == "put" else -1
        if buffered > capacity:
            return f"{buffered} items were in a queue of capacity {capacity} (puts returned, no take had started)"
    return None


def lost_or_duplicated(history: History, left_in_buffer: Iterable[Any]) -> str | None:
    """Every item put is taken once, returned by shutdown, or (no shutdown yet) still buffered."""
    put = Counter(op.args[0] for op in history if op.name == "put" and op.status == "ok" and _ok(op.result))
    out: Counter[Any] = Counter()
    shut = False
    for op in history:
        if op.status != "ok":
            continue
        if op.name == "take" and _ok(op.result):
            out[op.result] += 1
        elif op.name == "shutdown":
            shut = True
            out.update(op.result or ())
    still = Counter(left_in_buffer)
    if not shut:
        out.update(still)
    if put == out:
        return None
    lost = put - out
    dup = out - put
    parts = []
    if lost:
        parts.append(f"lost {sorted(lost.elements(), key=repr)}")
    if dup:
        parts.append(f"delivered twice or invented {sorted(dup.elements(), key=repr)}")
    if shut and still:
        parts.append(f"{sorted(still.elements(), key=repr)} left in the buffer after shutdown returned")
    return "; ".join(parts)
