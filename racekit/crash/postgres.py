"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir, unix socket only.

``Cluster().start()`` finds the binaries (``PATH``, then
``/usr/lib/postgresql/<version>/bin``, newest first), runs ``initdb`` into a
fresh temporary directory, and starts ``postgres`` listening on a unix socket
in that directory only (``listen_addresses=''``), with durability off (the
tests kill clients, not the server).  ``stop()`` shuts it down (fast
shutdown, then SIGKILL after a timeout) and removes the directory - through
a guard process (``guard.py``) that does the same if this process dies
first, so no cluster outlives its owner.

initdb refuses to run as root; as root the cluster runs as an unprivileged
user (``racekit`` if it exists, else ``nobody``) that owns the directory.
Every step has a timeout.  :func:`shared` gives one cluster per process,
stopped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from racekit.crash.procs import Guarded, HarnessError

USER = "racekit"  # the database superuser created by initdb


def bin_dir() -> Path | None:
    """Where ``initdb`` and ``postgres`` are, or None."""
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in p.split("/")[-2].split(".") if x.isdigit()], reverse=True)
    candidates += [Path(p) for p in versions] + [Path("/usr/local/pgsql/bin")]
    for c in candidates:
        if (c / "initdb").is_file() and (c / "postgres").is_file():
            return c
    return None


def unavailable() -> str | None:
    """Why no cluster can be started here (None: one can)."""
    if bin_dir() is None:
        return "PostgreSQL binaries (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and no unprivileged user (racekit, nobody) to run initdb as"
    return None


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("racekit", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


class Cluster:
    def __init__(self, *, start_timeout: float = 60.0, stop_timeout: float = 15.0) -> None:
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.dir: Path | None = None
        self.server: Guarded | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        assert self.dir is not None
        return f"host={self.dir} port=5432 user={USER} dbname={dbname} connect_timeout=10"

    def _as_user(self) -> dict[str, Any]:
        user = _run_as()
        if user is None:
            return {}
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def start(self) -> Cluster:
        bins = bin_dir()
        if bins is None:
            raise HarnessError(unavailable() or "no PostgreSQL")
        base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix="racekit-pg-", dir=base))
        try:
            self._init_and_start(bins)
        except BaseException:
            self.stop()
            raise
        return self

    def _init_and_start(self, bins: Path) -> None:
        assert self.dir is not None
        user = _run_as()
        if user is not None:
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        data = self.dir / "data"
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "LANG": "C", "HOME": str(self.dir)}
        init = subprocess.run(
            [str(bins / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"],
            env=env, cwd=str(self.dir), capture_output=True, timeout=self.start_timeout, **self._as_user(),
        )
        if init.returncode != 0:
            raise HarnessError(f"initdb failed ({init.returncode}): {init.stderr.decode(errors='replace')[-1500:]}")
        user = _run_as()
        self.server = Guarded(
            [str(bins / "postgres"), "-D", str(data), "-k", str(self.dir),
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=100", "-c", "shared_buffers=32MB",
             "-c", "deadlock_timeout=100ms", "-c", "autovacuum=off"],
            cwd=self.dir, env=env, log=self.dir / "postgres.log",
            user=None if user is None else user.pw_uid, group=None if user is None else user.pw_gid,
            stop_signal=signal.SIGINT, stop_timeout=self.stop_timeout, remove=[self.dir],
        )
        self.server.start()
        self._wait_ready()

    def _wait_ready(self) -> None:
        import psycopg

        assert self.server is not None and self.dir is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.server.alive():
                raise HarnessError(f"postgres exited: {self.log_tail()}")
            if (self.dir / ".s.PGSQL.5432").exists():
                try:
                    with psycopg.connect(self.dsn(), connect_timeout=5) as con:
                        con.execute("SELECT 1")
                    return
                except psycopg.OperationalError:
                    pass
            time.sleep(0.05)
        raise HarnessError(f"postgres not ready within {self.start_timeout} s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        if self.dir is None:
            return ""
        try:
            return (self.dir / "postgres.log").read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Fast shutdown, SIGKILL after ``stop_timeout``; the directory goes too.

        The guard does both, and also does them if this process dies first.
        """
        if self.server is not None:
            left = self.server.stop()
            self.server = None
            if left:
                raise HarnessError(f"postgres processes survived stop: {left}")
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def pgid(self) -> int | None:
        return None if self.server is None else self.server.pid

    def __enter__(self) -> Cluster:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: Cluster | None = None


def shared() -> Cluster:
    """This process's cluster, started on first use and stopped at exit."""
    global _shared
    if _shared is None:
        _shared = Cluster().start()
        atexit.register(stop_shared)
    return _shared


def stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
