"""The crash harness itself: points, kills, determinism, search, bounds, and no process left behind."""

from __future__ import annotations

import random as _random

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from racekit.registry import catalogue_root
from racekit.crash import crashpoint, pausepoint, point, report
from racekit import System, Variant, portfolio
from racekit.crash.machine import CrashMachine, CrashSession
from racekit.crash.procs import (
    Service,
    WorkerPool,
    alive,
    child_env,
    close_pools,
    scratch_dir,
    survivors,
    wait_gone,
)
from racekit.crash.run import Driver, Run, Task, Violation
from racekit.crash.session import Session
from racekit.choice import Recorder, Replay
from racekit.choice.strategies.random import RandomChooser

T = "tests.test_crash_targets"
ROOT = catalogue_root(Path(__file__).parent)


class Lines(Driver):
    """One task appends lines; after a kill the file must hold exactly the lines before the point."""

    def __init__(self, lines: list[str], restart: bool = False) -> None:
        self.lines = lines
        self.restart = restart
        self.reported: list[str] = []
        self.path = ""
        self.killed_at: tuple[str, int, bool] | None = None
        self.content: list[str] = []

    def start(self, run: Run) -> None:
        self.path = str(run.workdir / "out.txt")
        run.submit("writer", f"{T}:append_lines", {"path": self.path, "lines": self.lines})

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        self.reported.append(data["wrote"])

    def on_killed(self, run: Run, task: Task) -> None:
        self.killed_at = task.point
        self.content = Path(self.path).read_text().splitlines()

    def finish(self, run: Run) -> None:
        if not self.killed_at:
            self.content = Path(self.path).read_text().splitlines()


class Race(Driver):
    """Two read-pause-write increments of one file: the lost update needs one switch."""

    def __init__(self, n: int = 2) -> None:
        self.n = n
        self.path = ""

    def start(self, run: Run) -> None:
        self.path = str(run.workdir / "n.txt")
        for i in range(self.n):
            run.submit(f"t{i}", f"{T}:racy_increment", {"path": self.path})

    def finish(self, run: Run) -> None:
        got = int(Path(self.path).read_text() or "0")  # truncated, never rewritten: 0
        if got != self.n:
            raise Violation("no-lost-update", f"{self.n} increments gave {got}")


class One(Driver):
    def __init__(self, target: str, args: dict[str, Any] | None = None, tasks: int = 1) -> None:
        self.target, self.args, self.n = target, args or {}, tasks
        self.reports: list[Any] = []

    def start(self, run: Run) -> None:
        for i in range(self.n):
            run.submit(f"w{i}", f"{T}:{self.target}", self.args)

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        self.reports.append(data)


@pytest.fixture
def session() -> Any:
    with Session(ROOT, shared=False) as s:
        yield s


# ----------------------------------------------------------------- points


def test_points_are_noops_outside_a_harness() -> None:
    assert not point.active()
    assert not point.stepping()
    crashpoint("x")
    pausepoint("y", busy=True)
    report({"z": 1})


# -------------------------------------------------------------- step mode


LINES_POINTS = [
    "crashpoint after create #1",
    "crashpoint after write #1", "crashpoint after-0 #1",
    "crashpoint after write #2", "crashpoint after-1 #1",
    "crashpoint after write #3", "crashpoint after-2 #1",
]


def test_a_run_without_kills_passes_every_point(session: Session) -> None:
    """Points are automatic: after each operation (create, write) and each report; labels name them."""
    d = Lines(["a", "b", "c"])
    r = session.run(d, Replay([]), max_kills=1)
    assert not r.failed and r.kills == 0
    assert d.content == ["a", "b", "c"] and d.reported == ["a", "b", "c"]
    points = [row["what"] for row in r.trace if row["what"].startswith(("crashpoint", "pausepoint"))]
    assert points == LINES_POINTS
    ops = [row["what"] for row in r.trace if row["what"].startswith(("create", "write"))]
    assert ops == ["create out.txt", "write out.txt 2 bytes", "write out.txt 2 bytes", "write out.txt 2 bytes"]
    wheres = [row["where"] for row in r.trace if row["what"].startswith("crashpoint")]
    assert all(w.startswith("tests/test_crash_targets.py:") for w in wheres), wheres
    assert r.stats["ops"] == 4


