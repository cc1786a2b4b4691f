"""Ctrl-C stops a search (exit 130, what was explored, never a counterexample);
``progress=`` reports every run; bad arguments are usage errors, a check
that raises something other than AssertionError is a failure with its schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import racekit
from racekit.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_ctrl_c_stops_explore_with_exit_130_and_no_counterexample(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("racekit")
    out = tmp_path / "cx.json"
    err = tmp_path / "stderr"
    with err.open("w") as err_file:
        proc = subprocess.Popen(
            [str(exe), "explore", "bank_transfer", "--variant", "ordered", "--strategy", "dfs", "--budget", "10000000",
             "--save", str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=err_file, text=True, env={**os.environ, "RACEKIT_PROGRESS": "1"},
            # a pytest-xdist worker ignores SIGINT, and an ignored signal is inherited
            # through exec: Python then never installs its KeyboardInterrupt handler
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            for _ in range(600):  # wait until the search reports progress (bounded: 60 s)
                if "schedules" in err.read_text() or proc.poll() is not None:
                    break
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            stdout, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = err.read_text()
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted" in stderr and "schedules explored" in stderr and "Traceback" not in stderr
    assert "replay" not in stdout and not out.exists()


class Counter:
    def __init__(self) -> None:
        self.n = 0

    def inc(self) -> None:
        v = self.n
        self.n = v + 1


def test_progress_is_called_after_every_run() -> None:
    seen: list[tuple[str, int]] = []
    r = racekit.explore(Counter, lambda c: [c.inc, c.inc], lambda c: None,
                        progress=lambda strategy, runs, result: seen.append((strategy, runs)))
    assert not r.failed and len(seen) == r.schedules and seen[-1] == ("bounded", r.schedules)


def test_a_none_thread_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="zero-argument callable"):
        racekit.explore(Counter, lambda c: [c.inc, None])
    with pytest.raises(ValueError, match="unknown strategy"):
        racekit.explore(Counter, lambda c: [c.inc], strategy="nope")


def test_a_check_that_raises_key_error_is_a_failure_with_its_schedule() -> None:
    def check(c: Any) -> None:
        {}["missing"] if c.n != 2 else None  # noqa: B018

    r = racekit.explore(Counter, lambda c: [c.inc, c.inc], check)
    assert r.failed and r.kind == "check" and "KeyError" in r.message
    assert r.choices and racekit.replay(Counter, lambda c: [c.inc, c.inc], check, r.choices).failed


def test_pct_depth_is_a_knob() -> None:
    deep = racekit.explore(Counter, lambda c: [c.inc, c.inc], lambda c: None, strategy="pct", pct_depth=5, budget=20)
    assert not deep.failed and deep.schedules == 20
    with pytest.raises(UsageError, match="pct_depth"):
        racekit.explore(Counter, lambda c: [c.inc], strategy="pct", pct_depth=0)
