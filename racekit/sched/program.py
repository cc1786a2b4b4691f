"""One execution of a thread program: the thread engine's ``run``.

A :class:`Program` says what one execution runs (build the state, make the
threads, judge the end); :func:`run_program` runs it once under a chooser
and returns a :class:`Run`.  The chooser sees each decision through a
:class:`ThreadView` - the thread that would keep running, the access each
option is about to make, the steps run so far - which is what DPOR needs;
no strategy ever reaches into the execution itself.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.choice.chooser import Chooser, Recorder
from racekit.sched.patching import patched
from racekit.sched.runtime import Execution, RunResult, Step, thread_names


@dataclass
class Program:
    """What one execution runs: build state, make threads, check the end state."""

    setup: Callable[[], Any]
    threads: Callable[[Any], Sequence[Callable[[], Any]]]
    check: Callable[[Any, RunResult], None] | None = None
    trace_files: frozenset[str] = frozenset()
    # module objects or their namespaces (a function's __globals__)
    patch_modules: tuple[types.ModuleType | dict[str, Any], ...] = ()
    max_steps: int = 20_000
    thread_names: Sequence[str] | None = None
    # judge(state, result) -> (kind, message): replaces the default verdict
    # (the run's own kind, then ``check``) when a harness needs more, e.g. to
    # accept operations that are allowed to block forever.
    judge: Callable[[Any, RunResult], tuple[str | None, str]] | None = None


@dataclass
class Run:
    """One execution of a program and its verdict."""

    result: RunResult
    kind: str | None
    message: str
    state: Any = None
    choices: list[int] = field(default_factory=list)  # the real decisions it made

    @property
    def failed(self) -> bool:
        return self.kind is not None

    def trace(self) -> list[dict[str, Any]]:
        names = thread_names(self.result.threads)
        return [s.to_json(names) for s in self.result.steps]


class ThreadView:
    """One decision as a strategy sees it (see :class:`racekit.choice.View`).

    Valid during the ``choose`` call it is given to: one view per run is
    updated in place for each decision (building one per decision was a
    third of a controlled switch; no strategy keeps it)."""

    __slots__ = ("_ex", "current", "at")

    def __init__(self, ex: Execution) -> None:
        self._ex = ex
        self.current: Hashable | None = None
        self.at = 0

    def pending(self, option: Hashable) -> object:
        return self._ex.threads[int(option)].pending  # type: ignore[call-overload]

    def steps_since(self, at: int) -> Sequence[Step]:
        return self._ex.steps[at:]


class _Viewed:
    """Gives the chooser a view of each decision of ``ex``."""

    def __init__(self, inner: Chooser) -> None:
        self.inner = inner
        self.ex: Execution | None = None
        self.view: ThreadView | None = None

    def attach(self, ex: Execution) -> None:
        self.ex = ex
        self.view = ThreadView(ex)

    def choose(self, options: Sequence[Hashable], kind: str, view: object = None) -> int:
        ex, v = self.ex, self.view
        assert ex is not None and v is not None
        cur = ex.current
        v.current = cur.tid if cur is not None and cur.tid in options else None
        v.at = len(ex.steps)
        return self.inner.choose(options, kind, v)


def run_program(program: Program, chooser: Chooser, *, record_where: bool = True) -> Run:
    """Run the program once under ``chooser`` (the only source of choices)."""
    # A fresh Recorder (the kernel's drive() hands one per trial) is used as
    # it is: wrapping it in a second one would record every decision twice.
    recorder = chooser if isinstance(chooser, Recorder) and not chooser.points else Recorder(chooser)
    viewed = _Viewed(recorder)
    with patched(program.patch_modules):
        state = program.setup()
        fns = list(program.threads(state))
        for i, fn in enumerate(fns):
            if not callable(fn):
                from racekit.errors import UsageError

                raise UsageError(
                    f"threads(state) returned {fn!r} at position {i}: every thread must be a zero-argument callable"
                )
        ex = Execution(viewed, max_steps=program.max_steps, trace_files=program.trace_files, record_where=record_where)
        viewed.attach(ex)
        names = program.thread_names
        for i, fn in enumerate(fns):
            ex.spawn(fn, names[i] if names and i < len(names) else None)
        result = ex.run()
        for t in result.threads:
            if isinstance(t.error, KeyboardInterrupt):
                raise KeyboardInterrupt  # Ctrl-C stops the search; it is never a finding
        kind, message = result.kind, result.message
        if result.sleep_blocked:
            pass
        elif program.judge is not None:
            kind, message = program.judge(state, result)
        elif kind is None and program.check is not None:
            try:
                program.check(state, result)
            except AssertionError as exc:
                kind, message = "assertion", str(exc) or "check failed"
            except Exception as exc:  # noqa: BLE001 - a check that raises is a failure with its schedule
                kind, message = "check", f"check raised {type(exc).__name__}: {exc}"
    return Run(result, kind, message, state, recorder.choices)
