"""ConcurrentStateMachine: the thread engine, and Hypothesis stateful testing
where the interleaving is part of the program.

A thread system declares its operations, a sequential spec and seed
scenarios; the class is then both

* the **Engine** (:mod:`racekit.engine`) the search drives: a scenario is a
  list of operation calls per logical thread (``seed_scenarios``, ``draw``,
  ``shrink``), run under a chooser by :class:`~racekit.sched.scenario.ScenarioHarness`
  and judged (deadlock, linearizability against the spec, quiescent
  invariants); and
* a Hypothesis ``RuleBasedStateMachine`` (``Machine.TestCase``, and the live
  test of every fixed variant): the rules are the nondeterministic choices -
  ``invoke`` starts an operation on an idle thread, ``step`` runs a busy
  thread (or one the system started itself) to its next switch point, and
  ``all_blocked`` lets an example end when every thread waits.  Teardown
  finishes the run through the scheduler's own loop
  (:meth:`~racekit.sched.runtime.Execution.finish`).

To test your own code, subclass and declare::

    class Machine(ConcurrentStateMachine):
        system = my_module.SYSTEM            # variants + expectations
        spec = MySpec()                      # sequential model
        threads = 2
        operations = {"put": (st.integers(0, 9),), "get": ()}
        seed_scenario = [[("put", (1,))], [("get", ())]]

        @quiescent_invariant("size never negative")
        def size_ok(self, obj, history): assert obj.size() >= 0

    test_variants = variant_tests(Machine)   # every variant vs its expectation

See docs/extending.md for complete worked examples.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from racekit.choice import Boring, ByLabel, Chooser, Draw, Recorder, Result
from racekit.declarations import System, Variant
from racekit.engine import Phase, Plan
from racekit.errors import CounterexampleError, InvalidDefinition
from racekit.profiles import ProfileSettings
from racekit.sched.program import run_program
from racekit.sched.runtime import Execution
from racekit.sched.scenario import Call, RunState, Scenario, ScenarioHarness, call_text

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


class ConcurrentStateMachine(RuleBasedStateMachine):
    """Base class: declare ``system``, ``spec``, ``threads``, ``operations``, seeds."""

    # ---- declarations
    system: ClassVar[System]
    spec: ClassVar[Any]
    threads: ClassVar[int] = 2
    max_ops: ClassVar[int] = 4
    operations: ClassVar[dict[str, tuple[st.SearchStrategy[Any], ...]]] = {}
    blocking: ClassVar[frozenset[str]] = frozenset()
    seed_scenario: ClassVar[Scenario | None] = None
    variant_seeds: ClassVar[dict[str, Scenario]] = {}
    """The smallest scenario that shows a variant's bug, when it differs from
    ``seed_scenario`` (over capacity needs two producers, a lost wakeup two
    waiting consumers).  Keys are checked against the variant names."""
    max_steps: ClassVar[int] = 2_000
    check_timeout: ClassVar[float] = 10.0
    final_calls: ClassVar[list[Call]] = []
    variant_name: ClassVar[str | None] = None

    # ---- engine identity
    engine: ClassVar[str] = "threads"
    inner: ClassVar[str] = "dpor"
    unit: ClassVar[str] = "preemptions"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        system = cls.__dict__.get("system")
        seeds = cls.__dict__.get("variant_seeds")
        if system is not None and seeds:
            names = {v.name for v in system.variants}
            unknown = sorted(set(seeds) - names)
            if unknown:
                raise InvalidDefinition(
                    f"{cls.__name__}.variant_seeds names {unknown}, which are not variants of "
                    f"{system.name} ({', '.join(sorted(names))})"
                )

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
    def subject(cls, obj: Any) -> Any:
        """What the operations are called on: the variant's object by default.

        Override to put a thin driver around it (think time, a database the
        reader goes through); opcode tracing still covers the variant's code.
        """
        return obj

    @classmethod
    def quiescent_invariants(cls) -> dict[str, Callable[[Any, Any], None]]:
        found: dict[str, Callable[[Any, Any], None]] = {}
        for _, member in inspect.getmembers(cls, inspect.isfunction):
            name = getattr(member, _INVARIANT, None)
            if name is not None:
                found[name] = (lambda m: (lambda obj, history: m(None, obj, history)))(member)
        return found

    @classmethod
    def harness(cls, variant: Variant | None = None) -> ScenarioHarness:
        v = variant or cls.variant()
        if not cls.operations:
            raise InvalidDefinition(f"{cls.__name__} declares no operations")
        factory = v.factory
        from racekit.sched.scenario import code_files

        return ScenarioHarness(
            lambda: cls.subject(factory()),
            cls.spec,
            threads=cls.threads,
            invariants=cls.quiescent_invariants(),
            may_block=cls.may_block,
            trace_files=frozenset(v.trace_files) if v.trace_files is not None else code_files(factory),
            max_steps=cls.max_steps,
            check_timeout=cls.check_timeout,
            final_calls=cls.final_calls,
            scope_from=factory,
        )

    # ------------------------------------------------------ engine hooks
    @classmethod
    def plan(cls, variant: Variant, profile: ProfileSettings) -> Plan:
        """Shallow bugs first: iterative preemption bounding over DPOR on the
        seed scenario, then unbounded DPOR, then generated scenarios."""
        return Plan(
            phases=[
                Phase("bounded", profile.budget, "seeds"),
                Phase("hypothesis", profile.max_examples, "drawn"),
            ],
            shrink_runs=max(200, profile.budget // 4),
            fewest_runs=3000,
            choice_replays=400,
            cross="search",
            cross_runs=5000,
        )

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        scenario = cls.variant_seeds.get(variant.name, cls.seed_scenario)
        return [scenario_json(scenario)] if scenario else []

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        """Up to ``max_ops`` operations, each on a drawn thread, with drawn arguments."""
        ops: list[list[Call]] = [[] for _ in range(cls.threads)]
        names = sorted(cls.operations)
        for _ in range(draw.integer(1, cls.max_ops)):
            name = draw.pick(names)
            args = tuple(draw.value(s) for s in cls.operations[name])
            ops[draw.integer(0, cls.threads - 1)].append((name, args))
        return scenario_json([t for t in ops if t] or [[(names[0], ())]])

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        """Every way to drop one operation (and a thread left empty)."""
        threads = parse_scenario(scenario)
        for t in range(len(threads)):
            for i in range(len(threads[t])):
                cand = [list(ops) for ops in threads]
                del cand[t][i]
                cand = [ops for ops in cand if ops]
                if cand:
                    yield scenario_json(cand)

    @classmethod
    def size(cls, scenario: Any) -> int:
        return sum(len(t) for t in parse_scenario(scenario))

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        return None

    @classmethod
    def session(cls, variant: Variant) -> AbstractContextManager[ThreadSession]:
        return nullcontext(ThreadSession(cls.harness(variant)))

    # --------------------------------------------------------- live run
    def __init__(self) -> None:
        super().__init__()
        self._harness = self.harness()
        self._ops: list[list[Call]] = [[] for _ in range(self.threads)]
        self._state: RunState = self._harness.new_state(self._ops, closed=False)
        self._ex = Execution(Boring(), max_steps=self.max_steps, trace_files=self._harness.trace_files, record_where=False)
        for t in range(self.threads):
            self._ex.spawn(self._harness.body(self._state, t), f"T{t}")
        self._tids: list[int] = []
        self._count = 0
        self._ex.begin()
        self._open = True

    def _busy(self) -> list[int]:
        """Threads that can run: inside an operation, or started by the system itself."""
        return [t for t in self._ex.options() if t in self._state.inflight or t >= self.threads]

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

    @precondition(lambda self: not self._busy() and not self._idle())
    @rule()
    def all_blocked(self) -> None:
        """Every thread waits inside an operation: nothing can run or be invoked."""

    def _do_step(self, tid: int) -> None:
        self._tids.append(tid)
        self._ex.step(tid)

    def teardown(self) -> None:
        if not self._open:
            return
        self._open = False
        state = self._state
        state.closed = True  # idle threads may now leave
        if self.final_calls:
            self._ex.spawn(self._harness.final_body(state), "final")
        self._ex.chooser = _Teardown(state, self.threads)
        result = self._ex.finish()  # the scheduler's own loop: deadlock, livelock, step bound
        kind, message = self._harness.verdict(state, result.kind, result.message)
        if kind is not None:
            scenario = [list(ops) for ops in self._ops]
            choices = self.choices_of(scenario, self._tids)
            raise AssertionError(
                f"{kind}: {message}\nreplay: {type(self).__name__}.replay_run(variant, "
                f"{scenario_json(scenario)!r}, {choices!r})"
            )

    @classmethod
    def live_test(cls, variant: Variant, profile: ProfileSettings, *, shrink: bool = True) -> None:
        """The live Hypothesis state machine on ``variant``, derandomized: a
        failure raises AssertionError naming the scenario and the choices
        that replay it (shrunk by Hypothesis unless ``shrink`` is False)."""
        from hypothesis.stateful import run_state_machine_as_test

        from racekit.choice.hypothesis_settings import search_settings

        settings = search_settings(profile.max_examples, shrink=shrink, stateful_step_count=profile.stateful_step_count)
        run_state_machine_as_test(cls.for_variant(variant.name), settings=settings)

    @classmethod
    def choices_of(cls, scenario: Scenario, tids: Sequence[int]) -> list[int]:
        """The choice list that replays a live run (threads stepped in ``tids`` order)."""
        recorder = Recorder(ByLabel(tids))
        run_program(cls.harness().program(scenario), recorder, record_where=False)
        return recorder.choices

    @classmethod
    def replay_run(cls, variant: Variant, scenario: Any, choices: list[int]) -> Result:
        """One scenario under one choice list, in detail."""
        from racekit.choice import Replay

        return ThreadSession(cls.harness(variant)).run(scenario, Replay(choices), detail=True)


class _Teardown:
    """Finishing a live run: threads inside an operation (or started by the
    system) first, current first - the boring policy; idle threads leave last."""

    def __init__(self, state: RunState, threads: int) -> None:
        self.state = state
        self.threads = threads

    def choose(self, options: Sequence[Any], kind: str, view: object = None) -> int:
        for i, t in enumerate(options):
            if t in self.state.inflight or t >= self.threads:
                return i
        return 0


class ThreadSession:
    """Runs of one thread variant: a scenario under a chooser -> a Result."""

    def __init__(self, harness: ScenarioHarness) -> None:
        self.harness = harness

    def run(self, scenario: Any, chooser: Chooser, *, detail: bool = False, mode: str = "step") -> Result:
        threads = parse_scenario(scenario)
        run = run_program(self.harness.program(threads), chooser, record_where=detail)
        state: RunState = run.state
        result = Result(
            run.failed,
            run.kind,
            kind_to_property(run.kind),
            run.message,
            engine="threads",
            scenario=scenario_json(threads),
            stats={
                "operations": sum(len(t) for t in threads),
                "preemptions": run.result.preemptions,
                "steps": len(run.result.steps),
            },
            steps=len(run.result.steps),
            pruned=run.result.sleep_blocked,
            events=run.result.steps,
            unfinished=run.result.unfinished,
            state=state,
            actors=run.result.ran_threads,
            shared_points=run.result.shared_points,
        )
        if detail:
            trace = run.trace()
            for row in trace:
                if row["where"] in ("invoke", "return", "final"):
                    row["where"] = ""
            _annotate(trace, state)
            result.trace = trace
            result.history = state.recorder.history().to_json()
            lin = state.lin
            if run.failed and lin is not None and lin.verdict == "violation":
                result.explanation = lin.to_json()
        return result


def scenario_json(scenario: Scenario | Any) -> dict[str, Any]:
    if isinstance(scenario, dict):
        return scenario
    return {"threads": [[[name, list(args)] for name, args in ops] for ops in scenario]}


def parse_scenario(data: Any) -> Scenario:
    if isinstance(data, list):
        return [[(str(name), tuple(args)) for name, args in ops] for ops in data]
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
        if tid >= len(pos):
            continue
        if row["what"] == "invoke" and pos[tid] < len(state.ops[tid]):
            row["what"] = f"invoke {call_text(state.ops[tid][pos[tid]])}"
            pos[tid] += 1
        elif row["what"] == "return" and pos[tid] > 0:
            row["what"] = f"return from {state.ops[tid][pos[tid] - 1][0]}"
