"""The throwaway PostgreSQL cluster: unix socket only, torn down completely, bounded in time."""

from __future__ import annotations

import time

import pytest

from racekit.crash import postgres
from racekit.crash.procs import survivors

pytestmark = pytest.mark.skipif(postgres.unavailable() is not None, reason=postgres.unavailable() or "")


def test_cluster_starts_on_a_unix_socket_and_leaves_nothing() -> None:
    import psycopg

    started = time.monotonic()
    cluster = postgres.Cluster(start_timeout=60).start()
    try:
        assert cluster.dir is not None and cluster.pgid is not None
        pgid, directory = cluster.pgid, cluster.dir
        with psycopg.connect(cluster.dsn(), autocommit=True) as con:
            assert con.execute("SHOW listen_addresses").fetchone() == ("",)  # no TCP at all
            assert con.execute("SHOW fsync").fetchone() == ("off",)
            con.execute("CREATE TABLE t (x int)")
        assert survivors([pgid])  # postmaster and its helpers
    finally:
        cluster.stop()
    assert survivors([pgid]) == []
    assert not directory.exists()
    assert time.monotonic() - started < 60


def test_shared_cluster_is_reused_and_stopped() -> None:
    a = postgres.shared()
    assert postgres.shared() is a
    pgid = a.pgid
    assert pgid is not None
    postgres.stop_shared()
    assert survivors([pgid]) == []
