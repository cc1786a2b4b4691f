"""The throwaway redis-server (``racekit.crash.redis``): starts on a unix
socket only, serves, and leaves no process and no directory behind."""

from __future__ import annotations

import os

import pytest

from racekit.crash import redis as redis_service
from racekit.crash.procs import survivors

reason = redis_service.unavailable()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


def test_server_serves_on_a_unix_socket_and_stops_clean() -> None:
    with redis_service.Server() as server:
        client = server.client()
        assert client.set("k", "v") and client.get("k") == "v"
        assert client.config_get("port")["port"] == "0"  # no TCP listener at all
        pgid, directory = server.pgid, server.dir
        assert pgid and directory is not None and os.path.exists(server.socket)
        client.close()
    assert survivors([pgid]) == []
    assert not directory.exists()


def test_shared_server_is_one_per_process() -> None:
    assert redis_service.shared() is redis_service.shared()
    assert redis_service.shared().client().ping()
