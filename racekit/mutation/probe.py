"""Line probe of the coverage pass, called from instrumented system code.

Runs inside whatever process executes the system - the checking process,
a harness worker, a forked child - so it must be cheap, import nothing from
racekit, and survive SIGKILL: each line is appended to a per-process file
the first time that process reaches it (an ``O_APPEND`` write is on disk
before the next statement runs, kill or no kill).
"""

from __future__ import annotations

import os

ENV = "RACEKIT_MUTATE_PROBE"
_seen: set[int] = set()
_fd: list[int] = []  # the open file, per process (reset after fork by pid check)
_pid: list[int] = []


def hit(line: int) -> None:
    """Record that the statement starting at ``line`` (of the original file) ran."""
    pid = os.getpid()
    if _pid and _pid[0] != pid:  # a forked child: its own file, its own first hits
        _seen.clear()
        _fd.clear()
        _pid.clear()
    if line in _seen:
        return
    _seen.add(line)
    if not _fd:
        where = os.environ.get(ENV)
        if not where:
            return
        _fd.append(os.open(os.path.join(where, f"{pid}.lines"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        _pid.append(pid)
    os.write(_fd[0], f"{line}\n".encode())


def read(where: str) -> set[int]:
    """Every line any process recorded under directory ``where``."""
    lines: set[int] = set()
    for name in os.listdir(where):
        if name.endswith(".lines"):
            with open(os.path.join(where, name)) as fh:
                lines.update(int(x) for x in fh.read().split())
    return lines
