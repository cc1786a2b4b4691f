"""request_dedup/redis_set_nx whose ``SET NX`` no longer carries ``PX``: entries never expire.

Dedup still works - within the window and forever after - but the store
grows by one key per request id, for ever.  A subclass, not a patch: the
zygote imports every planted module into one process, and a patched
``Instance`` would leak into the real system's later runs.
"""

from __future__ import annotations

from typing import Any

from systems import request_dedup as rd


class NoExpiry(rd.Instance):
    def _redis(self, request_id: str, now: int) -> str:
        key = rd.KEY_PREFIX + request_id
        with rd.operation("redis", f"SET {key} NX") as op:
            first = bool(self.redis.set(key, self.name, nx=True))  # MUTANT: no PX
            op.outcome = "(set)" if first else "(exists)"
        if not first:
            return rd.DUPLICATE
        self._effect(request_id, now)
        return rd.PROCESSED


def serve(db: str, variant: str, instance: str, requests: list[list[Any]], redis_socket: str | None = None) -> None:
    rd.run_instance(NoExpiry(instance, variant, db, redis_socket), requests)
