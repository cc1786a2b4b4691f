"""A thread system's scenario: operations per logical thread, run and judged.

A *scenario* is a list of operation calls per logical thread.  Each thread
performs its calls in order on one shared object built by the variant's
factory.  Invocations and returns are switch points of their own (they write
the history), so "A returned before B was invoked" is a scheduling decision
like any other.  At the end, :meth:`ScenarioHarness.judge` decides: a thread
stuck in an operation that may not block is a deadlock or hang; otherwise
the history must be linearizable with respect to the spec and every
quiescent invariant must hold.

Both the Hypothesis state machine (which grows a scenario while it runs) and
the explorers (which take a fixed one) run exactly this code, so a schedule
found by one replays under the other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.history import History, HistoryRecorder
from racekit.sched.access import HISTORY_KEY, Access
from racekit.sched.program import Program
from racekit.sched.runtime import RunResult, ThreadKilled, current_execution

Call = tuple[str, tuple[Any, ...]]
Scenario = list[list[Call]]

INVOKE = Access(HISTORY_KEY, False, "invoke")
RETURN = Access(HISTORY_KEY, True, "return")

Invariant = Callable[[Any, History], None]


def call_text(call: Call) -> str:
    name, args = call
    return f"{name}({', '.join(repr(a) for a in args)})"


@dataclass
class RunState:
    """Everything one run of a scenario touches."""

    obj: Any
    ops: list[list[Call]]
    closed: bool
    recorder: HistoryRecorder = field(default_factory=HistoryRecorder)
    inflight: dict[int, tuple[int, Call]] = field(default_factory=dict)
    done_ops: int = 0
    lin: Any = None  # the linearizability result of the verdict, for explanations


class ScenarioHarness:
    """Build and judge runs of one variant of a thread system."""

    def __init__(
        self,
        factory: Callable[[], Any],
        spec: Any,
        *,
        threads: int,
        invariants: dict[str, Invariant] | None = None,
        may_block: Callable[[Any, str, tuple[Any, ...]], bool] | None = None,
        trace_files: frozenset[str] | None = None,
        max_steps: int = 5_000,
        check_timeout: float = 10.0,
        final_calls: Sequence[Call] = (),
        scope_from: Callable[..., Any] | None = None,
    ) -> None:
        self.factory = factory
        self.spec = spec
        self.threads = threads
        self.invariants = invariants or {}
        self.may_block = may_block or (lambda obj, name, args: False)
        # ``scope_from``: the system's own factory when ``factory`` wraps it
        # (a state machine's ``subject`` adapter): its code says what is ours.
        origin = scope_from if scope_from is not None else factory
        if trace_files is None:
            trace_files = code_files(origin)
        self.trace_files = trace_files
        # The system's own (traced) modules: plain threading in them is
        # swapped for racekit's while a run builds and drives the object.
        # Not the spec's or environment's modules: their real locks are
        # never held across a switch point, and swapping them adds steps.
        from racekit.sched.scope import scope_of

        own = code_files(origin)
        self.patch_namespaces = tuple(g for g in scope_of(origin).namespaces if g.get("__file__") in own)
        self.max_steps = max_steps
        self.check_timeout = check_timeout
        self.final_calls = list(final_calls)

    # ------------------------------------------------------------ threads
    def new_state(self, ops: list[list[Call]], closed: bool) -> RunState:
        from racekit.sched.patching import patched

        with patched(self.patch_namespaces):
            return RunState(self.factory(), ops, closed)

    def body(self, state: RunState, tid: int) -> Callable[[], None]:
        """Logical thread ``tid``: perform its calls in order, recording the history."""

        def run() -> None:
            ops = state.ops[tid]
            i = 0
            while True:
                if i >= len(ops) and state.closed:
                    return
                ex = current_execution()
                assert ex is not None
                ex.switch_point(INVOKE, ready=_has_call(state, ops, i), where="invoke")
                if i >= len(ops):
                    return  # the live machine closed the scenario while this thread was idle
                call = ops[i]
                i += 1
                name, args = call
                op_id = state.recorder.invoke(tid, name, args)
                state.inflight[tid] = (op_id, call)
                try:
                    result: Any = getattr(state.obj, name)(*args)
                except Exception as exc:  # an exception is a result; the spec decides
                    if ex.tearing_down:
                        # e.g. a killed thread's `with lock:` exit releasing a lock it no
                        # longer holds: an artefact of teardown, not a result
                        raise ThreadKilled() from None
                    result = ("error", type(exc).__name__)
                ex.switch_point(RETURN, where="return")
                state.recorder.ok(op_id, _jsonable(result))
                del state.inflight[tid]
                state.done_ops += 1

        return run

    def final_body(self, state: RunState) -> Callable[[], None]:
        """The observer: once every operation has returned, make the final calls.

        It runs as one more logical thread, inside the execution, because
        racekit primitives keep their state in the execution: after it ends
        an ``Atomic`` would read its initial value.
        """

        def run() -> None:
            ex = current_execution()
            assert ex is not None
            calls = ", ".join(call_text(c) for c in self.final_calls)
            ex.switch_point(
                Access(HISTORY_KEY, False, f"final observation: {calls}"),
                ready=lambda: not state.inflight and state.done_ops == sum(len(o) for o in state.ops),
                where="",
            )
            for name, args in self.final_calls:
                op_id = state.recorder.invoke("final", name, args)
                try:
                    result: Any = getattr(state.obj, name)(*args)
                except Exception as exc:
                    result = ("error", type(exc).__name__)
                state.recorder.ok(op_id, _jsonable(result))

        return run

    def program(self, scenario: Scenario) -> Program:
        def setup() -> RunState:
            return self.new_state([list(c) for c in scenario], closed=True)

        def threads(state: RunState) -> list[Callable[[], None]]:
            bodies = [self.body(state, t) for t in range(len(scenario))]
            if self.final_calls:
                bodies.append(self.final_body(state))
            return bodies

        return Program(
            setup,
            threads,
            None,
            self.trace_files,
            self.patch_namespaces,
            self.max_steps,
            thread_names=[f"T{t}" for t in range(len(scenario))] + ["final"],
            judge=self.judge,
        )

    # ------------------------------------------------------------ verdict
    def judge(self, state: RunState, result: RunResult) -> tuple[str | None, str]:
        """The verdict on one finished run (kind, one-line message)."""
        return self.verdict(state, result.kind, result.message)

    def verdict(self, state: RunState, kind: str | None, message: str) -> tuple[str | None, str]:
        state.lin = None
        if kind == "deadlock":
            stuck = [
                (tid, call) for tid, (_, call) in sorted(state.inflight.items())
                if not self.may_block(state.obj, call[0], call[1])
            ]
            if stuck:
                what = ", ".join(f"T{t} in {call_text(c)}" for t, c in stuck)
                prefix = "deadlock" if message.startswith("deadlock") else "hang"
                detail = message.split(": ", 1)[-1] if ":" in message else message
                return "deadlock", f"{prefix}: {what} can never finish ({detail})"
            kind, message = None, ""
        if kind is not None:
            return kind, message
        history = state.recorder.history()
        from racekit.linearizability import check

        lin = check(history, self.spec, timeout=self.check_timeout)
        state.lin = lin
        if lin.verdict == "violation":
            return "linearizability", lin.message or "history is not linearizable"
        if not state.inflight:
            for name, inv in self.invariants.items():
                try:
                    inv(state.obj, history)
                except AssertionError as exc:
                    return f"invariant:{name}", f"{name}: {exc}" if str(exc) else name
        return None, ""


def _has_call(state: RunState, ops: list[Call], index: int) -> Callable[[], bool]:
    """Ready when call number ``index`` exists (the live machine appends calls)
    or the scenario was closed (the live machine's teardown: no more calls)."""
    return lambda: index < len(ops) or state.closed


def code_files(factory: Callable[..., Any]) -> frozenset[str]:
    """The source files of a factory's code (a class: every method up its MRO).

    These are the files opcode tracing covers by default: the system's own
    code, not the standard library or racekit.
    """
    import os

    racekit_dir = os.path.dirname(os.path.abspath(__file__)) + os.sep
    files: set[str] = set()
    klasses = factory.__mro__ if isinstance(factory, type) else (factory,)
    for klass in klasses:
        if getattr(klass, "__module__", "") == "builtins":
            continue
        members = vars(klass).values() if isinstance(klass, type) else (klass,)
        for member in members:
            fn = getattr(member, "__func__", member)
            code = getattr(fn, "__code__", None)
            if code is not None and not code.co_filename.startswith(racekit_dir):
                files.add(code.co_filename)
    if not files:
        try:
            src = inspect.getsourcefile(factory)
        except TypeError:
            src = None
        if src:
            files.add(src)
    return frozenset(files)


def _jsonable(value: Any) -> Any:
    """Results go into JSON counterexamples: keep them plain and hashable."""
    if isinstance(value, list | tuple):
        return tuple(_jsonable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _jsonable(v)) for k, v in value.items()))
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
