"""ConcurrentStateMachine: Hypothesis stateful testing where the interleaving
is part of the program.

The rules *are* the nondeterministic choices: ``invoke`` starts an operation
on an idle logical thread, ``step`` runs one busy thread to its next switch
point.  Hypothesis therefore generates and shrinks operations and schedule
together; a shrunk failure has few operations and few preemptions.  At
teardown, in-flight operations finish with the boring policy (current thread
first), and :class:`~racekit.threads.ThreadHarness` judges the run: deadlock,
linearizability against the spec, quiescent invariants.

To test your own code, subclass and declare::

    class Machine(ConcurrentStateMachine):
        system = my_module.SYSTEM            # variants + expectations
        spec = MySpec()                      # sequential model
        threads = 2
        operations = {"put": (st.integers(0, 9),), "get": ()}

        @quiescent_invariant("size never negative")
        def size_ok(self, obj, history): assert obj.size() >= 0

    TestMachine = Machine.TestCase           # one variant (the first fixed)
    test_variants = variant_tests(Machine)   # every variant vs its expectation

See docs/extending.md for a complete worked example.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from racekit.catalogue import Outcome, ProfileSettings, System, Variant
from racekit.errors import InvalidDefinition
from racekit.sched.chooser import ReplayChooser
from racekit.sched.explore import Program, fewest_preemptions, minimize_choices, run_program, search
from racekit.sched.runtime import Execution
from racekit.threads import Call, RunState, Scenario, ThreadHarness, TidChooser, call_text

_INVARIANT = "_racekit_quiescent_invariant"


def quiescent_invariant(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark ``method(self, obj, history)`` as an invariant checked when no operation is in flight."""

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        setattr(fn, _INVARIANT, name)
        return fn

    return mark


def kind_to_property(kind: str | None) -> str | None:
    if kind is None:
        return None
    if kind.startswith("invariant:"):
        return kind.split(":", 1)[1]
    return kind


class _LastFailure:
    """Where a failing example leaves its scenario and schedule for ``search``."""

    scenario: Scenario | None = None
    tids: list[int] = []
    kind: str | None = None