@pytest.mark.parametrize("k", [0, 1, 2])
def test_a_kill_lands_exactly_at_the_chosen_point(session: Session, k: int) -> None:
    d = Lines(["a", "b", "c"])
    at = LINES_POINTS.index(f"crashpoint after-{k} #1")
    r = session.run(d, Replay([0] * at + [1]), max_kills=1)
    assert r.kills == 1
    assert d.killed_at == (f"after-{k}", 1, True)
    assert d.content == ["a", "b", "c"][: k + 1]  # what ran before the point, nothing after
    assert any(row["what"] == f"KILLED (SIGKILL) at after-{k} #1" for row in r.trace)


def test_a_kill_after_an_unreported_write_keeps_the_write(session: Session) -> None:
    d = Lines(["a", "b"])
    at = LINES_POINTS.index("crashpoint after write #2")
    r = session.run(d, Replay([0] * at + [1]), max_kills=1)
    assert r.kills == 1 and d.killed_at == ("after write", 2, True)
    assert d.content == ["a", "b"] and d.reported == ["a"]  # written, never acknowledged


def test_same_choices_same_trace(session: Session) -> None:
    runs = [session.run(Race(), Replay([0, 1])) for _ in range(3)]
    assert all(r.failed and r.property == "no-lost-update" for r in runs)
    assert runs[0].trace == runs[1].trace == runs[2].trace
    clean = session.run(Race(), Replay([]))
    assert not clean.failed


def test_a_task_that_raises_is_an_exception_outcome(session: Session) -> None:
    r = session.run(One("fail"), Replay([]))
    assert r.failed and r.kind == "exception" and "ValueError: boom" in r.message


def test_targets_outside_the_allowed_packages_are_refused(session: Session) -> None:
    class Bad(Driver):
        def start(self, run: Run) -> None:
            run.submit("w", "os:getcwd")

    r = session.run(Bad(), Replay([]))
    assert r.failed and "is not module:function under" in r.message


def test_every_lock_refused_forever_is_a_deadlock(session: Session) -> None:
    r = session.run(One("spin_busy", tasks=2), Replay([]))
    assert r.failed and r.kind == "deadlock"


class LockQueue(Driver):
    """One task holds SQLite's write lock; two others are refused and wait at busy points."""

    def __init__(self) -> None:
        self.refused = 0

    def start(self, run: Run) -> None:
        import sqlite3

        db = str(run.workdir / "q.db")
        with sqlite3.connect(db) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE t (v INTEGER)")
        con.close()
        run.submit("w1", f"{T}:sqlite_retry", {"db": db})
        run.submit("w2", f"{T}:sqlite_retry", {"db": db})
        run.submit("holder", f"{T}:sqlite_hold", {"db": db})

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        self.refused += 1


def test_refused_waiters_do_not_wake_each_other(session: Session) -> None:
    """Only progress (a commit, a released lock, an end) lets a busy waiter retry.

    The holder (started first, listed last) stops with the lock; w1 and w2 are
    refused.  Each refusal passes a plain stop before its busy one; if that
    counted as progress, w1 and w2 would wake each other forever and the
    default choice (the lowest ready lane) would never be the holder.
    """
    d = LockQueue()
    r = session.run(d, Replay([2, 1]), max_steps=200)
    assert not r.failed, r.message
    assert d.refused == 2


class Waiters(Driver):
    """Two tasks of plain production code (sqlite3's default timeout: wait for the lock)."""

    def start(self, run: Run) -> None:
        import sqlite3

        self.db = str(run.workdir / "w.db")
        with sqlite3.connect(self.db) as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE t (v INTEGER)")
        con.close()
        run.submit("holder", f"{T}:sqlite_default_timeout", {"db": self.db, "value": 1})
        run.submit("waiter", f"{T}:sqlite_default_timeout", {"db": self.db, "value": 2})

    def finish(self, run: Run) -> None:
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(self.db)) as con:
            self.rows = sorted(v for (v,) in con.execute("SELECT v FROM t"))


