"""request_dedup/sqlite_unique without the purge: expired entries stay in the table.

Insert-if-absent then treats an id seen 11 minutes ago as a duplicate (allowed:
outside the window either answer is), but the table grows without bound.
A subclass, not a patch (see request_dedup_no_expiry.py).
"""

from __future__ import annotations

from typing import Any

from systems import request_dedup as rd


class NoPurge(rd.Instance):
    def _insert_if_absent(self, request_id: str, client_ts: int, now: int) -> str:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # MUTANT: no DELETE FROM seen WHERE expires_at <= now
            cur = self.db.execute(
                "INSERT INTO seen(request_id, expires_at) VALUES (?, ?) ON CONFLICT(request_id) DO NOTHING",
                (request_id, now + rd.WINDOW_MS),
            )
            first = cur.rowcount == 1
            if first:
                self._effect(request_id, now)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return rd.PROCESSED if first else rd.DUPLICATE


def serve(db: str, variant: str, instance: str, requests: list[list[Any]], redis_socket: str | None = None) -> None:
    rd.run_instance(NoPurge(instance, variant, db, redis_socket), requests)
