"""One crash run: real worker processes, a chooser, kills, recovery, checks.

A system's test supplies a :class:`Driver` (parent side): it sets up the
database, submits :class:`Task` s (a function to call in a worker process),
reacts when a task finishes, reports, dies or fails (retry, recover,
restart), and checks the durable state (``finish``, or at any callback, by
raising :class:`Violation`).

**The core loop** (:meth:`Run._step_loop`, step mode).  Every worker stops
at each of its points - between two operations on durable state, see
:mod:`racekit.crash.point` - and waits.  At each step the loop asks the chooser
which stopped task goes next (``kind="proc"``; option 0 = the one that ran
last, so a schedule without preemptions is all zeros) and, when that task
stands on a crash point and the kill budget allows, whether to SIGKILL it
there (``kind="kill"``; 0 = no).  The chosen task then runs, alone, to its
next point.  Nothing else is nondeterministic, so the same scenario and
choices give the same run and the same trace, and the choice list is the
whole counterexample.

**Free mode** (:meth:`Run._free_loop`): tasks run concurrently at full
speed; the chooser picks, per task, a delay after which the parent kills it
(a kill "at a random instant").  Used for volume (hundreds of random
kills); its failures are re-found in step mode to get a replayable
schedule.

**Power loss** (a driver with ``power_loss = True``): a kill takes the
whole machine - every worker dies - and files written through
:mod:`racekit.crash.files` lose what was not fsynced (a further choice:
lost, torn or kept; see :mod:`racekit.crash.powerloss`).

Bounds: every wait on a worker has a timeout (``step_timeout``), a run has a
step limit and a wall-clock limit, and the pool of processes is closed by
whoever owns it (see :class:`racekit.crash.session.Session`).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from racekit.choice.chooser import Chooser
from racekit.crash.powerloss import MODES, Disk
from racekit.crash.procs import HarnessError, WorkerPool, WorkerProcess, kill_group
from racekit.history import History, Operation, Status

Mode = Literal["step", "free"]
FREE_DELAYS_MS = (0, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5)  # option 0 of the delay choice means "no kill"
PROBE_AFTER = 0.005  # s without an event before asking the driver whether a task waits on a lock


class Violation(Exception):
    """A property does not hold: raised by a driver's checks."""

    def __init__(
        self, property: str, message: str, kind: str = "invariant", explanation: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.property = property
        self.message = message
        self.kind = kind
        self.explanation = explanation  # e.g. a linearizability result's to_json()


@dataclass
class Task:
    """One call ``target(**args)`` in a worker process, shown in lane ``name``."""

    id: int
    name: str
    target: str
    args: dict[str, Any]
    label: str
    state: str = "new"  # new / running / at / busy / blocked / done / killed / failed
    point: tuple[str, int, bool] | None = None  # (point, hit, is-crash-point)
    moved: bool = False  # its last step made progress (a durable change or a released lock)
    proc: WorkerProcess | None = None
    result: Any = None
    error: str = ""
    kill_deadline: float | None = None  # free mode
    meta: dict[str, Any] = field(default_factory=dict)  # the driver's own bookkeeping

    @property
    def finished(self) -> bool:
        return self.state in ("done", "killed", "failed")


class Driver:
    """Parent-side logic of one run.  Override what the system needs."""

    probes: bool = False
    """Whether :meth:`blocked` can tell a task that waits inside the database.

    A worker that waits for a lock held by a paused worker would wait forever
    in step mode.  SQLite code avoids that by not waiting (busy points);
    PostgreSQL code waits for real - READ COMMITTED's behaviour after the wait
    is the point - so its driver answers :meth:`blocked` from
    ``pg_stat_activity``, and the loop parks the task until the lock is free.
    """

    power_loss: bool = False
    """Whether a kill is a power loss: every worker dies, and files written through
    :mod:`racekit.crash.files` lose what was not fsynced (step mode only; free-mode
    kills stay process crashes).  For systems whose durability rests on fsync."""

    def blocked(self, run: Run, task: Task) -> bool:
        """Is ``task`` (which sent nothing for a few ms) waiting for a lock in the database?"""
        return False

    def start(self, run: Run) -> None:
        """Set up the durable state and submit the first tasks."""

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        """``report(data)`` was called in ``task``."""

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        """``task`` returned ``result``."""

    def on_killed(self, run: Run, task: Task) -> None:
        """``task``'s process was killed (by the harness).  Restart, recover, retry."""

    def on_error(self, run: Run, task: Task, error: str) -> None:
        """``task`` raised.  By default that is a failure of the run."""
        raise Violation("no-exception", f"{task.name}: {task.label} raised {error}", kind="exception")

    def finish(self, run: Run) -> None:
        """Every task has finished: check the final state (raise :class:`Violation`)."""

    def stats(self) -> dict[str, Any]:
        """Counts for the Outcome (``requests``, ``operations``)."""
        return {}

    def close(self) -> None:
        """The run is over (whatever happened): release what the driver holds."""


@dataclass
class RunResult:
    failed: bool
    kind: str | None = None
    property: str | None = None
    message: str = ""
    trace: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] | None = None
    explanation: dict[str, Any] | None = None
    kills: int = 0
    steps: int = 0
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


