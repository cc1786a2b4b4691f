"""Two small extensions of :class:`~racekit.machine.ConcurrentStateMachine`,
kept outside ``machine.py`` (mixins: put them before the base class).

* :class:`PerVariantScenarios` - ``explore_scenarios = {variant: scenario}``.
  ``search`` explores one fixed scenario exhaustively before Hypothesis runs;
  a system whose broken variants break in different ways (over capacity
  needs two producers, a lost wakeup two waiting consumers) wants the
  smallest scenario *per variant*, not one scenario that has to contain all
  of them.  Variants without an entry use ``explore_scenario``.

* :class:`TeardownSafe` - works around a harness bug: when a run ends with
  a thread blocked inside ``with lock: cond.wait()``, teardown kills the
  thread, the ``with`` exit then releases a lock the thread no longer holds
  and raises ``RuntimeError``, and the harness records that as the
  operation's *result* (and forgets the operation was in flight).  A hang
  is then judged as a linearizability violation with an invented
  ``('error', 'RuntimeError')``.  The mixin's recorder refuses to complete
  an operation while the execution is tearing down, so the op stays open.

* :class:`CanAllBlock` - the base machine has no rule to pick when every
  logical thread is inside an operation and none can run (three takes on an
  empty queue): Hypothesis then stops with "No progress can be made ...
  no available rule had a True precondition".  The mixin adds a no-op rule
  for exactly that state; teardown then judges the blocked operations.

* :class:`SystemThreads` - lets the live (Hypothesis) machine step threads
  that the system under test starts itself with ``racekit.sync.Thread``
  (pool workers, background refreshers).  The base machine's ``step`` rule
  only picks threads that are inside an operation, so a worker is never run
  and an operation that waits for it looks like a hang.  With the mixin a
  started thread that can run is "busy" like an operation thread, so
  Hypothesis interleaves it and teardown runs it to a stop.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis.stateful import precondition, rule

from racekit.catalogue import Outcome, ProfileSettings, Variant
from racekit.history import HistoryRecorder
from racekit.sched.runtime import ThreadKilled, current_execution
from racekit.threads import Call, RunState, Scenario, ThreadHarness


class PerVariantScenarios:
    """Mixin: one exhaustively explored scenario per variant."""

    explore_scenarios: ClassVar[dict[str, Scenario]] = {}

    @classmethod
    def _bound_to_scenario(cls, variant: Variant) -> Any:
        scenario = cls.explore_scenarios.get(variant.name)
        if scenario is None:
            return cls
        return type(cls.__name__, (cls,), {"explore_scenario": scenario, "__module__": cls.__module__})

    @classmethod
    def search(cls, variant: Variant, profile: ProfileSettings) -> Outcome:
        bound = cls._bound_to_scenario(variant)
        outcome: Outcome = super(PerVariantScenarios, bound).search(variant, profile)  # type: ignore[misc]
        return outcome

    @classmethod
    def explore(cls, variant: Variant, strategy: str, budget: int | None, seed: int, preemption_bound: int | None) -> Any:
        bound = cls._bound_to_scenario(variant)
        return super(PerVariantScenarios, bound).explore(variant, strategy, budget, seed, preemption_bound)  # type: ignore[misc]


class SystemThreads:
    """Mixin: threads started by the system are scheduled by the live machine too."""

    threads: ClassVar[int]
    _ex: Any
    _state: Any

    def _busy(self) -> list[int]:
        opts = self._ex.options()
        return [t for t in opts if t in self._state.inflight or t >= self.threads]


class _TeardownAwareRecorder(HistoryRecorder):
    """A recorder that will not complete an operation of a thread being killed."""

    def ok(self, op_id: int, result: Any = None, at: int | None = None) -> None:
        ex = current_execution()
        if ex is not None and ex.tearing_down:
            raise ThreadKilled()
        super().ok(op_id, result, at)


class _TeardownSafeHarness(ThreadHarness):
    def new_state(self, ops: list[list[Call]], closed: bool) -> RunState:
        state = super().new_state(ops, closed)
        state.recorder = _TeardownAwareRecorder()
        return state


class TeardownSafe:
    """Mixin: operations killed at the end of a run stay in flight (see module doc)."""

    @classmethod
    def harness(cls, variant: Variant | None = None) -> ThreadHarness:
        h: ThreadHarness = super().harness(variant)  # type: ignore[misc]
        h.__class__ = _TeardownSafeHarness
        return h


class CanAllBlock:
    """Mixin: a rule for "every thread is blocked in an operation" (see module doc)."""

    _busy: Any
    _idle: Any

    @precondition(lambda self: not self._busy() and not self._idle())
    @rule()
    def all_blocked(self) -> None:
        """Nothing can run and nothing can be invoked: let the example end."""
