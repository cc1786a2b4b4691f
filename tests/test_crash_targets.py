"""Worker-side functions for the crash harness tests (imported by worker processes).

No tests here; the module is light so workers start fast.
"""

from __future__ import annotations

import os
import time

from racekit.crash import crashpoint, files, operation, pausepoint, report


def append_lines(path: str, lines: list[str]) -> int:
    """Append each line through the file layer, report it, and label the gap after the report.

    Stops (all kill points): after the create, then per line after its write
    (not yet reported) and ``after-i`` (reported): what a kill leaves is exact.
    """
    fd = files.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for i, line in enumerate(lines):
            files.write(fd, (line + "\n").encode())
            report({"wrote": line})
            crashpoint(f"after-{i}")
    finally:
        files.close(fd)
    return len(lines)


def racy_increment(path: str) -> int:
    """Read a number from a file, write it back plus one (a lost-update toy: no hand-placed point needed)."""
    try:
        value = int(files.read_bytes(path) or b"0")
    except FileNotFoundError:
        value = 0
    pausepoint("read")  # a label for the gap the read opened
    fd = files.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        files.write(fd, str(value + 1).encode())
    finally:
        files.close(fd)
    return value + 1


def sleep_forever(seconds: float = 600.0) -> None:
    crashpoint("before-sleep")
    time.sleep(seconds)


def spin_busy(rounds: int = 1000) -> None:
    for _ in range(rounds):
        with operation("try-lock", durable=False):
            pass  # refused, always
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
    with operation("wait-child"):
        child.wait()
    return child.pid


def sqlite_hold(db: str) -> None:
    """Take SQLite's write lock, write, commit (a lock holder for the busy-wait tests)."""
    import sqlite3

    con = sqlite3.connect(db, isolation_level=None, timeout=0)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO t VALUES (1)")
    con.execute("COMMIT")
    con.close()


def sqlite_retry(db: str) -> None:
    """Try for the write lock until it is free, waiting at a busy point after each refusal."""
    import sqlite3

    con = sqlite3.connect(db, isolation_level=None, timeout=0)
    while True:
        try:
            con.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError:
            report({"refused": 1})
            pausepoint("retry", busy=True)
    con.execute("INSERT INTO t VALUES (2)")
    con.execute("COMMIT")
    con.close()


def sqlite_default_timeout(db: str, value: int) -> None:
    """Plain production code: the default ``timeout`` (wait up to 5 s for the lock), no harness calls."""
    import sqlite3

    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO t VALUES (?)", (value,))
    con.execute("COMMIT")
    con.close()
