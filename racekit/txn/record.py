"""Recording racekit's own transactional runs as Elle-shaped histories.

Concurrent clients call :meth:`Recorder.invoke` before a transaction starts
and :meth:`Recorder.complete` when it has committed (``ok``, with what its
reads returned), definitely aborted (``fail``) or ended without an answer
(``info``).  Indices come from one counter under a lock, so the order of
indices is a real-time order: an op invoked after another's completion gets
a higher index.  The result is a :class:`~racekit.txn.history.TxnHistory`
(and EDN text that ``racekit txncheck`` reads).

Following Jepsen, a client whose transaction ended ``info`` may still have a
transaction in flight, so it continues as a new process
(:meth:`Recorder.new_process`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from racekit.formats.edn import Keyword
from racekit.txn.history import Mop, Op, OpType, TxnHistory, Workload


class Recorder:
    """A thread-safe history of transactions."""

    def __init__(self, workload: Workload = "list-append") -> None:
        self.workload = workload
        self._lock = threading.Lock()
        self._ops: list[Op] = []
        self._processes = 0
        self._start = time.monotonic_ns()

    def new_process(self) -> int:
        with self._lock:
            self._processes += 1
            return self._processes - 1

    def invoke(self, process: int, txn: Sequence[Mop]) -> int:
        """Record the start of a transaction; returns its handle.  Reads are recorded as ``nil``."""
        value = tuple((f, k, None if f == "r" else v) for f, k, v in txn)
        return self._add("invoke", process, value)

    def complete(self, handle: int, kind: OpType, txn: Sequence[Mop], error: Any = None) -> int:
        """Record how the transaction ``handle`` ended (``ok`` with ``txn`` holding the values read)."""
        inv = self._ops[handle]
        value = tuple(txn) if kind == "ok" else inv.value
        return self._add(kind, inv.process, value)

    def _add(self, kind: OpType, process: int, value: tuple[Mop, ...]) -> int:
        with self._lock:
            index = len(self._ops)
            self._ops.append(Op(index, kind, process, value, Keyword("txn"), time.monotonic_ns() - self._start,
                                position=index))
            return index

    def history(self, source: str = "<recorded>") -> TxnHistory:
        with self._lock:
            ops = [Op(o.index, o.type, o.process, o.value, o.f, o.time, position=o.position) for o in self._ops]
        return TxnHistory(self.workload, ops, source)
