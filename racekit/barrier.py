"""``threading.Barrier`` for logical threads.

``parties`` threads call :meth:`Barrier.wait`; the last to arrive runs the
optional ``action`` and releases them all, and the barrier is ready for the
next round.  A timeout, :meth:`abort`, a failing ``action`` or :meth:`reset`
while threads wait breaks the round: its waiters get
``threading.BrokenBarrierError`` (the same class, so ``except`` clauses in
code under test match).  A real ``threading.Barrier`` under control blocks
the one OS thread all logical threads share; this one waits on a
:class:`racekit.sync.Condition`, so the scheduler sees every arrival and
timeouts run on virtual time.  Outside a controlled run it is a real
``threading.Barrier``.

State lives per run (a racekit primitive): a barrier made at import time
starts every run empty.
"""

from __future__ import annotations

import threading as _threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from racekit.sched.runtime import Execution, current_execution
from racekit.sync import Condition, Lock, _Prim

BrokenBarrierError = _threading.BrokenBarrierError

__all__ = ["Barrier", "BrokenBarrierError"]


@dataclass
class _BarrierState:
    waiting: int = 0  # threads in the current round
    round: int = 0
    broken: bool = False
    # rounds that ended broken (their waiters raise), by round number
    broken_rounds: set[int] = field(default_factory=set)


class Barrier(_Prim):
    """A reusable barrier for ``parties`` threads (``threading.Barrier``)."""

    def __init__(self, parties: int, action: Callable[[], Any] | None = None, timeout: float | None = None) -> None:
        if parties < 1:
            raise ValueError("parties must be > 0")
        super().__init__()
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._cond = Condition(Lock())
        self._real = _threading.Barrier(parties, action, timeout)

    def _new_state(self) -> _BarrierState:
        return _BarrierState()

    def _run_state(self, ex: Execution) -> _BarrierState:
        st: _BarrierState = self._state(ex)
        return st

    @property
    def parties(self) -> int:
        return self._parties

    @property
    def n_waiting(self) -> int:
        ex = current_execution()
        if ex is None:
            return self._real.n_waiting
        with self._cond:
            return self._run_state(ex).waiting

    @property
    def broken(self) -> bool:
        ex = current_execution()
        if ex is None:
            return self._real.broken
        with self._cond:
            return self._run_state(ex).broken

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the round to fill; returns this thread's arrival index (0 .. parties-1)."""
        ex = current_execution()
        if ex is None:
            return self._real.wait(timeout)
        if timeout is None:
            timeout = self._timeout
        with self._cond:
            st = self._run_state(ex)
            if st.broken:
                raise BrokenBarrierError
            index = st.waiting
            my_round = st.round
            st.waiting += 1
            if st.waiting == self._parties:
                if self._action is not None:
                    try:
                        self._action()
                    except BaseException:
                        self._break(st)
                        raise
                st.waiting = 0
                st.round += 1
                self._cond.notify_all()
                return index
            if not self._cond.wait_for(lambda: st.round != my_round or st.broken, timeout):
                self._break(st)  # timed out: nobody may pass this round
                raise BrokenBarrierError
            if my_round in st.broken_rounds or (st.round == my_round and st.broken):
                raise BrokenBarrierError
            return index

    def _break(self, st: _BarrierState) -> None:
        st.broken = True
        st.broken_rounds.add(st.round)
        self._cond.notify_all()

    def abort(self) -> None:
        """Break the barrier: current and future waiters get BrokenBarrierError."""
        ex = current_execution()
        if ex is None:
            self._real.abort()
            return
        with self._cond:
            self._break(self._run_state(ex))

    def reset(self) -> None:
        """Back to empty; threads waiting now get BrokenBarrierError."""
        ex = current_execution()
        if ex is None:
            self._real.reset()
            return
        with self._cond:
            st = self._run_state(ex)
            if st.waiting:
                st.broken_rounds.add(st.round)
            st.waiting = 0
            st.round += 1
            st.broken = False
            self._cond.notify_all()
