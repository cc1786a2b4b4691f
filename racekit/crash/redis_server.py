"""A throwaway Redis server for tests: a unix socket in a temp dir, no TCP, no persistence.

``Server().start()`` runs ``redis-server`` with ``--port 0`` (no TCP listener),
the socket in a fresh temporary directory, no RDB snapshots and no AOF
(``extra`` options may turn persistence on, for a benchmark),
under a guard process (``guard.py``) that stops it and removes the directory
when ``stop()`` is called *or* when this process dies first - so no server
outlives its owner.  Every step has a timeout.  :func:`shared` gives one
server per process, stopped at exit.

Named ``redis_server`` (not ``redis``) because the harness worker runs as a
script from this directory: a ``redis.py`` here would shadow the client
library in every worker.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from racekit.crash.procs import Guarded, HarnessError


def unavailable() -> str | None:
    """Why no server can be started here (None: one can)."""
    if shutil.which("redis-server") is None:
        return "redis-server is not on PATH (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis Python client is not installed (pip install redis)"
    return None


class Server:
    def __init__(
        self, *, start_timeout: float = 30.0, stop_timeout: float = 10.0, extra: Sequence[str] = (), base: str | None = None
    ) -> None:
        self.extra = list(extra)  # more redis-server options (``--appendonly yes``: the last one wins)
        self.base = base  # parent of the server's directory (default: /dev/shm when writable)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.dir: Path | None = None
        self.server: Guarded | None = None

    @property
    def socket(self) -> str:
        """The unix socket path (what ``redis.Redis(unix_socket_path=...)`` takes)."""
        assert self.dir is not None, "the server is not started"
        return str(self.dir / "redis.sock")

    def client(self, **kwargs: Any) -> Any:
        """A ``redis.Redis`` connected to this server (the caller closes it)."""
        import redis

        return redis.Redis(unix_socket_path=self.socket, socket_timeout=self.stop_timeout, **kwargs)

    def start(self) -> Server:
        exe = shutil.which("redis-server")
        if exe is None:
            raise HarnessError(unavailable() or "no redis-server")
        base = self.base or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        self.dir = Path(tempfile.mkdtemp(prefix="racekit-redis-", dir=base))
        try:
            self.server = Guarded(
                [exe, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no", *self.extra],
                cwd=self.dir, env={"PATH": os.environ.get("PATH", "")}, log=self.dir / "redis.log",
                stop_signal=signal.SIGTERM, stop_timeout=self.stop_timeout, remove=[self.dir],
            )
            self.server.start()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import redis

        assert self.server is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.server.alive():
                raise HarnessError(f"redis-server exited: {self.log_tail()}")
            if os.path.exists(self.socket):
                try:
                    with self.client() as c:
                        if c.ping():
                            return
                except (redis.ConnectionError, OSError):
                    pass
            time.sleep(0.02)
        raise HarnessError(f"redis-server not ready within {self.start_timeout} s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        if self.dir is None:
            return ""
        try:
            return (self.dir / "redis.log").read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, SIGKILL to the group after ``stop_timeout``; the directory goes too."""
        if self.server is not None:
            left = self.server.stop()
            self.server = None
            if left:
                raise HarnessError(f"redis-server processes survived stop: {left}")
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def pgid(self) -> int | None:
        return None if self.server is None else self.server.pid

    def __enter__(self) -> Server:
        return self.start() if self.server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: Server | None = None


def shared() -> Server:
    """This process's server, started on first use and stopped at exit."""
    global _shared
    if _shared is None:
        _shared = Server().start()
        atexit.register(stop_shared)
    return _shared


def stop_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.stop()
        _shared = None