class ConcurrentStateMachine(RuleBasedStateMachine):
    """Base class: declare ``system``, ``spec``, ``threads``, ``operations``."""

    system: ClassVar[System]
    spec: ClassVar[Any]
    threads: ClassVar[int] = 2
    max_ops: ClassVar[int] = 4
    operations: ClassVar[dict[str, tuple[st.SearchStrategy[Any], ...]]] = {}
    blocking: ClassVar[frozenset[str]] = frozenset()
    explore_scenario: ClassVar[Scenario | None] = None
    variant_name: ClassVar[str | None] = None
    max_steps: ClassVar[int] = 2_000
    check_timeout: ClassVar[float] = 10.0
    final_calls: ClassVar[list[Call]] = []

    # -------------------------------------------------------- declarations
    @classmethod
    def variant(cls) -> Variant:
        if cls.variant_name is not None:
            return cls.system.variant(cls.variant_name)
        return cls.system.fixed[0]

    @classmethod
    def for_variant(cls, name: str) -> type[ConcurrentStateMachine]:
        """A subclass bound to one variant (validated by name)."""
        v = cls.system.variant(name)
        return type(f"{cls.__name__}_{v.name}", (cls,), {"variant_name": v.name, "__module__": cls.__module__})

    @classmethod
    def may_block(cls, obj: Any, name: str, args: tuple[Any, ...]) -> bool:
        """May this operation stay blocked forever when the run ends? (e.g. take on empty)"""
        return name in cls.blocking

    @classmethod
    def invariants(cls) -> dict[str, Callable[[Any, Any], None]]:
        found: dict[str, Callable[[Any, Any], None]] = {}
        for _, member in inspect.getmembers(cls, inspect.isfunction):
            name = getattr(member, _INVARIANT, None)
            if name is not None:
                found[name] = (lambda m: (lambda obj, history: m(None, obj, history)))(member)
        return found

    @classmethod
    def harness(cls, variant: Variant | None = None) -> ThreadHarness:
        v = variant or cls.variant()
        if not cls.operations:
            raise InvalidDefinition(f"{cls.__name__} declares no operations")
        trace = v.options.get("trace_files")
        return ThreadHarness(
            v.factory,
            cls.spec,
            threads=cls.threads,
            invariants=cls.invariants(),
            may_block=cls.may_block,
            trace_files=frozenset(trace) if trace is not None else None,
            max_steps=cls.max_steps,
            check_timeout=cls.check_timeout,
            final_calls=cls.final_calls,
        )

    # --------------------------------------------------------- live run
    def __init__(self) -> None:
        super().__init__()
        self._harness = self.harness()
        self._ops: list[list[Call]] = [[] for _ in range(self.threads)]
        self._state: RunState = self._harness.new_state(self._ops, closed=False)
        self._ex = Execution(_NoChooser(), max_steps=self.max_steps, trace_files=self._harness.trace_files, record_where=False)
        for t in range(self.threads):
            self._ex.spawn(self._harness.body(self._state, t), f"T{t}")
        self._tids: list[int] = []
        self._count = 0
        self._ex.begin()
        self._open = True

    def _busy(self) -> list[int]:
        opts = self._ex.options()
        return [t for t in opts if t in self._state.inflight]

    def _idle(self) -> list[int]:
        return [t for t in range(self.threads) if t not in self._state.inflight]

    @precondition(lambda self: self._count < self.max_ops and bool(self._idle()) and self._ex.failure is None)
    @rule(data=st.data())
    def invoke(self, data: Any) -> None:
        idle = self._idle()
        tid = data.draw(st.sampled_from(idle), label="thread")
        name = data.draw(st.sampled_from(sorted(self.operations)), label="operation")
        args = tuple(data.draw(s, label=f"{name} arg") for s in self.operations[name])
        self._ops[tid].append((name, args))
        self._count += 1
        self._do_step(tid)

    @precondition(lambda self: bool(self._busy()) and self._ex.failure is None)
    @rule(data=st.data())
    def step(self, data: Any) -> None:
        busy = self._busy()
        tid = busy[data.draw(st.integers(0, len(busy) - 1), label="which busy thread")]
        self._do_step(tid)

    @precondition(lambda self: (self._count >= self.max_ops or self._ex.failure is not None) and not self._busy())
    @rule()
    def rest(self) -> None:
        """Nothing left to do: lets Hypothesis end the example here."""

    def _do_step(self, tid: int) -> None:
        self._tids.append(tid)
        self._ex.step(tid)

    def teardown(self) -> None:
        if not self._open:
            return
        kind: str | None = None
        message = ""
        try:
            # finish in-flight operations with the boring policy
            while self._ex.failure is None:
                busy = self._busy()
                if not busy:
                    break
                if len(self._ex.steps) >= self.max_steps:
                    kind, message = "livelock", self._ex.livelock_message()
                    break
                self._do_step(busy[0])
            if kind is None and self._ex.failure is None and not self._state.inflight and self.final_calls:
                final = self._ex.spawn(self._harness.final_body(self._state), "final")
                while not final.done and self._ex.failure is None:
                    opts = self._ex.options()
                    if final.tid not in opts:
                        break
                    self._do_step(final.tid)
            if kind is None and self._ex.failure is not None:
                kind, message = self._ex.failure
            if kind is None and self._state.inflight:
                kind, message = "deadlock", self._ex.deadlock()[0]
        finally:
            self._ex.end()
            self._open = False
        kind, message = self._harness.verdict(self._state, kind, message)
        if kind is not None:
            _LastFailure.scenario = [list(ops) for ops in self._ops]
            _LastFailure.tids = list(self._tids)
            _LastFailure.kind = kind
            raise AssertionError(f"{kind}: {message}")

    # ------------------------------------------- engine protocol (catalogue)
    @classmethod
    def search(cls, variant: Variant, profile: ProfileSettings) -> Outcome:
        """Look for a failing scenario and schedule; minimize; describe it.

        A portfolio, cheapest first: exhaustive DPOR over the declared
        ``explore_scenario`` (small, so it settles in milliseconds), then
        Hypothesis over generated scenarios and schedules.  A failure is then
        minimized: operations are dropped while bounded search still fails,
        and the schedule is reduced to the fewest preemptions.
        """
        started = time.perf_counter()
        harness = cls.harness(variant)
        stats: dict[str, Any] = {}
        found: tuple[Scenario, list[int], str] | None = None
        if cls.explore_scenario:
            res = search(harness.program(cls.explore_scenario), "dfs", budget=profile.budget, minimize=False)
            stats["schedules"] = res.schedules
            if res.failed and res.kind:
                found = ([list(t) for t in cls.explore_scenario], res.choices, res.kind)
        if found is None:
            failure, examples = cls._hypothesis(variant, profile)
            stats["examples"] = examples
            if failure is not None:
                scenario, tids, _ = failure
                first = run_program(harness.program(scenario), TidChooser(tids), record_where=False)
                if first.kind is not None:
                    found = (scenario, first.choices, first.kind)
        if found is None:
            stats["seconds"] = round(time.perf_counter() - started, 3)
            return Outcome(False, engine="threads", stats=stats)
        scenario, choices, kind = _minimize_scenario(harness, *found, budget=profile.budget)
        outcome = cls._describe(variant, harness, scenario, choices)
        outcome.stats.update(stats)
        outcome.stats["seconds"] = round(time.perf_counter() - started, 3)
        return outcome

    @classmethod
    def _hypothesis(cls, variant: Variant, profile: ProfileSettings) -> tuple[tuple[Scenario, list[int], str] | None, int]:
        bound = cls.for_variant(variant.name)
        _LastFailure.scenario = None
        examples = 0
        original_init = bound.__init__

        def counting_init(self: Any) -> None:
            nonlocal examples
            examples += 1
            original_init(self)

        bound.__init__ = counting_init  # type: ignore[method-assign]
        with contextlib.suppress(AssertionError):  # the failure is read from _LastFailure
            run_state_machine_as_test(  # type: ignore[no-untyped-call]
                bound,
                settings=settings(
                    max_examples=profile.max_examples,
                    stateful_step_count=profile.stateful_step_count,
                    database=None,
                    derandomize=True,
                    deadline=None,
                    verbosity=Verbosity.quiet,
                    suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False,
                ),
            )
        if _LastFailure.scenario is None or _LastFailure.kind is None:
            return None, examples
        return (_LastFailure.scenario, list(_LastFailure.tids), _LastFailure.kind), examples

    @classmethod
    def replay(cls, variant: Variant, scenario: Any, choices: list[int]) -> Outcome:
        """Run one scenario under one choice list, exactly (no search)."""
        scen = _parse_scenario(scenario)
        return cls._describe(variant, cls.harness(variant), scen, choices)

    @classmethod
    def replay_all(cls, variant: Variant, scenario: Any, budget: int = 5_000) -> Outcome:
        """Every schedule of ``scenario`` (DPOR, up to ``budget``): how a fixed
        variant proves a broken sibling's counterexample cannot happen to it."""
        scen = _parse_scenario(scenario)
        harness = cls.harness(variant)
        result = search(harness.program(scen), "dfs", budget=budget, minimize=False)
        return Outcome(
            result.failed,
            result.kind,
            kind_to_property(result.kind),
            result.message,
            engine="threads",
            scenario=_scenario_json(scen),
            choices=result.choices,
            stats={"schedules": result.schedules, "exhaustive": result.exhausted},
        )

    @classmethod
    def explore(cls, variant: Variant, strategy: str, budget: int | None, seed: int, preemption_bound: int | None) -> Any:
        """The fixed ``explore_scenario`` under one explorer (``racekit explore``)."""
        scen = cls.explore_scenario or [[(sorted(cls.operations)[0], ())] for _ in range(cls.threads)]
        harness = cls.harness(variant)
        result = search(harness.program(scen), strategy, budget=budget, seed=seed, preemption_bound=preemption_bound)
        if result.failed:
            result.trace = cls._describe(variant, harness, scen, result.choices).trace
        return result

    @classmethod
    def _describe(cls, variant: Variant, harness: ThreadHarness, scenario: Scenario, choices: list[int]) -> Outcome:
        program: Program = harness.program(scenario)
        run = run_program(program, ReplayChooser(choices), record_where=True)
        state: RunState = run.state
        lin = harness.last_lin
        explanation = lin.to_json() if lin is not None and lin.verdict == "violation" else None
        trace = run.trace()
        for row in trace:
            if row["where"] in ("invoke", "return", "final"):
                row["where"] = ""
        _annotate(trace, state)
        return Outcome(
            run.failed,
            run.kind,
            kind_to_property(run.kind),
            run.message,
            engine="threads",
            scenario=_scenario_json(scenario),
            choices=list(choices),
            trace=trace,
            history=state.recorder.history().to_json(),
            explanation=explanation,
            stats={
                "operations": sum(len(t) for t in scenario),
                "preemptions": run.result.preemptions,
                "steps": len(run.result.steps),
            },
        )


