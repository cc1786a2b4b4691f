"""request_dedup/sqlite_unique without the purge: expired entries stay in the table.

Insert-if-absent then treats an id seen 11 minutes ago as a duplicate (allowed:
outside the window either answer is), but the table grows without bound.
"""

from __future__ import annotations

from systems import request_dedup as rd
from systems.request_dedup import serve as serve  # the entry point the driver names


def _insert_if_absent(self: rd.Instance, request_id: str, client_ts: int, now: int) -> str:
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


rd.Instance._insert_if_absent = _insert_if_absent  # type: ignore[method-assign]
