"""A throwaway redis-server for tests: a temp dir, a unix socket, nothing on disk.

``Server().start()`` starts ``redis-server`` under a guard (``guard.py``)
with no TCP port (``--port 0``), a unix socket in a fresh temporary
directory, and persistence off (no RDB snapshots, no AOF): the tests need a
real Redis - its commands, its atomicity, its pub/sub - not its durability.
``stop()`` shuts it down (SIGTERM, SIGKILL after a timeout) and removes the
directory; the guard does the same if this process dies first, so no
server outlives its owner.  Every step has a timeout.  :func:`shared` gives
one server per process (a pytest-xdist worker has its own), stopped at
exit; each user starts from ``FLUSHALL``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from racekit.crash.procs import HarnessError, Service


def unavailable() -> str | None:
    """Why no server can be started here (None: one can)."""
    if shutil.which("redis-server") is None:
        return "redis-server is not on PATH (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis Python client is not installed (pip install 'racekit[dev]')"
    return None


class Server:
    """One redis-server on a unix socket; ``client()`` connects to it."""

    def __init__(
        self, *, start_timeout: float = 20.0, stop_timeout: float = 10.0, extra: Sequence[str] = (), base: str | None = None
    ) -> None:
        self.extra = list(extra)  # more redis-server options (``--appendonly yes``: the last one wins), for a benchmark
        self.base = base  # parent of the server's directory (default: /dev/shm when writable; a real disk to measure fsync)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.dir: Path | None = None
        self.service: Service | None = None

    @property
    def socket(self) -> str:
        if self.dir is None:
            raise HarnessError("the redis server is not running")
        return str(self.dir / "redis.sock")

    def client(self, **options: Any) -> Any:
        """A ``redis.Redis`` on the socket (strings decoded unless told otherwise)."""
        import redis

        options.setdefault("decode_responses", True)
        options.setdefault("socket_timeout", 10)
        return redis.Redis(unix_socket_path=self.socket, **options)

    def _ready(self) -> bool:
        import redis

        if not os.path.exists(self.socket):
            return False
        client = self.client(socket_timeout=2)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False
        finally:
            client.close()

    def start(self) -> Server:
        reason = unavailable()
        if reason:
            raise HarnessError(reason)
        base = self.base or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        self.dir = Path(tempfile.mkdtemp(prefix="racekit-redis-", dir=base))
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no", *self.extra,
        ]
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "HOME": str(self.dir)}
        self.service = Service(
            argv, cwd=self.dir, env=env, log=self.dir / "redis.log", ready=self._ready,
            start_timeout=self.start_timeout, stop_timeout=self.stop_timeout,
        )
        try:
            self.service.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.service is not None:
            service, self.service = self.service, None
            if service.started:
                service.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def pgid(self) -> int | None:
        return None if self.service is None else self.service.pgid

    def __enter__(self) -> Server:
        return self.start() if self.service is None else self

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
