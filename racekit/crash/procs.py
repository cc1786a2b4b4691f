"""Real processes: start them, talk to them, kill them, and account for all of them.

Every process the crash harness starts gets its own session (``setsid``), so
its process group holds it and anything it starts (a web server's workers);
a kill is ``killpg(pgid, SIGKILL)`` and reaps the leader with a timeout.
:func:`survivors` scans ``/proc`` for anything still alive in those groups:
the tests use it to prove a run leaves no process behind.

Nothing here waits without a timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from racekit.errors import RacekitError

SPAWN_TIMEOUT = 30.0  # a worker must say "ready" within this (cold imports on a loaded CI box)


class HarnessError(RacekitError):
    """A worker or service misbehaved in a way the harness cannot interpret."""


# --------------------------------------------------------------------------
# Accounting


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, pgid) of a live process, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[2])


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def survivors(groups: Sequence[int]) -> list[int]:
    """Live processes in any of the process groups ``groups``."""
    wanted = set(groups)
    if not wanted:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[1] in wanted and st[0] not in ("Z", "X"):
                found.append(int(entry))
    return sorted(found)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def wait_gone(groups: Sequence[int], timeout: float) -> list[int]:
    """Wait until no process of ``groups`` is alive; return those still alive."""
    deadline = time.monotonic() + timeout
    left = survivors(groups)
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = survivors(groups)
    return left


def _tmp_base() -> str | None:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


@contextlib.contextmanager
def scratch_dir(prefix: str = "racekit-") -> Iterator[Path]:
    """A temporary directory, on tmpfs when there is one, removed afterwards.

    Process kills test crash consistency, not power loss, so the page cache
    is as durable as a disk here and tmpfs keeps fsync cheap.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=_tmp_base()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _site_dirs() -> list[str]:
    import site

    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dirs if os.path.isdir(d)]