class _NoChooser:
    """The live machine makes its choices itself; nothing may ask this one."""

    def choose(self, options: Any, kind: str) -> int:  # pragma: no cover - defensive
        return 0


def _minimize_scenario(
    harness: ThreadHarness, scenario: Scenario, choices: list[int], kind: str, budget: int
) -> tuple[Scenario, list[int], str]:
    """Drop operations (and empty threads) while DPOR still finds the same kind
    of failure; then reduce the schedule to the fewest preemptions."""
    best, best_choices = [list(t) for t in scenario], list(choices)
    per_try = max(200, budget // 4)
    improved = True
    while improved:
        improved = False
        for t in range(len(best)):
            for i in range(len(best[t])):
                cand = [list(ops) for ops in best]
                del cand[t][i]
                cand = [ops for ops in cand if ops]
                if not cand:
                    continue
                res = search(harness.program(cand), "dfs", budget=per_try, minimize=False)
                if res.failed and res.kind == kind:
                    best, best_choices = cand, res.choices
                    improved = True
                    break
            if improved:
                break
    program = harness.program(best)
    run = run_program(program, ReplayChooser(best_choices), record_where=False)
    if run.kind == kind:
        best_choices = fewest_preemptions(program, run)
        best_choices = minimize_choices(program, best_choices, kind)
    return best, best_choices, kind


def _scenario_json(scenario: Scenario) -> dict[str, Any]:
    return {"threads": [[[name, list(args)] for name, args in ops] for ops in scenario]}


def _parse_scenario(data: Any) -> Scenario:
    from racekit.errors import CounterexampleError

    try:
        threads = data["threads"]
        return [[(str(name), tuple(_tuplify(a) for a in args)) for name, args in ops] for ops in threads]
    except (KeyError, TypeError, ValueError) as exc:
        raise CounterexampleError(f"scenario is not a list of operations per thread ({exc})") from None


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def _annotate(trace: list[dict[str, Any]], state: RunState) -> None:
    """Name the operation each invoke/return step belongs to."""
    pos = [0] * len(state.ops)
    for row in trace:
        tid = row["thread"]
        if row["what"] == "invoke" and pos[tid] < len(state.ops[tid]):
            row["what"] = f"invoke {call_text(state.ops[tid][pos[tid]])}"
            pos[tid] += 1
        elif row["what"] == "return" and pos[tid] > 0:
            row["what"] = f"return from {state.ops[tid][pos[tid] - 1][0]}"
