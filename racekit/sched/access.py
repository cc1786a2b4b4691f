"""What a step touches, so explorers can tell which steps commute.

Every switch point announces the access the thread is about to make.  Two
steps are *dependent* when they touch the same thing and at least one
writes; dependent steps are the only ones whose order can matter, which is
what partial-order reduction (DPOR, sleep sets) relies on.

Keys:

* ``("prim", n)`` - an operation on racekit primitive number ``n`` (a lock,
  condition, queue ...).  Always a write: every primitive operation may
  enable or disable another thread.
* ``("attr", name, n)`` - an attribute of object number ``n`` (objects are
  numbered in order of first access in a run, so keys compare across runs
  of one schedule prefix).  ``("attr", name)`` when opcode tracing could not
  tell the object: it conflicts with every object's ``name``.
* ``("item", n)`` - the contents of container number ``n`` (a subscript, a
  container method, a builtin that reads it); ``("item",)`` when the
  container is unknown: it conflicts with every container.  A container
  write also conflicts with an attribute or global *load* whose value may
  be that container (``holds``): the step that loads ``s.items`` may read
  its contents without another switch point (truth test, iteration, ``==``).
* ``("global", name)`` - a module global load/store.
* ``OPAQUE`` - a call into code racekit cannot see (a C function such as
  ``sys.getrecursionlimit``): dependent with every non-primitive access.
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
    # For attribute and global loads: the container the loaded value is
    # (its number), 0 when it is no container, -1 when unknown.
    holds: int = -1

    def describe(self) -> str:
        return self.label or f"{'write' if self.write else 'read'} {self.key}"


OPAQUE_KEY: tuple[Hashable, ...] = ("*",)
OPAQUE = Access(OPAQUE_KEY, True, "call")

ITEM_KEY: tuple[Hashable, ...] = ("item",)
_HOLDERS = frozenset({"attr", "global"})
_NOT_OPAQUE = frozenset({"prim", "history"})

# Operation boundaries recorded in a history: invocations read, returns write.
HISTORY_KEY: tuple[Hashable, ...] = ("history",)


def dependent(a: Access | None, b: Access | None) -> bool:
    """True when the order of two steps with these accesses can matter."""
    if a is None or b is None:
        return False
    ka, kb = a.key, b.key
    if ka == kb:
        if ka == HISTORY_KEY:
            # Only "A returned before B was invoked" changes the history's
            # real-time order; two invocations or two returns commute.
            return a.write != b.write
        return a.write or b.write
    if not (a.write or b.write):
        return False
    ta, tb = ka[0], kb[0]
    if ta == "*" or tb == "*":
        # A C call cannot touch racekit primitive state or the harness's
        # history of operation boundaries; anything else it may.
        return (tb if ta == "*" else ta) not in _NOT_OPAQUE
    if ta == tb:
        if ta == "item":  # one of them is the unknown container
            return len(ka) == 1 or len(kb) == 1
        if ta == "attr":  # same name, one of the objects unknown
            return ka[1] == kb[1] and (len(ka) == 2 or len(kb) == 2)
        return False
    # A container's contents are also read without a switch point of their
    # own, in the step that loads it: ``if s.items:``, ``for x in s.items``,
    # ``s.items == []``.  So a load of an attribute or global that may hold
    # the container conflicts with a write of its contents.
    if ta == "item":
        return a.write and not b.write and tb in _HOLDERS and _may_hold(b.holds, ka)
    if tb == "item":
        return b.write and not a.write and ta in _HOLDERS and _may_hold(a.holds, kb)
    return False


def _may_hold(holds: int, item_key: tuple[Hashable, ...]) -> bool:
    if holds < 0:
        return True
    if holds == 0:
        return False
    return len(item_key) == 1 or item_key[1] == holds
