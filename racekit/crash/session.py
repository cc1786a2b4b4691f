"""A session: worker processes and a scratch directory for many runs.

Opened around a search or a replay.  By default it borrows this process's
shared warm pool (``procs.shared_pool``): at its end a worker still inside a
task is killed and the others stay warm for the next session; the scratch
directory is removed.  ``shared=False`` gives the session a pool of its own,
closed at the end with a check that no process survived.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from racekit.choice.chooser import Boring, Chooser
from racekit.crash.procs import HarnessError, WorkerPool, kill_group, scratch_dir, shared_pool
from racekit.crash.run import Driver, Mode, Run, RunResult, Task


class Session:
    def __init__(
        self, root: Path, *, spares: int = 1, env: Mapping[str, str] | None = None, shared: bool = True
    ) -> None:
        self.root = root
        self.spares = spares
        self.env = dict(env or {})
        self.shared = shared
        self._stack = contextlib.ExitStack()
        self.dir: Path | None = None
        self.pool: WorkerPool | None = None
        self.runs = 0
        self.kills = 0

    def __enter__(self) -> Session:
        self.dir = self._stack.enter_context(scratch_dir("racekit-crash-"))
        if self.shared:
            self.pool = shared_pool(self.root, self.env)
        else:
            self.pool = WorkerPool(self.root, self.dir / "workers.log", spares=self.spares, env=self.env)
        self.pool.top_up()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        left: list[int] = []
        try:
            if self.pool is not None and self.shared:
                self.pool.reset()
            elif self.pool is not None:
                left = self.pool.close()
                for pid in left:
                    kill_group(pid)
        finally:
            self._stack.close()
        if left and et is None:
            raise HarnessError(f"worker processes left behind: {left}")

    def run(self, driver: Driver, chooser: Chooser, *, mode: Mode = "step", **limits: Any) -> RunResult:
        """One run in a fresh work directory (removed afterwards)."""
        if self.pool is None or self.dir is None:
            raise HarnessError("Session used outside 'with'")
        self.runs += 1
        workdir = self.dir / f"run-{self.runs:05d}"
        workdir.mkdir()
        try:
            result = Run(driver, chooser, self.pool, workdir, mode=mode, **limits).execute()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self.kills += result.kills
        return result

    def gather(self, calls: Sequence[tuple[str, dict[str, Any]]], *, time_limit: float = 600.0) -> list[Any]:
        """Run ``calls`` (target, args) at once in worker processes, no kills; their results in order.

        For benchmarks: real concurrency, with the harness's timeouts and cleanup.
        """
        driver = _Gather(calls)
        result = self.run(driver, Boring(), mode="free", max_kills=0, time_limit=time_limit,
                          step_timeout=time_limit, max_steps=len(calls) + 1, points=False)
        if result.failed:
            raise HarnessError(f"gather failed: {result.message}")
        return driver.results


class _Gather(Driver):
    def __init__(self, calls: Sequence[tuple[str, dict[str, Any]]]) -> None:
        self.calls = list(calls)
        self.results: list[Any] = [None] * len(self.calls)

    def start(self, run: Run) -> None:
        for i, (target, args) in enumerate(self.calls):
            run.submit(f"w{i}", target, args).meta["i"] = i

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        self.results[task.meta["i"]] = result
