"""Spec of the write-through cache: the database's register, seen through the cache.

The model is :class:`specs.caching.CachedRegisterSpec` (``update`` sets a
key, or is ``"rejected"`` for a negative value; ``read`` returns it).  A
fixed variant must be linearizable against it - the cache is invisible -
and satisfy the two named properties of the catalogue:

* **no read returns a never-committed value** - every read result is a
  value the database committed for that key (or started with);
* **at quiescence the cache equals the database** - once every operation
  has returned, each cached value is the row's current value.  Nothing in
  this system changes the cache but operations, so a disagreement at
  quiescence is permanent: this is the liveness property "the cache
  converges to the database", checked where it can only fail forever.
"""

from __future__ import annotations

from specs.caching import (
    CachedRegisterSpec,
    ReadsUncheckedSpec,
    cache_disagrees,
    never_committed_read,
)

NEVER_COMMITTED = "no read returns a never-committed value"
CONVERGED = "at quiescence the cache equals the database"

__all__ = [
    "CONVERGED",
    "NEVER_COMMITTED",
    "CachedRegisterSpec",
    "ReadsUncheckedSpec",
    "cache_disagrees",
    "never_committed_read",
]