def child_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: importable catalogue, unbuffered output.

    Workers start with ``python -S`` (no ``site`` processing: ~20 ms less per
    process, and a crash run starts many), so the site-packages directories
    are passed explicitly.
    """
    env = dict(os.environ)
    # racekit itself: an editable install is found through site hooks that ``-S`` skips
    here = str(Path(__file__).resolve().parents[2])
    paths = [str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p] + [here] + _site_dirs()
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("RACEKIT_CRASH_CONTROL", None)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------
# One harness worker (see racekit.crash.worker)


class Zygote:
    """A fork server (``worker.py --zygote``): a warm process that forks workers.

    A fresh ``python -S`` worker costs ~60 ms of CPU before it says "ready"
    (interpreter, racekit's modules, sqlite3); a fork of a warm process costs
    ~2 ms, and modules the zygote preloaded (the systems' own) come for free.
    Every kill costs a worker, so kills got that much cheaper.  The zygote has
    its own session; it leaves when its socket closes, whoever closes it.
    """

    def __init__(self, root: Path, log: IO[bytes], env: Mapping[str, str] | None = None) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.popen = subprocess.Popen(
                [sys.executable, "-S", str(Path(__file__).with_name("worker.py")), "--zygote", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(theirs.fileno(),),
                cwd=str(root),
                env=child_env(root, env),
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.sock = mine
        self.sock.settimeout(SPAWN_TIMEOUT)
        self.pid = self.popen.pid
        self.preloaded: set[str] = set()

    def _ask(self, request: Mapping[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
        reply = self.sock.recv(65536)
        if not reply:
            raise HarnessError(f"zygote {self.pid} is gone")
        answer: dict[str, Any] = json.loads(reply)
        return answer

    def fork(self, cmd_r: int, ev_w: int) -> int:
        answer = self._ask({"op": "fork"}, (cmd_r, ev_w))
        if "pid" not in answer:
            raise HarnessError(f"zygote {self.pid} could not fork: {answer}")
        return int(answer["pid"])

    def preload(self, module: str) -> None:
        """Import ``module`` in the zygote (once), so later workers start with it."""
        if module in self.preloaded:
            return
        self.preloaded.add(module)
        with contextlib.suppress(HarnessError, OSError, ValueError):
            self._ask({"op": "preload", "module": module})

    def close(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        kill_group(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)


class WorkerProcess:
    """A ``racekit/crash/worker.py`` process: JSON commands in, JSON events out.

    Started with ``python -S`` or, given a :class:`Zygote`, forked by it (then
    not our child: its death is watched in ``/proc``, the zygote reaps it).
    """

    def __init__(self, root: Path, log: IO[bytes], env: Mapping[str, str] | None = None,
                 zygote: Zygote | None = None) -> None:
        self.popen: subprocess.Popen[bytes] | None = None
        if zygote is not None:
            cmd_r, cmd_w = os.pipe()
            ev_r, ev_w = os.pipe()
            try:
                self.pid = zygote.fork(cmd_r, ev_w)
            except BaseException:
                for fd in (cmd_w, ev_r):
                    os.close(fd)
                raise
            finally:
                os.close(cmd_r)
                os.close(ev_w)
            self._stdin: IO[bytes] = os.fdopen(cmd_w, "wb")
            r = ev_r
        else:
            r, w = os.pipe()
            try:
                self.popen = subprocess.Popen(
                    [sys.executable, "-S", str(Path(__file__).with_name("worker.py")), str(w)],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    pass_fds=(w,),
                    cwd=str(root),
                    env=child_env(root, env),
                    start_new_session=True,
                )
            finally:
                os.close(w)
            assert self.popen.stdin is not None
            self._stdin = self.popen.stdin
            self.pid = self.popen.pid
        self._fd = r
        self._buf = b""
        self._sel = selectors.DefaultSelector()
        self._sel.register(r, selectors.EVENT_READ)
        self.ready = False
        self.dead = False

    def fileno(self) -> int:
        return self._fd

    def send(self, obj: Mapping[str, Any]) -> None:
        try:
            self._stdin.write(json.dumps(obj, sort_keys=True).encode() + b"\n")
            self._stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # it died; the next recv sees EOF

    def _line(self) -> dict[str, Any] | None:
        nl = self._buf.find(b"\n")
        if nl < 0:
            return None
        line, self._buf = self._buf[:nl], self._buf[nl + 1 :]
        msg: dict[str, Any] = json.loads(line)
        return msg

    def poll(self) -> dict[str, Any] | None:
        """An event if one is already buffered or readable without waiting."""
        try:
            return self.recv(0.0)
        except TimeoutError:
            return None

    def recv(self, timeout: float) -> dict[str, Any]:
        """The next event; ``{"ev": "eof"}`` once the process is gone.

        Raises ``TimeoutError`` after ``timeout`` seconds without a whole line.
        """
        deadline = time.monotonic() + timeout
        while True:
            msg = self._line()
            if msg is not None:
                return msg
            if self.dead:
                return {"ev": "eof"}
            left = deadline - time.monotonic()
            if not self._sel.select(max(left, 0.0)):
                raise TimeoutError(f"worker {self.pid} sent nothing for {timeout:.1f} s")
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                self.dead = True
            self._buf += chunk

    def wait_ready(self, timeout: float = SPAWN_TIMEOUT) -> None:
        if self.ready:
            return
        msg = self.recv(timeout)
        if msg.get("ev") != "ready":
            raise HarnessError(f"worker {self.pid} did not start: {msg}")
        self.ready = True

    def _wait(self, timeout: float) -> bool:
        """Wait until the process is gone (reaped); False on timeout."""
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0005)
        return True

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the process group and wait for the leader to be gone."""
        kill_group(self.pid)
        if not self._wait(timeout):  # pragma: no cover - the kernel did not deliver SIGKILL
            raise HarnessError(f"worker {self.pid} survived SIGKILL for {timeout} s")
        self._close_fds()

    def close(self, timeout: float = 5.0) -> None:
        """Ask it to leave; kill it if it does not within ``timeout``."""
        if alive(self.pid):
            self.send({"op": "exit"})
            self._wait(timeout)
        kill_group(self.pid)  # anything it started goes too
        self._wait(timeout)
        self._close_fds()

    def _close_fds(self) -> None:
        self.dead = True
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(self._fd)
        self._sel.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(OSError):
            self._stdin.close()


class WorkerPool:
    """Warm worker processes, reused until killed.

    Starting a Python process costs tens of milliseconds of CPU; a crash run
    kills one or two workers, not all of them, so the survivors go back to
    the pool and a spare is forked (by a :class:`Zygote`, ``fork=True``) or
    started in the background after each kill.  ``close`` ends every process
    it ever started and checks none is left.
    """

    def __init__(
        self, root: Path, log_path: Path | None = None, spares: int = 1, env: Mapping[str, str] | None = None,
        fork: bool = True,
    ) -> None:
        self.root = root
        if log_path is None:
            # no name on disk: the file goes when the last process holding it does
            fd, name = tempfile.mkstemp(prefix="racekit-workers-", suffix=".log", dir=_tmp_base())
            os.unlink(name)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
            self.log = os.fdopen(fd, "ab")
        else:
            self.log = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self.spares = spares
        self.env = dict(env or {})
        self.idle: list[WorkerProcess] = []
        self.busy: list[WorkerProcess] = []
        self.groups: list[int] = []
        self.started = 0
        self.closed = False
        self.fork = fork
        self.zygote: Zygote | None = None

    def _spawn(self) -> WorkerProcess:
        if self.fork and (self.zygote is None or self.zygote.popen.poll() is not None):
            self.zygote = Zygote(self.root, self.log, self.env)
            self.groups.append(self.zygote.pid)
        w = WorkerProcess(self.root, self.log, self.env, self.zygote if self.fork else None)
        self.groups.append(w.pid)
        self.started += 1
        return w

    def preload(self, module: str) -> None:
        """Workers forked from now on start with ``module`` imported."""
        if self.zygote is not None:
            self.zygote.preload(module)

    def top_up(self) -> None:
        while len(self.idle) < self.spares:
            self.idle.append(self._spawn())

    def acquire(self) -> WorkerProcess:
        if self.closed:
            raise HarnessError("worker pool is closed")
        w = self.idle.pop(0) if self.idle else self._spawn()
        try:
            w.wait_ready()
        except (TimeoutError, HarnessError) as exc:
            w.kill()
            raise HarnessError(f"{exc}; worker log: {self.log_tail()}") from None
        self.busy.append(w)
        return w

    def release(self, w: WorkerProcess) -> None:
        self.busy.remove(w)
        self.idle.append(w)

    def discard(self, w: WorkerProcess) -> None:
        """Kill ``w`` (if it still runs) and forget it."""
        w.kill()
        if w in self.busy:
            self.busy.remove(w)
        if w in self.idle:
            self.idle.remove(w)

    def log_tail(self, n: int = 2000) -> str:
        """The end of what the workers wrote to stdout/stderr."""
        self.log.flush()
        size = os.fstat(self.log.fileno()).st_size
        return os.pread(self.log.fileno(), n, max(0, size - n)).decode(errors="replace")

    def close(self) -> list[int]:
        """End every worker; return the pids still alive afterwards (should be none)."""
        if self.closed:
            return []
        self.closed = True
        for w in self.busy + self.idle:
            w.close()
        self.busy, self.idle = [], []
        if self.zygote is not None:
            self.zygote.close()
        self.log.close()
        return wait_gone(self.groups, 5.0)

    def reset(self) -> None:
        """Between sessions: a worker still inside a task is killed, the rest stay warm."""
        for w in list(self.busy):
            self.discard(w)
        self.top_up()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        left = self.close()
        if left:
            for pid in left:
                kill_group(pid)
            raise HarnessError(f"processes left behind after closing the pool: {left}")


_POOLS: dict[tuple[str, tuple[tuple[str, str], ...]], WorkerPool] = {}


def shared_pool(root: Path, env: Mapping[str, str] | None = None) -> WorkerPool:
    """This process's warm pool for ``(root, env)``: sessions reuse its workers.

    A worker imports a database driver once (psycopg: ~0.25 s), not once per
    search.  :func:`close_pools` (also run at exit) ends them all.  Workers
    also end on their own when this process dies: their stdin closes.
    """
    key = (str(root), tuple(sorted((env or {}).items())))
    pool = _POOLS.get(key)
    if pool is None or pool.closed:
        if not _POOLS:
            import atexit

            atexit.register(close_pools)
        pool = _POOLS[key] = WorkerPool(root, env=env)
    return pool


def close_pools() -> list[int]:
    """Close every shared pool; return processes of theirs still alive (should be none)."""
    groups: list[int] = []
    for pool in _POOLS.values():
        groups += pool.groups
        pool.close()
    _POOLS.clear()
    return wait_gone(groups, 5.0)


# --------------------------------------------------------------------------
# Servers: run under a guard, so they never outlive us (see guard.py)


class Guarded:
    """A command started by a guard process that stops it, and removes ``remove``,
    when we stop it - or when this process dies, however it dies."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        user: int | None = None,
        group: int | None = None,
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float = 10.0,
        remove: Sequence[Path] = (),
    ) -> None:
        self.name = str(argv[0])
        self.spec: dict[str, Any] = {
            "argv": list(argv), "cwd": str(cwd), "env": dict(env), "log": str(log), "user": user, "group": group,
            "stop_signal": int(stop_signal), "stop_timeout": stop_timeout, "remove": [str(p) for p in remove],
        }
        self.stop_timeout = stop_timeout
        self.guard: subprocess.Popen[bytes] | None = None
        self.pid = 0  # the command's pid = its process group

    def start(self, timeout: float = 30.0) -> int:
        self.guard = subprocess.Popen(
            [sys.executable, "-S", str(Path(__file__).with_name("guard.py")), json.dumps(self.spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        assert self.guard.stdout is not None
        ready, _, _ = select.select([self.guard.stdout], [], [], timeout)
        line = self.guard.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.stop()
            raise HarnessError(f"guard for {self.name} did not start the command")
        self.pid = int(line)
        return self.pid

    def alive(self) -> bool:
        return self.pid > 0 and alive(self.pid)

    def stop(self) -> list[int]:
        """Stop the command (and clean up); return processes of its group still alive."""
        if self.guard is None:
            return []
        if self.guard.stdin is not None:
            with contextlib.suppress(OSError):
                self.guard.stdin.close()
        try:
            self.guard.wait(3 * self.stop_timeout + 5)
        except subprocess.TimeoutExpired:  # pragma: no cover - the guard itself hung
            self.guard.kill()
            self.guard.wait(5)
            if self.pid:
                kill_group(self.pid)
        if self.guard.stdout is not None:
            self.guard.stdout.close()
        self.guard = None
        return wait_gone([self.pid], self.stop_timeout) if self.pid else []


class Service:
    """A server run under a guard, started and stopped within time bounds.

    ``ready()`` is polled until it returns True (``start_timeout``); ``stop``
    sends SIGTERM to the server, SIGKILL to its whole group after
    ``stop_timeout``, and checks that nothing in the group survived.  If this
    process dies first, the guard does the same.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
        ready: Callable[[], bool],
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.log_path = log
        self.ready = ready
        self.start_timeout = start_timeout
        self.guarded = Guarded(argv, cwd=cwd, env=env, log=log, stop_timeout=stop_timeout)
        self.name = str(argv[0])
        self.started = False

    @property
    def pgid(self) -> int:
        return self.guarded.pid

    def start(self) -> Service:
        self.guarded.start()
        self.started = True
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.guarded.alive():
                self.stop()
                raise HarnessError(f"{self.name} exited: {self.log_tail()}")
            try:
                if self.ready():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise HarnessError(f"{self.name} not ready within {self.start_timeout} s: {self.log_tail()}")

    def members(self) -> list[int]:
        """Live processes of the service (the leader and its children)."""
        return survivors([self.pgid]) if self.started else []

    def stop(self) -> None:
        left = self.guarded.stop()
        if left:
            raise HarnessError(f"service processes survived stop: {left}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Service:
        return self if self.started else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
