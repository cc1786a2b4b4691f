"""Running list-append workloads against a real database, recording the history.

Each client is a thread with its own session.  A round's transactions run in
*lock step*: every client runs its first micro-op, then every client its
second, and so on, then every client commits; the next step starts once
every client has finished the current one, or after ``step_timeout`` for the
ones the database is blocking (a row lock, SQLite's write lock) - a client
not yet scheduled is waited for, so load does not change the interleaving.  Lock step
makes the transactions of a round overlap as much as they can - the
interleaving under which isolation anomalies show - and makes a small
workload behave the same way run after run, which is what lets Hypothesis
shrink a shape that shows an anomaly.

Outcomes are recorded as Jepsen does: ``ok`` with the values read, ``fail``
when the database rolled the transaction back (serialization failure,
deadlock, busy), ``info`` when the answer never came (the client then
continues as a new process).  A transaction that does not finish within
``txn_timeout`` is cancelled through the database and recorded ``info``;
no thread outlives :func:`run`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from racekit.errors import RacekitError
from racekit.txn.check import TxnResult, check
from racekit.txn.databases import Database, Session
from racekit.txn.history import Mop, TxnHistory
from racekit.txn.record import Recorder
from racekit.txn.shapes import Workload


@dataclass
class RunStats:
    committed: int = 0
    failed: int = 0
    unknown: int = 0
    seconds: float = 0.0


class _Round:
    """Lock-step coordination of one round.

    ``allowed`` is the step every client may run up to.  A step is over when
    every client has finished it, or is blocked: inside a database call (for
    this step or an earlier one) for longer than the step timeout.  A client that has not yet
    *entered* the call (a thread the OS has not scheduled yet) is waited for,
    so a loaded machine does not change the interleaving.
    """

    def __init__(self, clients: int) -> None:
        self.cv = threading.Condition()
        self.allowed: float = -1
        self.done = [0] * clients  # steps finished
        self.entered = [(-1, 0.0)] * clients  # (step, monotonic time) of the call in progress
        self.over = [False] * clients

    def allow(self, step: float) -> None:
        with self.cv:
            self.allowed = step
            self.cv.notify_all()

    def enter(self, client: int, step: int) -> None:
        """Wait until ``step`` is allowed, then note that ``client`` starts its call for it."""
        with self.cv:
            self.cv.wait_for(lambda: self.allowed >= step)
            self.entered[client] = (step, time.monotonic())

    def finished(self, client: int, steps: int, over: bool = False) -> None:
        with self.cv:
            self.done[client] = steps
            self.over[client] = self.over[client] or over
            self.cv.notify_all()

    def wait_all(self, step: int, blocked_after: float, give_up: float) -> None:
        deadline = time.monotonic() + give_up
        with self.cv:
            while True:
                now = time.monotonic()
                pending = [i for i in range(len(self.done)) if not self.over[i] and self.done[i] <= step]
                waits = []
                for i in pending:
                    entered_step, since = self.entered[i]
                    in_call = entered_step == self.done[i]  # entered a step it has not finished
                    if in_call and now - since >= blocked_after:
                        continue  # blocked in the database (at this step or an earlier one): go on without it
                    waits.append(blocked_after - (now - since) if in_call else blocked_after)
                if not waits or now >= deadline:
                    return
                self.cv.wait(max(0.001, min(min(waits), deadline - now)))


def run(db: Database, workload: Workload, *, keys: int = 3, step_timeout: float = 0.01,
        txn_timeout: float = 30.0, recorder: Recorder | None = None, stats: RunStats | None = None) -> TxnHistory:
    """Run every round of ``workload`` against ``db``; the recorded history (keys as in the workload)."""
    rec = recorder or Recorder("list-append")
    stats = stats if stats is not None else RunStats()
    started = time.monotonic()
    width = max((len(r) for r in workload), default=0)
    keys = max([keys] + [k + 1 for r in workload for t in r for _, k in t])
    offset = db.fresh_keys(keys)
    sessions: list[Session | None] = [None] * width
    processes = [rec.new_process() for _ in range(width)]
    values: dict[int, int] = {}
    try:
        for rnd in workload:
            txns: list[list[Mop]] = []
            for shape in rnd:
                txn: list[Mop] = []
                for f, k in shape:
                    if f == "append":
                        values[k] = values.get(k, 0) + 1
                        txn.append(("append", k, values[k]))
                    else:
                        txn.append(("r", k, None))
                txns.append(txn)
            _run_round(db, txns, offset, sessions, processes, rec, stats, step_timeout, txn_timeout)
    finally:
        for s in sessions:
            if s is not None:
                with contextlib.suppress(Exception):  # closing is best effort
                    db.release(s)
    stats.seconds += time.monotonic() - started
    return rec.history(db.name)


def _run_round(db: Database, txns: Sequence[list[Mop]], offset: int, sessions: list[Session | None],
               processes: list[int], rec: Recorder, stats: RunStats, step_timeout: float, txn_timeout: float) -> None:
    coord = _Round(len(txns))
    lock = threading.Lock()
    for i in range(len(txns)):
        if sessions[i] is None:
            sessions[i] = db.session()

    def client(i: int) -> None:
        sess = sessions[i]
        assert sess is not None
        txn = txns[i]
        handle = rec.invoke(processes[i], txn)
        committing = False
        out: list[Mop] = []
        try:
            coord.enter(i, 0)
            sess.begin()  # BEGIN IMMEDIATE may block: it counts as the first step's call
            for step, (f, k, v) in enumerate(txn):
                coord.enter(i, step)
                key = offset + int(k)  # type: ignore[call-overload]  # shapes use int keys
                if f == "r":
                    out.append(("r", k, sess.read(key)))
                else:
                    sess.append(key, v)
                    out.append(("append", k, v))
                coord.finished(i, step + 1)
            coord.enter(i, len(txn))
            committing = True
            sess.commit()
            rec.complete(handle, "ok", out)
            with lock:
                stats.committed += 1
        except Exception as exc:
            kind = db.outcome(exc, committing)
            try:
                sess.rollback()
            except Exception:  # noqa: S110 - the session is replaced below if it is broken
                kind = "info" if committing else kind
            rec.complete(handle, kind, txn, error=exc)
            with lock:
                if kind == "fail":
                    stats.failed += 1
                else:
                    stats.unknown += 1
                    processes[i] = rec.new_process()
                    try:
                        sess.close()
                    finally:
                        sessions[i] = None
        finally:
            coord.finished(i, len(txn) + 1, over=True)

    threads = [threading.Thread(target=client, args=(i,), name=f"txn-client-{i}", daemon=True)
               for i in range(len(txns))]
    for t in threads:
        t.start()
    for step in range(max(len(t) for t in txns) + 1):
        coord.allow(step)
        coord.wait_all(step, step_timeout, txn_timeout)
    coord.allow(float("inf"))
    deadline = time.monotonic() + txn_timeout
    for i, t in enumerate(threads):
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            sess = sessions[i]
            if sess is not None:
                _interrupt(sess)
            t.join(10.0)
            if t.is_alive():
                raise RacekitError(f"{db.name}: a transaction did not finish {txn_timeout} s after its round "
                                   "started and could not be cancelled")


def _interrupt(sess: Any) -> None:
    conn = getattr(sess, "conn", None)
    for name in ("cancel", "interrupt"):
        fn = getattr(conn, name, None)
        if fn is not None:
            with contextlib.suppress(Exception):  # best effort
                fn()


def run_and_check(db: Database, workload: Workload, options: dict[str, Any] | None = None,
                  **kwargs: Any) -> tuple[TxnHistory, TxnResult]:
    history = run(db, workload, **kwargs)
    return history, check(history, options)
