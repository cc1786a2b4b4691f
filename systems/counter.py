"""Thread-safe counter, four ways (seed exercise 1).

* ``naive``   - ``self.value += 1``: LOAD_ATTR, add, STORE_ATTR.  The GIL never
  switches between them on CPython >= 3.10, so stress tests pass; opcode
  preemption shows the lost update.
* ``locked``  - one lock around read-modify-write.
* ``cas``     - an ``Atomic`` compare-and-set retry loop (lock-free).
* ``sharded`` - one cell per thread, ``get`` sums the cells one by one
  without a lock.  Is that read linearizable?  The checker says yes for
  increments of one (see docs/systems/counter.md for why).
"""

from __future__ import annotations

from racekit import System, Variant
from racekit import sync  # kind-specific: the schedulable primitives


class NaiveCounter:
    def __init__(self) -> None:
        self.value = 0

    def increment(self) -> None:
        self.value += 1

    def get(self) -> int:
        return self.value


class LockedCounter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = sync.Lock()

    def increment(self) -> None:
        with self.lock:
            self.value += 1

    def get(self) -> int:
        with self.lock:
            return self.value


class CasCounter:
    def __init__(self) -> None:
        self.value = sync.Atomic(0)

    def increment(self) -> None:
        while True:
            seen = self.value.load()
            if self.value.compare_and_set(seen, seen + 1):
                return

    def get(self) -> int:
        return self.value.load()


class ShardedCounter:
    """Per-thread cells: increments never contend; reads sum without a lock."""

    def __init__(self) -> None:
        self.cells: dict[int, list[int]] = {}
        self.register = sync.Lock()

    def _cell(self) -> list[int]:
        me = sync.thread_id()
        cell = self.cells.get(me)
        if cell is None:
            with self.register:
                cell = self.cells[me] = [0]
        return cell

    def increment(self) -> None:
        cell = self._cell()
        cell[0] += 1  # only this thread ever writes this cell

    def get(self) -> int:
        with self.register:
            cells = list(self.cells.values())
        total = 0
        for cell in cells:
            total += cell[0]  # each read is a switch point: other threads run in between
        return total


SYSTEM = System(
    name="counter",
    summary="Thread-safe counter: naive, locked, CAS loop, sharded cells",
    kind="thr",
    properties=("linearizability",),
    variants=[
        Variant(
            "naive",
            NaiveCounter,
            expect="violation",
            property="linearizability",
            bug="self.value += 1 is a read and a write: two threads read the same value and one increment is lost",
        ),
        Variant("locked", LockedCounter, expect="correct"),
        Variant("cas", CasCounter, expect="correct"),
        Variant("sharded", ShardedCounter, expect="correct"),
    ],
)
