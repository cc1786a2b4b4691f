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

And one property that keeps the cache honest about being a cache: **a
cache hit never reads the database** (a read whose lookup found a value
must not query the row; :func:`specs.caching.wasted_read`) - without it a
variant that bypasses its cache would pass every other check - and
**every cached value carries its committed version**
(:func:`specs.caching.mistagged`), since every ordering decision of a
versioned design rests on that tag.
"""

from __future__ import annotations

from specs.caching import (
    HIT,
    TAGGED,
    CachedRegisterSpec,
    ReadsUncheckedSpec,
    cache_disagrees,
    holds_value,
    mistagged,
    never_committed_read,
    wasted_read,
)

NEVER_COMMITTED = "no read returns a never-committed value"
CONVERGED = "at quiescence the cache equals the database"

__all__ = [
    "CONVERGED",
    "HIT",
    "NEVER_COMMITTED",
    "TAGGED",
    "CachedRegisterSpec",
    "ReadsUncheckedSpec",
    "cache_disagrees",
    "holds_value",
    "mistagged",
    "never_committed_read",
    "wasted_read",
]
