"""Spec of the read-through cache: the database's register, seen through the cache.

The model is :class:`specs.caching.CachedRegisterSpec`; a fixed variant's
reads must be linearizable against it.  The catalogue's property is
**no permanently stale entry**, a liveness property: *staleness ends
within T after the last write*.  In this system nothing changes the cache
but operations (no TTL, no background refresher), so an entry that is
stale once every operation has returned stays stale forever; checking
"every cached value equals its row" at quiescence therefore checks the
liveness property exactly, with T = the time the last operation takes to
return - and its counterexample is a lasso: a finite run, then nothing.

Fixed variants are also held to **a cache hit never reads the database**
(:func:`specs.caching.wasted_read`): a lookup that found a value serves it;
**every cached value carries its committed version**
(:func:`specs.caching.mistagged`); and **a fill is kept**
(:func:`specs.caching.forgotten_fill`): the reader's next read of the key
hits unless the key was written in between.
"""

from __future__ import annotations

from specs.caching import (
    HIT,
    KEPT,
    TAGGED,
    CachedRegisterSpec,
    ReadsUncheckedSpec,
    cache_disagrees,
    forgotten_fill,
    holds_value,
    mistagged,
    wasted_read,
)

STALE = "no permanently stale entry"

__all__ = [
    "HIT",
    "KEPT",
    "STALE",
    "TAGGED",
    "CachedRegisterSpec",
    "ReadsUncheckedSpec",
    "cache_disagrees",
    "forgotten_fill",
    "holds_value",
    "mistagged",
    "wasted_read",
]