class _Recorder:
    """Client operations on the trace's step axis.  Unlike ``HistoryRecorder``, the
    arguments may be completed at return (a read-modify-write only knows what it
    read once it has read)."""

    def __init__(self) -> None:
        self.open: dict[int, tuple[str, str, tuple[Any, ...], int]] = {}
        self.done: dict[int, Operation] = {}

    def invoke(self, process: str, name: str, args: tuple[Any, ...], at: int) -> int:
        op_id = len(self.open) + len(self.done)
        self.open[op_id] = (process, name, args, at)
        return op_id

    def close(
        self, op_id: int, status: Status, result: Any, at: int, args: Sequence[Any] | None, name: str | None = None
    ) -> None:
        process, old_name, old, invoked = self.open.pop(op_id)
        ret = None if status == "info" else at
        self.done[op_id] = Operation(
            op_id, process, name or old_name, old if args is None else tuple(args), invoked, ret, result, status
        )

    def history(self) -> History:
        ops = dict(self.done)
        for op_id, (process, name, args, invoked) in self.open.items():
            ops[op_id] = Operation(op_id, process, name, args, invoked, None, None, "info")
        return History([ops[k] for k in sorted(ops)])


class Run:
    """One execution of a driver under a chooser.  Use :meth:`execute` once."""

    def __init__(
        self,
        driver: Driver,
        chooser: Chooser,
        pool: WorkerPool,
        workdir: Path,
        *,
        mode: Mode = "step",
        max_kills: int = 1,
        max_steps: int = 2_000,
        step_timeout: float = 15.0,
        time_limit: float = 120.0,
        points: bool = True,
    ) -> None:
        self.driver = driver
        self.points = points  # False (free mode only): points are no-ops in the workers, as in production
        self.chooser = chooser
        self.pool = pool
        self.workdir = workdir
        self.mode = mode
        self.max_kills = max_kills
        self.max_steps = max_steps
        self.step_timeout = step_timeout
        self.time_limit = time_limit
        self.tasks: list[Task] = []
        self.trace: list[dict[str, Any]] = []
        self.recorder = _Recorder()
        self.kills = 0
        self.steps = 0
        self.current: Task | None = None
        self._deadline = 0.0
        self.durable: Path | None = None  # the file layer's record of durable state (power loss modelled)
        self._retried = False  # every waiter was let retry once since the last progress
        self.ops = 0

    # ------------------------------------------------------------ for drivers
    def submit(self, name: str, target: str, args: dict[str, Any] | None = None, label: str = "") -> Task:
        """Queue ``target(**args)`` to run in a worker process, in lane ``name``."""
        task = Task(len(self.tasks), name, target, dict(args or {}), label or target.rpartition(":")[2])
        self.tasks.append(task)
        return task

    def note(self, name: str, what: str, where: str = "") -> None:
        """A trace row: lane ``name`` did ``what``; ``where`` is ``file:line`` or a detail."""
        self.trace.append({"step": len(self.trace), "name": name, "what": what, "where": where})

    def invoke(self, process: str, op: str, args: Sequence[Any] = ()) -> int:
        """Start a client operation in the history (and the trace)."""
        call = f"{op}({', '.join(repr(a) for a in args)})"
        self.note(process, f"invoke {call}")
        return self.recorder.invoke(process, op, tuple(args), len(self.trace) - 1)

    def ok(
        self, op_id: int, process: str, result: Any = None, args: Sequence[Any] | None = None, name: str | None = None
    ) -> None:
        """The operation returned ``result``.

        ``name``/``args``: what it turned out to be, when that is only known at
        the end (an ``add(d)`` that read ``v`` is the compare-and-set ``cas(v, v + d)``).
        """
        shown = "" if args is None else f" as {name or self.recorder.open[op_id][1]}({', '.join(map(repr, args))})"
        self.note(process, f"return {result!r}{shown}")
        self.recorder.close(op_id, "ok", result, len(self.trace) - 1, args, name)

    def fail(self, op_id: int, process: str, result: Any = None, args: Sequence[Any] | None = None) -> None:
        self.note(process, f"return fail {result!r}")
        self.recorder.close(op_id, "fail", result, len(self.trace) - 1, args)

    def info(self, op_id: int, process: str, why: str = "no answer") -> None:
        self.note(process, f"return unknown ({why})")
        self.recorder.close(op_id, "info", None, len(self.trace) - 1, None)

    # --------------------------------------------------------------- the run
    def execute(self) -> RunResult:
        started = time.monotonic()
        self._deadline = started + self.time_limit
        result = RunResult(False)
        if self.driver.power_loss and self.mode == "step":
            self.durable = self.workdir / ".racekit-durable"
            self.durable.mkdir()
        try:
            self.driver.start(self)
            if self.mode == "step":
                self._step_loop()
            else:
                self._free_loop()
            self.driver.finish(self)
        except Violation as v:
            result = RunResult(True, v.kind, v.property, v.message, explanation=v.explanation)
            self.note("check", f"VIOLATION {v.property}", v.message)
        finally:
            self._abandon()
            self.driver.close()
        result.trace = self.trace
        result.history = self.recorder.history().to_json()
        result.kills = self.kills
        result.steps = self.steps
        result.seconds = time.monotonic() - started
        result.stats = {"kills": self.kills, "steps": self.steps, "ops": self.ops, **self.driver.stats()}
        return result

    def _abandon(self) -> None:
        """After a violation or an error: processes still inside a task are killed."""
        for task in self.tasks:
            if task.proc is not None and not task.finished:
                self.pool.discard(task.proc)
                task.proc = None

    def _check_bounds(self) -> None:
        if self.steps >= self.max_steps:
            raise Violation("bounded-time", f"no end after {self.steps} steps (livelock?)", kind="livelock")
        if time.monotonic() > self._deadline:
            raise Violation("bounded-time", f"run exceeded {self.time_limit} s", kind="timeout")

    # ---------------------------------------------------------- step mode
    def _step_loop(self) -> None:
        """THE loop: pick a stopped task, maybe kill it, else run it to its next point."""
        while True:
            self._check_bounds()
            self._wake_blocked()
            ready = [t for t in self.tasks if t.state in ("new", "at")]
            if not ready and any(t.state == "blocked" for t in self.tasks):
                self._wait_unblocked()
                continue
            if not ready:
                waiting = [t for t in self.tasks if t.state == "busy"]
                if waiting and not self._retried:
                    # Nobody else can move.  What a waiter is waiting for may have happened
                    # after its last look (between its read and its busy point): each retries
                    # once; only if all refuse again with no progress is it a deadlock.
                    self._retried = True
                    for t in waiting:
                        t.state = "at"
                    continue
                if waiting:
                    names = ", ".join(f"{t.name} at {t.point[0] if t.point else '?'}" for t in waiting)
                    raise Violation("no-deadlock", f"every live task waits for another: {names}", kind="deadlock")
                return
            if self.current in ready:
                ready.remove(self.current)
                ready.insert(0, self.current)
            options: list[Hashable] = [t.name for t in ready]
            task = ready[self.chooser.choose(options, "proc")]
            if (
                task.state == "at"
                and task.point is not None
                and task.point[2]
                and self.kills < self.max_kills
                and self.chooser.choose(("go", "kill"), "kill") == 1
            ):
                self._kill(task)
                continue
            self._advance(task)

    def _advance(self, task: Task) -> None:
        self.steps += 1
        self.current = task
        if task.state == "new":
            self._start(task)
        else:
            assert task.proc is not None
            task.proc.send({"op": "go"})
        self._pump(task)
        if task.moved or task.finished:  # progress (a refused retry is none): waiters may try again
            self._wake_busy(task)

    def _wake_busy(self, mover: Task | None = None) -> None:
        self._retried = False
        for other in self.tasks:
            if other is not mover and other.state == "busy":
                other.state = "at"

    def _start(self, task: Task) -> None:
        self.pool.preload(task.target.partition(":")[0])
        task.proc = self.pool.acquire()
        task.proc.send(
            {"op": "run", "target": task.target, "args": task.args, "mode": self.mode if self.points else "bare",
             "durable": str(self.durable) if self.durable is not None else None}
        )
        task.state = "running"
        self.note(task.name, f"start {task.label}")

    def _pump(self, task: Task) -> None:
        """Handle ``task``'s events until it stops at a point, ends, dies, or blocks in the database."""
        assert task.proc is not None
        deadline = time.monotonic() + self.step_timeout
        slice_ = PROBE_AFTER if self.driver.probes else self.step_timeout
        while True:
            try:
                ev = task.proc.recv(slice_)
            except TimeoutError:
                if self.driver.probes and self.driver.blocked(self, task):
                    task.state = "blocked"
                    self.note(task.name, "waits for a lock held by another worker (in the database)")
                    return
                if time.monotonic() < deadline:
                    continue
                raise Violation(
                    "bounded-time",
                    f"{task.name}: {task.label} did not reach its next point within {self.step_timeout} s "
                    f"(blocked in the database while another worker is paused?)",
                    kind="timeout",
                ) from None
            if self._handle(task, ev):
                return

    def _wake_blocked(self) -> None:
        """Tasks whose lock was granted run on to their next point, one by one, in id order."""
        progress = True
        while progress:
            progress = False
            for task in self.tasks:
                if task.state == "blocked" and not self.driver.blocked(self, task):
                    task.state = "running"
                    self.note(task.name, "lock granted: continues")
                    self._pump(task)
                    progress = True

    def _wait_unblocked(self) -> None:
        """Only database waiters are left (a deadlock the database will break): wait for one."""
        deadline = time.monotonic() + self.step_timeout
        while time.monotonic() < deadline:
            for task in self.tasks:
                if task.state == "blocked" and not self.driver.blocked(self, task):
                    return
            time.sleep(PROBE_AFTER)
        names = ", ".join(t.name for t in self.tasks if t.state == "blocked")
        raise Violation("no-deadlock", f"{names} wait for locks in the database and nobody can release them", kind="deadlock")

    def _handle(self, task: Task, ev: dict[str, Any]) -> bool:
        """Apply one event; True when the task stopped (point, end, death)."""
        kind = ev.get("ev")
        if kind == "op":
            self.ops += 1
            outcome = f" {ev['outcome']}" if ev.get("outcome") else ""
            self.note(task.name, f"{ev.get('kind')} {ev.get('detail', '')}".rstrip() + outcome, str(ev.get("where", "")))
            return False
        if kind == "point":
            crash = bool(ev.get("crash"))
            task.point = (str(ev["name"]), int(ev["hit"]), crash)
            task.moved = bool(ev.get("moved", True))
            what = f"{'crashpoint' if crash else 'pausepoint'} {ev['name']} #{ev['hit']}"
            if ev.get("busy"):
                what += " (busy: waits for another worker)"
            self.note(task.name, what, str(ev.get("where", "")))
            task.state = "busy" if ev.get("busy") else "at"
            return True
        if kind == "report":
            self.driver.on_report(self, task, ev.get("data"))
            return False
        if kind == "done":
            task.state = "done"
            task.result = ev.get("result")
            self._release(task)
            self.note(task.name, f"done {task.label}", _short(task.result))
            self.driver.on_done(self, task, task.result)
            return True
        if kind == "error":
            task.state = "failed"
            task.error = str(ev.get("error"))
            self._release(task)
            self.note(task.name, f"raised {task.error}")
            self.driver.on_error(self, task, task.error)
            return True
        if kind == "eof":
            raise HarnessError(f"worker of {task.name} exited unexpectedly; log: {self.pool.log_tail()}")
        raise HarnessError(f"unknown event from {task.name}: {ev}")

    def _release(self, task: Task) -> None:
        if task.proc is not None:
            if task.meta.get("dead"):
                self.pool.discard(task.proc)
            else:
                self.pool.release(task.proc)
            task.proc = None

    def _kill(self, task: Task) -> None:
        """SIGKILL ``task``'s process group (power loss: every worker, and unsynced files); recover."""
        if self.durable is not None:
            self._power_loss(task)
            return
        kill_group(self._proc(task).pid)
        interrupted = self._reap(task)
        self.pool.top_up()
        if not interrupted:
            return  # it had finished just before: nothing was interrupted
        self.kills += 1
        self._killed(task, "SIGKILL")

    def _proc(self, task: Task) -> WorkerProcess:
        assert task.proc is not None
        return task.proc

    def _reap(self, task: Task) -> bool:
        """After the kill: apply what the task said before dying; True if it was interrupted."""
        proc = self._proc(task)
        task.meta["dead"] = True
        # Events it wrote before the kill are real (an ack a client got): apply them first.
        while task.proc is not None:
            ev = proc.recv(self.step_timeout)
            if ev.get("ev") == "eof":
                break
            if ev.get("ev") == "point":
                task.point = (str(ev["name"]), int(ev["hit"]), bool(ev.get("crash")))
                self.note(task.name, f"passes {ev['name']} #{ev['hit']}", str(ev.get("where", "")))
            else:
                self._handle(task, ev)
        if task.proc is not None:
            self.pool.discard(task.proc)  # reaped
            task.proc = None
        return not task.finished

    def _killed(self, task: Task, how: str) -> None:
        task.state = "killed"
        self._wake_busy(task)  # its locks died with it
        where = f"at {task.point[0]} #{task.point[1]}" if task.point else "before its first point"
        self.note(task.name, f"KILLED ({how}) {where}", task.label)
        self.driver.on_killed(self, task)

    def _power_loss(self, task: Task) -> None:
        """The machine goes down at ``task``'s point: every worker dies, unsynced file state is lost."""
        assert self.durable is not None
        victims = [task] + [t for t in self.tasks if t is not task and t.proc is not None and not t.finished]
        for t in victims:
            kill_group(self._proc(t).pid)
        interrupted = [t for t in victims if self._reap(t)]
        self.pool.top_up()
        self.kills += 1
        disk = Disk(str(self.durable))
        unsynced = disk.unsynced()
        mode = MODES[self.chooser.choose(MODES, "torn")] if unsynced else "keep"
        where = f"at {task.name}'s {task.point[0]} #{task.point[1]}" if task.point else ""
        if unsynced:
            fate = {"lose": "lost", "torn": "torn (half of each survives)", "keep": "kept (written back in time)"}[mode]
            self.note("disk", f"POWER LOSS {where}: unsynced writes {fate}", "; ".join(unsynced))
        else:
            self.note("disk", f"POWER LOSS {where}: nothing unsynced", "every tracked file and name was synced")
        for line in disk.lose(mode):
            self.note("disk", "after the power loss", line)
        for t in sorted(interrupted, key=lambda t: t.id):
            self._killed(t, "power loss")

    # ---------------------------------------------------------- free mode
    def _free_loop(self) -> None:
        """Everything runs at once; kills come after chosen delays."""
        while True:
            self._check_bounds()
            for task in self.tasks:
                if task.state == "new":
                    delay: float = 0
                    if self.kills < self.max_kills:
                        delay = FREE_DELAYS_MS[self.chooser.choose(FREE_DELAYS_MS, "kill-delay")]
                    self._start(task)
                    self.steps += 1
                    task.kill_deadline = time.monotonic() + delay / 1000 if delay else None
            running = [t for t in self.tasks if t.state in ("running", "at", "busy")]
            if not running:
                return
            now = time.monotonic()
            due = [t for t in running if t.kill_deadline is not None and t.kill_deadline <= now]
            for task in due:
                if self.kills < self.max_kills:
                    self._kill(task)
                else:
                    task.kill_deadline = None
            if due:
                continue
            deadlines = [t.kill_deadline for t in running if t.kill_deadline is not None]
            wait = min([self.step_timeout] + [max(0.0, d - now) for d in deadlines])
            ev_task = self._wait_any(running, wait)
            if ev_task is None and not deadlines:
                raise Violation("bounded-time", f"no worker made progress for {self.step_timeout} s", kind="timeout")

    def _wait_any(self, running: list[Task], timeout: float) -> Task | None:
        import selectors

        with selectors.DefaultSelector() as sel:
            for t in running:
                assert t.proc is not None
                ev = t.proc.poll()
                if ev is not None:
                    self._free_event(t, ev)
                    return t
                sel.register(t.proc, selectors.EVENT_READ, t)
            for key, _ in sel.select(timeout):
                t = key.data
                if t.proc is None:
                    continue
                ev = t.proc.poll()
                if ev is not None:
                    self._free_event(t, ev)
                return t  # type: ignore[no-any-return]
        return None

    def _free_event(self, task: Task, ev: dict[str, Any]) -> None:
        if ev.get("ev") == "point":
            task.point = (str(ev["name"]), int(ev["hit"]), bool(ev.get("crash")))
            self.note(task.name, f"passes {ev['name']} #{ev['hit']}", str(ev.get("where", "")))
            return
        self._handle(task, ev)


def _short(value: Any, limit: int = 120) -> str:
    text = "" if value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
