"""A guard process: ``python -S guard.py SPEC_JSON``.

Starts one command in its own session, prints its pid, then waits for its
own stdin to close - which happens when the owner calls ``stop`` *or* when
the owner dies in any way (SIGKILL, ``os._exit`` in a multiprocessing
child, where ``atexit`` never runs).  Then it stops the command (the stop
signal to the leader, SIGKILL to the whole group after ``stop_timeout``),
removes the listed paths, and exits.  Servers the harness starts (a
PostgreSQL cluster, uvicorn) therefore never outlive it, nor do their
temporary directories.

SPEC: ``{"argv": [...], "cwd": str, "env": {...}, "log": path, "user": uid|null,
"group": gid|null, "stop_signal": int, "stop_timeout": float, "remove": [paths]}``.
Standard library only: no racekit import, so it starts in milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from typing import Any


def _stop(child: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout)
    deadline = time.monotonic() + timeout  # helpers of the leader may take a moment to go
    while time.monotonic() < deadline:
        try:
            os.killpg(child.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        time.sleep(0.02)


def main(spec: dict[str, Any]) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only stdin EOF ends a guard
    creds: dict[str, Any] = {}
    if spec.get("user") is not None:
        creds = {"user": spec["user"], "group": spec["group"], "extra_groups": []}
    with open(spec["log"], "ab") as log:
        child = subprocess.Popen(
            spec["argv"], cwd=spec["cwd"], env=spec["env"], stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True, **creds,
        )
    sys.stdout.write(f"{child.pid}\n")
    sys.stdout.flush()
    try:
        while child.poll() is None:
            ready, _, _ = select.select([0], [], [], 0.5)
            if ready and not os.read(0, 4096):
                break  # the owner is done, or gone
    finally:
        _stop(child, int(spec.get("stop_signal", signal.SIGTERM)), float(spec.get("stop_timeout", 10.0)))
        for path in spec.get("remove", []):
            shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - runs as its own process
    sys.exit(main(json.loads(sys.argv[1])))
