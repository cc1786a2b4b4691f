"""request_dedup/redis_set_nx whose ``SET NX`` no longer carries ``PX``: entries never expire.

Dedup still works - within the window and forever after - but the store
grows by one key per request id, for ever.
"""

from __future__ import annotations

from systems import request_dedup as rd
from systems.request_dedup import serve as serve  # the entry point the driver names


def _redis(self: rd.Instance, request_id: str, now: int) -> str:
    key = rd.KEY_PREFIX + request_id
    with rd.operation("redis", f"SET {key} NX") as op:
        first = bool(self.redis.set(key, self.name, nx=True))  # MUTANT: no PX
        op.outcome = "(set)" if first else "(exists)"
    if not first:
        return rd.DUPLICATE
    self._effect(request_id, now)
    return rd.PROCESSED


rd.Instance._redis = _redis  # type: ignore[method-assign]
