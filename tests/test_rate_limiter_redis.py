"""The Redis fixed-window limiter on a real redis-server: why INCR works and when it lies.

``INCR`` is atomic, so concurrent instances never lose a count (checked
below with threads).  The classic limiter is ``INCR key`` and, when the
result is 1, ``PEXPIRE key window``: two commands.  A client that dies
between them (deploy, OOM kill, timeout + retry on another node) leaves a
counter with no TTL: it never resets, and once it passes the limit the user
is locked out forever.  racekit explores every crash point with the
simulator's exhaustive DFS chooser and finds it; the atomic Lua script and
the ``SET key 0 NX PX window`` then ``INCR`` order survive every crash point.

Needs ``redis-server`` on PATH and the ``redis`` Python client; skipped with
the reason otherwise.  The server runs on a unix socket in a temp dir, for
the module only, and is killed afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from racekit.choice.strategies.dfs import PrefixChooser as DFSChooser

redis = pytest.importorskip("redis", reason="the redis Python client is not installed (pip install redis)")

if shutil.which("redis-server") is None:
    pytest.skip("redis-server is not on PATH (apt-get install redis-server)", allow_module_level=True)

LIMIT, WINDOW_MS, REQUESTS = 3, 300, 5
KEY = "rl:u1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("redis")
    sock = tmp / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.skip("redis-server did not start within 10 s")
                time.sleep(0.02)
        yield client
        client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Crash(Exception):
    """The client process died at this point; its remaining commands never ran."""


Limiter = Callable[[Any, Any], bool]


def maybe_crash(chooser: Any) -> None:
    if chooser.choose(["continue", "crash"], "crash") == 1:
        raise Crash


def incr_then_expire(r: Any, chooser: Any) -> bool:
    """Broken: two commands; a crash between them leaves the key without a TTL."""
    count = r.incr(KEY)
    maybe_crash(chooser)
    if count == 1:
        r.pexpire(KEY, WINDOW_MS)
    return bool(count <= LIMIT)


LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""


def lua_atomic(r: Any, chooser: Any) -> bool:
    """Fixed: the script runs atomically inside Redis; a client crash cannot split it."""
    maybe_crash(chooser)  # before the call: nothing happened
    count = r.eval(LUA, 1, KEY, WINDOW_MS)
    maybe_crash(chooser)  # after: the whole script happened
    return bool(count <= LIMIT)


def set_nx_px_then_incr(r: Any, chooser: Any) -> bool:
    """Fixed: create the key *with* its expiry first; INCR keeps an existing TTL."""
    r.set(KEY, 0, nx=True, px=WINDOW_MS)
    maybe_crash(chooser)  # the key exists and expires; the count is just not bumped
    count = r.incr(KEY)
    return bool(count <= LIMIT)


def run(r: Any, limiter: Limiter, chooser: Any) -> str | None:
    """REQUESTS requests, each a fresh client that may crash; the invariant after each:
    the counter either does not exist or will expire (PTTL -1 means never)."""
    r.delete(KEY)
    for i in range(REQUESTS):
        with contextlib.suppress(Crash):
            limiter(r, chooser)
        if r.pttl(KEY) == -1:
            return f"after request {i + 1} the counter {KEY}={r.get(KEY)} has no TTL: it never resets"
    return None


def next_prefix(path: Any) -> list[int] | None:
    """The next branch in depth-first order, or None when every one was run."""
    for depth in range(len(path) - 1, -1, -1):
        if path[depth].chosen + 1 < path[depth].arity:
            return [d.chosen for d in path[:depth]] + [path[depth].chosen + 1]
    return None


def explore(r: Any, limiter: Limiter) -> tuple[int, list[int] | None, str | None]:
    """Exhaustive DFS over crash points (racekit's DFSChooser); (runs, failing choices, message)."""
    prefix: list[int] | None = []
    runs = 0
    while prefix is not None:
        chooser = DFSChooser(prefix)
        runs += 1
        message = run(r, limiter, chooser)
        if message is not None:
            return runs, [d.chosen for d in chooser.path], message
        prefix = next_prefix(chooser.path)
    return runs, None, None


def test_incr_counts_exactly_under_concurrency(server: Any) -> None:
    """Why INCR works: concurrent increments from many clients are never lost."""
    server.delete("rl:concurrent")
    sock = server.connection_pool.connection_kwargs["path"]

    def worker() -> None:
        client = redis.Redis(unix_socket_path=sock)
        for _ in range(50):
            client.incr("rl:concurrent")
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert int(server.get("rl:concurrent")) == 400


def test_incr_then_expire_crash_between_never_resets(server: Any) -> None:
    runs, choices, message = explore(server, incr_then_expire)
    assert choices is not None and message is not None, f"no crash point found in {runs} runs"
    # DFS tries "no crash" first, so the first failing path is the earliest single crash
    assert choices.count(1) == 1 and choices[0] == 1, choices
    assert "no TTL" in message
    # when INCR lies: the window passes and the user is still locked out
    run(server, incr_then_expire, DFSChooser(choices))
    for _ in range(LIMIT):
        incr_then_expire(server, DFSChooser([]))
    time.sleep(WINDOW_MS / 1000 * 1.5)
    assert incr_then_expire(server, DFSChooser([])) is False
    assert server.pttl(KEY) == -1


@pytest.mark.parametrize("limiter", [lua_atomic, set_nx_px_then_incr], ids=["lua", "set_nx_px"])
def test_atomic_versions_survive_every_crash_point(server: Any, limiter: Limiter) -> None:
    runs, choices, message = explore(server, limiter)
    assert message is None, f"{limiter.__name__}: {message} (choices {choices})"
    # per request: lua has 3 paths (crash before, crash after, none), set_nx_px 2
    assert runs == (3 if limiter is lua_atomic else 2) ** REQUESTS


@pytest.mark.parametrize("limiter", [lua_atomic, set_nx_px_then_incr], ids=["lua", "set_nx_px"])
def test_broken_counterexample_replays_clean_on_atomic_versions(server: Any, limiter: Limiter) -> None:
    _, choices, _ = explore(server, incr_then_expire)
    assert choices is not None
    assert run(server, limiter, DFSChooser(choices)) is None


@pytest.mark.parametrize("limiter", [lua_atomic, set_nx_px_then_incr], ids=["lua", "set_nx_px"])
def test_atomic_versions_reset_after_the_window(server: Any, limiter: Limiter) -> None:
    server.delete(KEY)
    assert [limiter(server, DFSChooser([])) for _ in range(LIMIT + 1)] == [True] * LIMIT + [False]
    time.sleep(WINDOW_MS / 1000 * 1.5)
    assert limiter(server, DFSChooser([])) is True