def test_a_connection_that_would_wait_for_a_lock_waits_at_a_busy_point(session: Session) -> None:
    """The busy handler, emulated: the holder is paused, so a real wait could only run out.

    The holder stops right after its ``BEGIN IMMEDIATE``; the waiter's
    ``BEGIN IMMEDIATE`` is refused (it was opened with ``timeout=0``), it waits
    at a busy point until the holder commits, then the same statement runs again.
    """
    d = Waiters()
    r = session.run(d, Replay([0, 1]), step_timeout=3)  # holder to its first stop, then the waiter
    assert not r.failed, r.message
    whats = [(row["name"], row["what"]) for row in r.trace]
    refused = whats.index(("waiter", "sql BEGIN IMMEDIATE raised OperationalError: database is locked"))
    assert whats[refused + 1] == ("waiter", "pausepoint sqlite-busy #1 (busy: waits for another worker)")
    committed = whats.index(("holder", "sql COMMIT"))
    assert refused < committed < whats.index(("waiter", "sql COMMIT"))
    assert d.rows == [1, 2]


# ----------------------------------------------------------------- bounds


def test_a_hung_worker_is_a_timeout_and_is_killed(session: Session) -> None:
    started = time.monotonic()
    r = session.run(One("sleep_forever"), Replay([]), step_timeout=0.5)
    assert r.failed and r.kind == "timeout"
    assert time.monotonic() - started < 10
    assert session.pool is not None and not session.pool.busy  # the stuck worker was discarded


def test_a_livelock_hits_the_step_bound(session: Session) -> None:
    class Forever(Driver):
        def start(self, run: Run) -> None:
            run.submit("w", f"{T}:append_lines", {"path": str(run.workdir / "x"), "lines": ["a"]})

        def on_done(self, run: Run, task: Task, result: Any) -> None:
            self.start(run)  # never ends

    r = session.run(Forever(), Replay([]), max_steps=20)
    assert r.failed and r.kind == "livelock"


def test_no_process_left_behind_after_kills_and_grandchildren() -> None:
    groups: list[int] = []
    with Session(ROOT, shared=False) as s:
        d = One("spawn_child")
        r = s.run(d, Replay([1]), max_kills=1)  # kill while its grandchild runs
        assert r.kills == 1
        grandchild = d.reports[0]["child"]
        assert s.pool is not None
        groups = list(s.pool.groups)
        s.run(Lines(["a"]), Replay([]))
        workdirs = list(s.dir.iterdir()) if s.dir else []
        scratch = s.dir
    assert survivors(groups) == []  # workers, and the grandchild in a killed worker's group
    assert not alive(grandchild)
    assert workdirs == [] or all(p.name == "workers.log" for p in workdirs)
    assert scratch is not None and not scratch.exists()


def test_shared_pools_close_and_workers_die_with_their_parent(tmp_path: Path) -> None:
    with Session(ROOT) as s:
        s.run(Lines(["a"]), Replay([1]), max_kills=1)
        assert s.pool is not None
        groups = list(s.pool.groups)
    assert survivors(groups)  # warm workers stay for the next session ...
    assert close_pools() == []  # ... until the pools are closed
    assert survivors(groups) == []
    # A parent killed with SIGKILL cannot close anything: its workers leave on stdin EOF.
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from racekit.crash.procs import WorkerPool
        pool = WorkerPool(Path({str(ROOT)!r}), spares=2)
        pool.top_up()
        for w in pool.idle:
            w.wait_ready()
        print(json.dumps(pool.groups), flush=True)
        import time; time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=child_env(ROOT))
    assert parent.stdout is not None
    pids = json.loads(parent.stdout.readline())
    assert len(survivors(pids)) == 3  # the zygote and the two workers it forked, each in its own group
    parent.kill()
    parent.wait(10)
    assert wait_gone(pids, 10) == []


# -------------------------------------------------------------- free mode


