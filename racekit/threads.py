"""Running a thread system's scenario: operations per logical thread.

A *scenario* is a list of operation calls per logical thread.  Each thread
performs its calls in order on one shared object built by the variant's
factory.  Invocations and returns are switch points of their own (they write
the history), so "A returned before B was invoked" is a scheduling decision
like any other.  At the end, :meth:`ThreadHarness.judge` decides: a thread
stuck in an operation that may not block is a deadlock or hang; otherwise
the history must be linearizable with respect to the spec and every
quiescent invariant must hold.

Both the Hypothesis state machine (which grows a scenario while it runs) and
the explorers (which take a fixed one) run exactly this code, so a schedule
found by one replays under the other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.history import History, HistoryRecorder
from racekit.sched.access import HISTORY_KEY, Access
from racekit.sched.runtime import Execution, RunResult, ThreadKilled, current_execution

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


class TidChooser:
    """Picks threads by id from a list (then 0): turns a live run into indices."""

    def __init__(self, tids: Sequence[int]) -> None:
        self.tids = list(tids)
        self.pos = 0

    def choose(self, options: Sequence[Hashable], kind: str) -> int:
        if self.pos >= len(self.tids):
            return 0
        tid = self.tids[self.pos]
        self.pos += 1
        if tid not in options:
            from racekit.errors import ReplayDivergence

            raise ReplayDivergence(f"thread {tid} is not runnable at step {self.pos - 1} (runnable: {list(options)})")
        return list(options).index(tid)


class ThreadHarness:
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
    ) -> None:
        self.factory = factory
        self.spec = spec
        self.threads = threads
        self.invariants = invariants or {}
        self.may_block = may_block or (lambda obj, name, args: False)
        if trace_files is None:
            trace_files = code_files(factory)
        self.trace_files = trace_files
        # The system's own (traced) modules: plain threading in them is
        # swapped for racekit's while a run builds and drives the object.
        # Not the spec's or environment's modules: their real locks are
        # never held across a switch point, and swapping them adds steps.
        from racekit.sched.scope import scope_of

        own = code_files(factory)
        self.patch_namespaces = tuple(g for g in scope_of(factory).namespaces if g.get("__file__") in own)
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
                ex.switch_point(INVOKE, ready=_has_call(ops, i), where="invoke")
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

    def program(self, scenario: Scenario) -> Any:
        from racekit.sched.explore import Program

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
        kind, message = self.verdict(state, result.kind, result.message)
        self.last_lin = getattr(self, "_lin", None)
        return kind, message

    def verdict(self, state: RunState, kind: str | None, message: str) -> tuple[str | None, str]:
        self._lin = None
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
        self._lin = lin
        if lin.verdict == "violation":
            return "linearizability", lin.message or "history is not linearizable"
        if not state.inflight:
            for name, inv in self.invariants.items():
                try:
                    inv(state.obj, history)
                except AssertionError as exc:
                    return f"invariant:{name}", f"{name}: {exc}" if str(exc) else name
        return None, ""


def _has_call(ops: list[Call], index: int) -> Callable[[], bool]:
    """Ready when call number ``index`` exists (the live machine appends calls)."""
    return lambda: index < len(ops)


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


def run_live_steps(ex: Execution, tids: list[int]) -> None:  # pragma: no cover - helper for debugging
    for t in tids:
        ex.step(t)
