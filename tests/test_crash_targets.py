"""Worker-side functions for the crash harness tests (imported by worker processes).

No tests here; the module is light so workers start fast.
"""

from __future__ import annotations

import os
import time

from racekit.crash import crashpoint, pausepoint, report


def append_lines(path: str, lines: list[str]) -> int:
    """Append each line (flushed), with a crash point after each: what a kill leaves is exact."""
    with open(path, "a") as fh:
        for i, line in enumerate(lines):
            fh.write(line + "\n")
            fh.flush()
            report({"wrote": line})
            crashpoint(f"after-{i}")
    return len(lines)


def racy_increment(path: str) -> int:
    """Read a number from a file, pause, write it back plus one (a lost-update toy)."""
    value = 0
    if os.path.exists(path):
        with open(path) as fh:
            value = int(fh.read() or "0")
    pausepoint("read")
    with open(path, "w") as fh:
        fh.write(str(value + 1))
    return value + 1


def sleep_forever(seconds: float = 600.0) -> None:
    crashpoint("before-sleep")
    time.sleep(seconds)


def spin_busy(rounds: int = 1000) -> None:
    for _ in range(rounds):
        pausepoint("spin", busy=True)


def fail() -> None:
    crashpoint("before-raise")
    raise ValueError("boom")


def slow_points(n: int, delay: float) -> int:
    for i in range(n):
        report({"i": i})
        time.sleep(delay)
        crashpoint("tick")
    return n


def spawn_child(seconds: float = 600.0) -> int:
    """Start a grandchild (like a server's worker) and wait at a crash point."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    report({"child": child.pid})
    crashpoint("child-started")
    child.wait()
    return child.pid
