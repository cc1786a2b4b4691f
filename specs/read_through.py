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
"""

from __future__ import annotations

from specs.caching import CachedRegisterSpec, ReadsUncheckedSpec, cache_disagrees

STALE = "no permanently stale entry"

__all__ = ["STALE", "CachedRegisterSpec", "ReadsUncheckedSpec", "cache_disagrees"]
