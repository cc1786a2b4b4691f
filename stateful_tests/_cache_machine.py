"""The thread engine as the caching systems use it: which properties a variant
is judged on, and which variants need a real redis-server.

* A broken variant is searched for its declared property only - the other
  checks are off, and reads are not checked for linearizability - so the
  counterexample shows the bug the variant documents, not the first
  symptom of it (the simulator's ``checked_properties`` does the same).
* A fixed variant is judged on every property in ``Machine.judged``
  (``params["judged"]`` narrows it: a TTL cache promises "stale <= TTL",
  not "never stale"), including ``"linearizability"`` against the strict
  spec when listed.
* ``params["cache"] == "redis"``: the variant talks to a real redis-server
  (started once per process by ``racekit.crash.redis.shared``); where none
  can be started the variant is skipped with the reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

from racekit import ConcurrentStateMachine, Variant
from racekit.crash import redis as redis_service
from specs.caching import CachedRegisterSpec, ReadsUncheckedSpec

LINEARIZABILITY = "linearizability"


class CacheMachine(ConcurrentStateMachine):
    spec = CachedRegisterSpec()
    loose_spec: ClassVar[Any] = ReadsUncheckedSpec()
    judged: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def checked(cls, variant: Variant) -> tuple[str, ...]:
        if variant.expect == "violation":
            return (str(variant.property),)
        return tuple(variant.params.get("judged", cls.judged))

    @classmethod
    def harness(cls, variant: Variant | None = None) -> Any:
        v = variant or cls.variant()
        h = super().harness(v)
        names = cls.checked(v)
        h.invariants = {name: fn for name, fn in h.invariants.items() if name in names}
        if LINEARIZABILITY not in names:
            h.spec = cls.loose_spec
        return h

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        if variant.params.get("cache") == "redis":
            return redis_service.unavailable()
        return None