def test_free_mode_kills_after_a_delay_and_keeps_what_was_said(session: Session) -> None:
    d = One("slow_points", {"n": 200, "delay": 0.002})
    r = session.run(d, Replay([8]), mode="free", max_kills=1)  # the longest delay
    assert r.kills == 1
    assert len(d.reports) < 200  # it did not get to finish
    assert d.reports == [{"i": i} for i in range(len(d.reports))]  # what it said before dying, in order
    assert any(row["what"].startswith("KILLED") for row in r.trace)


def test_control_directory_plans_kill_processes_the_harness_did_not_start(tmp_path: Path) -> None:
    control = tmp_path / "control"
    control.mkdir()
    (control / "plan.json").write_text(json.dumps({"kills": [["tick", 3]]}))
    code = "from racekit.crash import crashpoint\nfor i in range(10):\n    crashpoint('tick')\nprint('survived')"
    env = child_env(ROOT, {"RACEKIT_CRASH_CONTROL": str(control)})
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=30)
    assert done.returncode == -signal.SIGKILL and b"survived" not in done.stdout
    log = (control / "events.log").read_text().split("\n")
    assert [line.split()[1:] for line in log if line] == [["tick", "1"], ["tick", "2"], ["tick", "3", "killed"]]
    # the next process continues the shared count: hit 4 onwards, no kill planned
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=30)
    assert again.returncode == 0 and b"survived" in again.stdout


