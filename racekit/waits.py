"""Who waited on what: a trace check for "readers never wait on a slow thing".

Code under test marks *regions* of the logical thread running it - the
workload marks its reads ``region("read")``, the backend its loads
``region("load")`` - and a :class:`WaitWatch` looks at every scheduling step
of the run (``Execution.on_step``) for a thread inside a waiter region that

* is itself inside a holder region (a reader that runs the load), or
* is blocked (not enabled, waiting on a primitive) while what it waits for
  is held - directly or through a chain of lock owners - by a thread inside
  a holder region, or
* is blocked on a primitive with no owner (a condition, an event) while any
  other thread is inside a holder region: who would wake it is unknown, so
  this is counted, conservatively.

This is a property of the *schedule*, not of the results: a reader that
blocks for a moment on a lock held across a load returns the right value,
and only the trace shows that it waited.  Outside a controlled execution
``region`` does nothing, so the same code runs in benchmarks.

The watch installs itself on the running execution the first time a region
is entered (and chains any ``on_step`` already there).  It reads scheduler
state (``ThreadState.waiting_for``, ``enabled``) but changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from racekit.sched.runtime import Execution, Step, current_execution

__all__ = ["WaitWatch"]


class WaitWatch:
    """Records every step at which a ``waiter``-region thread waits on a ``holder`` region."""

    def __init__(self, waiter: str = "read", holder: str = "load", limit: int = 20) -> None:
        self.waiter = waiter
        self.holder = holder
        self.limit = limit
        self.found: list[str] = []
        self._regions: dict[int, list[str]] = {}
        self._what: dict[int, list[str]] = {}
        self._ex: Execution | None = None
        self._seen: set[tuple[int, str]] = set()

    # ------------------------------------------------------------ marking
    @contextmanager
    def region(self, name: str, what: str = "") -> Iterator[None]:
        """Mark the calling logical thread as inside ``name`` (``what`` describes it)."""
        ex = current_execution()
        if ex is None or ex.current is None:
            yield
            return
        self._install(ex)
        tid = ex.current.tid
        self._regions.setdefault(tid, []).append(name)
        self._what.setdefault(tid, []).append(what or name)
        if name == self.holder and self.waiter in self._regions[tid][:-1]:
            self._report(tid, f"{self._label(ex, tid)} runs {what or name} itself")
        try:
            yield
        finally:
            self._regions[tid].pop()
            self._what[tid].pop()

    def _install(self, ex: Execution) -> None:
        if self._ex is ex:
            return
        self._ex = ex
        self._regions.clear()
        self._what.clear()
        previous = ex.on_step

        def on_step(step: Step) -> None:
            if previous is not None:
                previous(step)
            self._check(ex, step)

        ex.on_step = on_step

    # ------------------------------------------------------------ checking
    def _inside(self, tid: int, name: str) -> bool:
        return name in self._regions.get(tid, ())

    def _holder_of(self, ex: Execution, tid: int) -> tuple[int | None, Any]:
        """What ``tid`` waits on, and the owner at the end of the chain of lock
        owners that leads to a thread in a holder region (None: no owner)."""
        from racekit.sync import owner_of

        waiting_for = ex.threads[tid].waiting_for
        seen = {tid}
        current = tid
        while True:
            owner = owner_of(ex.threads[current].waiting_for)
            if owner is None or owner in seen or self._inside(owner, self.holder):
                return owner, waiting_for
            seen.add(owner)
            current = owner

    def _check(self, ex: Execution, step: Step) -> None:
        clock = ex.clock
        loading = [t for t in self._regions if self._inside(t, self.holder)]
        if not loading:
            return
        for tid, regions in self._regions.items():
            if self.waiter not in regions or self.holder in regions:
                continue
            t = ex.threads[tid]
            if t.done or t.enabled(clock) or t.waiting_for is None:
                continue
            owner, obj = self._holder_of(ex, tid)
            name = getattr(obj, "racekit_name", type(obj).__name__)
            if owner is not None and self._inside(owner, self.holder):
                self._report(
                    tid,
                    f"{self._label(ex, tid)} is blocked on {name} held by {ex.threads[owner].name}, "
                    f"which is inside {self._what[owner][-1]} (step {step.index})",
                )
            elif owner is None and any(o != tid for o in loading):
                other = next(o for o in loading if o != tid)
                self._report(
                    tid,
                    f"{self._label(ex, tid)} waits on {name} while {ex.threads[other].name} is inside "
                    f"{self._what[other][-1]} (step {step.index})",
                )

    def _label(self, ex: Execution, tid: int) -> str:
        what = next((w for r, w in zip(self._regions[tid], self._what[tid], strict=True) if r == self.waiter), "")
        return f"{ex.threads[tid].name} in {what}" if what else ex.threads[tid].name

    def _report(self, tid: int, text: str) -> None:
        key = (tid, text.split(" (step")[0])
        if key in self._seen or len(self.found) >= self.limit:
            return
        self._seen.add(key)
        self.found.append(text)
