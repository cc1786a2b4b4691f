"""What a step touches, so explorers can tell which steps commute.

Every switch point announces the access the thread is about to make.  Two
steps are *dependent* when they touch the same key and at least one writes;
dependent steps are the only ones whose order can matter, which is what
partial-order reduction (DPOR, sleep sets) relies on.

Keys:

* ``("prim", n)`` - an operation on racekit primitive number ``n`` (a lock,
  condition, queue ...).  Always a write: every primitive operation may
  enable or disable another thread.
* ``("attr", name)`` - an attribute load/store seen by opcode tracing.  The
  object is not visible from a trace callback in CPython 3.11, so all objects
  share the attribute name: coarser than needed, never unsound.
* ``("item",)`` - a subscript load/store or a container method call
  (container unknown, same reason).  A container write also conflicts with
  every attribute/global *load*: the step that loads ``s.items`` may read its
  contents without another switch point (truth test, iteration, ``==``).
* ``("global", name)`` - a module global load/store.
* ``("external", service, key)`` - a call to a service outside the process
  (``sync.external``: a Redis command, a SQL statement) on one key; key
  ``""`` is the whole service, dependent with every key of it.
* ``OPAQUE`` - a call into code racekit cannot see (a C function such as
  ``list.append``): dependent with every non-primitive access.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import NamedTuple


class Access(NamedTuple):
    key: tuple[Hashable, ...]
    write: bool
    label: str = ""
    # "acquire": a blocking lock acquire, enabled only by the owner's
    # "release" on the same key, so never co-enabled with it; "wait": any
    # other operation a "release" may enable (semaphore acquire, queue get,
    # event wait, condition wake, timed or non-blocking acquires), which may
    # also be co-enabled with it.  DPOR uses these to find the race that
    # matters when a release enables an acquire.
    sync: str = ""

    def describe(self) -> str:
        return self.label or f"{'write' if self.write else 'read'} {self.key}"


OPAQUE_KEY: tuple[Hashable, ...] = ("*",)
OPAQUE = Access(OPAQUE_KEY, True, "call")

ITEM_KEY: tuple[Hashable, ...] = ("item",)
_HOLDERS = frozenset({"attr", "global"})

EXTERNAL = "external"

# Operation boundaries recorded in a history: invocations read, returns write.
HISTORY_KEY: tuple[Hashable, ...] = ("history",)


def dependent(a: Access | None, b: Access | None) -> bool:
    """True when the order of two steps with these accesses can matter."""
    if a is None or b is None:
        return False
    ka, kb = a.key, b.key
    if ka == HISTORY_KEY and kb == HISTORY_KEY:
        # Only "A returned before B was invoked" changes the history's
        # real-time order; two invocations or two returns commute.
        return a.write != b.write
    if ka == OPAQUE_KEY or kb == OPAQUE_KEY:
        # A C call cannot touch racekit primitive state; anything else it may.
        other = kb if ka == OPAQUE_KEY else ka
        return other[0] != "prim"
    if ka[0] == EXTERNAL == kb[0] and ka[1] == kb[1] and "" in (ka[2], kb[2]):
        return a.write or b.write  # the whole service vs one of its keys
    if ka != kb:
        # A container's contents are also read without a switch point of
        # their own, in the step that loads it: ``if s.items:``,
        # ``for x in s.items``, ``s.items == []``.  So a load of an
        # attribute or global conflicts with any container write.
        if ka == ITEM_KEY:
            return a.write and not b.write and kb[0] in _HOLDERS
        if kb == ITEM_KEY:
            return b.write and not a.write and ka[0] in _HOLDERS
        return False
    return a.write or b.write