def test_a_service_is_stopped_with_its_children(tmp_path: Path) -> None:
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"
    svc = Service([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), log=tmp_path / "log",
                  ready=lambda: True, stop_timeout=2)
    with svc:
        deadline = time.monotonic() + 10
        while len(svc.members()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(svc.members()) == 2
        pgid = svc.pgid
    assert survivors([pgid]) == []


def test_scratch_dirs_are_removed() -> None:
    with scratch_dir() as d:
        (d / "x").write_text("y")
    assert not d.exists()


# ----------------------------------------------------------------- search


class RaceMachine(CrashMachine):
    """Race with n racy increments; shrinks n toward 2."""

    system = System("race", "toy", "proc", [Variant("racy", object, expect="violation", property="no-lost-update"),
                                             Variant("fine", object, expect="correct")])
    max_kills = 0

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return Race(scenario)

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [2]

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Any:
        return [scenario - 1] if scenario > 2 else []


RACY = RaceMachine.system.variant("racy")


def nonzero(choices: list[int]) -> int:
    return sum(1 for c in choices if c)


def test_bounded_search_finds_the_race_with_one_switch_and_counts_schedules(session: Session) -> None:
    cs = CrashSession(RaceMachine, RACY, session)
    plan = RaceMachine.plan(RACY, portfolio_profile())
    found = portfolio.run_phase(RaceMachine, RACY, cs, "bounded", 100, portfolio.knobs_for(RaceMachine, plan), seeds=[2])
    assert found.found is not None and nonzero(found.found.choices) == 1
    level0 = portfolio.run_phase(
        RaceMachine, RACY, cs, "dfs", 100, portfolio.knobs_for(RaceMachine, plan, bound=0), seeds=[2], hit=lambda r: False
    )
    assert level0.runs == 1 and level0.coverage.extent == "bounded"
    level1 = portfolio.run_phase(
        RaceMachine, RACY, cs, "dfs", 100, portfolio.knobs_for(RaceMachine, plan, bound=1), seeds=[2], hit=lambda r: False
    )
    assert level1.runs >= 3 and "with at most 1 kills and switches" in level1.coverage.describe()


def portfolio_profile() -> Any:
    from racekit import PROFILES

    return PROFILES["ci"]


def test_hypothesis_drives_kills_and_shrinks_them(session: Session) -> None:
    class Partial(Lines):
        def finish(self, run: Run) -> None:
            if self.killed_at is not None and len(self.content) >= 2:
                raise Violation("toy", f"killed after {len(self.content)} lines")

    class PartialMachine(RaceMachine):
        max_kills = 1

        @classmethod
        def driver(cls, variant: Variant, scenario: Any) -> Driver:
            return Partial(scenario["lines"])

        @classmethod
        def draw(cls, variant: Variant, draw: Any) -> Any:
            return {"lines": ["a", "b", "c", "d"]}

    cs = CrashSession(PartialMachine, RACY, session)
    plan = PartialMachine.plan(RACY, portfolio_profile())
    rep = portfolio.run_phase(PartialMachine, RACY, cs, "hypothesis", 40, portfolio.knobs_for(PartialMachine, plan))
    assert rep.found is not None
    # shrunk: the earliest kill that still fails - right after the second write
    assert rep.found.choices == [0] * LINES_POINTS.index("crashpoint after write #2") + [1]


def test_minimize_drops_requests_and_choices(session: Session) -> None:
    cs = CrashSession(RaceMachine, RACY, session)
    found = None
    for seed in range(50):
        rec = Recorder(RandomChooser(_random.Random(seed)))
        result = cs.run(4, rec)
        if result.failed:
            result.choices, result.path = rec.choices, rec.points
            found = result
            break
    assert found is not None
    plan = RaceMachine.plan(RACY, portfolio_profile())
    scenario, choices, _ = portfolio.minimize(RaceMachine, RACY, cs, plan, found)
    assert scenario == 2 and nonzero(choices) == 1


@pytest.mark.parametrize("fork", [True, False])
def test_worker_pool_reuses_survivors(tmp_path: Path, fork: bool) -> None:
    with WorkerPool(ROOT, tmp_path / "log", fork=fork) as pool:
        w = pool.acquire()
        pool.release(w)
        assert pool.acquire() is w
        assert (w.popen is None) == fork  # forked by the zygote, or a child of ours
        pool.discard(w)
        assert not alive(w.pid)
        assert pool.started == 1
        assert (pool.zygote is not None) == fork


def test_forked_workers_run_kill_and_leave_nothing(tmp_path: Path) -> None:
    """Workers forked by the zygote behave like spawned ones: kills land, grandchildren die, all reaped."""
    with Session(ROOT, shared=False) as s:
        assert s.pool is not None and s.pool.fork
        d = One("spawn_child")
        r = s.run(d, Replay([1]), max_kills=1)
        assert r.kills == 1
        grandchild = d.reports[0]["child"]
        r = s.run(Race(), Replay([0, 1]))
        assert r.failed and r.property == "no-lost-update"
        groups = list(s.pool.groups)
        assert s.pool.zygote is not None and s.pool.zygote.pid in groups
    assert survivors(groups) == []
    assert not alive(grandchild)


def test_a_guarded_server_dies_with_its_owner(tmp_path: Path) -> None:
    """uvicorn or postgres must not outlive a harness that was SIGKILLed (atexit never runs then)."""
    doomed = tmp_path / "server-dir"
    doomed.mkdir()
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from racekit.crash.procs import Guarded
        g = Guarded([sys.executable, "-c", "import time; time.sleep(600)"], cwd=Path("/"), env={{}},
                    log=Path({str(tmp_path / "log")!r}), remove=[Path({str(doomed)!r})], stop_timeout=2)
        print(g.start(), flush=True)
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=child_env(ROOT))
    assert owner.stdout is not None
    server = int(owner.stdout.readline())
    assert alive(server)
    owner.kill()
    owner.wait(10)
    assert wait_gone([server], 15) == []
    deadline = time.monotonic() + 10
    while doomed.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not doomed.exists()


def test_zygote_preloads_the_projects_own_packages(tmp_path: Path) -> None:
    """A project's crash machine names its packages (RACEKIT_TARGET_PACKAGES); the zygote's
    preload accepts exactly those, like ``resolve`` does, and still refuses any other name."""
    pkg = tmp_path / "myproj_systems"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "thing.py").write_text("VALUE = 1\n")
    (tmp_path / "elsewhere.py").write_text("VALUE = 2\n")
    from racekit.crash.procs import Zygote

    with open(tmp_path / "log", "wb") as log:
        z = Zygote(tmp_path, log, {"RACEKIT_TARGET_PACKAGES": "myproj_systems"})
        try:
            assert z._ask({"op": "preload", "module": "myproj_systems.thing"}) == {"ok": True}
            refused = z._ask({"op": "preload", "module": "elsewhere"})
            assert "is not under" in refused["error"] and "myproj_systems." in refused["error"]
        finally:
            z.close()
