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
* ``("external", service, key)`` - a call to a service outside the process
  (``sync.external``: a Redis command, a SQL statement) on one key; key
  ``""`` is the whole service, dependent with every key of it.
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
    # False for a write its own thread undoes in any loop that makes it (a
    # lock acquire or release): news to the others, not progress for a
    # spin loop of its own (see Execution.options).
    progress: bool = True

    def describe(self) -> str:
        return self.label or f"{'write' if self.write else 'read'} {self.key}"


OPAQUE_KEY: tuple[Hashable, ...] = ("*",)
OPAQUE = Access(OPAQUE_KEY, True, "call")

ITEM_KEY: tuple[Hashable, ...] = ("item",)
_HOLDERS = frozenset({"attr", "global"})
_NOT_OPAQUE = frozenset({"prim", "history"})

EXTERNAL = "external"

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
        if ta == EXTERNAL:  # the whole service vs one of its keys
            return ka[1] == kb[1] and "" in (ka[2], kb[2])
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


class ConflictIndex:
    """The earlier accesses that may depend on a new one, without scanning them all.

    DPOR looks, for every step of a run, for the earlier steps it depends
    on; testing each pair is quadratic in the run length, which opcode
    tracing makes long.  Accesses are filed by what they touch, so a lookup
    returns a (sorted) superset of the dependent ones; callers still apply
    :func:`dependent`.
    """

    def __init__(self) -> None:
        self._by_bucket: dict[Hashable, list[int]] = {}
        self._visible: list[int] = []  # everything an opaque call may touch
        self._opaque: list[int] = []
        self._holder_loads: dict[int, list[int]] = {}  # holds -> loads of attributes / globals
        self._holder_any: list[int] = []  # loads that may hold some container
        self._item_writes: dict[Hashable, list[int]] = {}  # container number (or None) -> writes

    @staticmethod
    def _bucket(key: tuple[Hashable, ...]) -> Hashable:
        kind = key[0]
        if kind == "attr":
            return ("attr", key[1])
        if kind == "item":
            return "item"
        if kind == EXTERNAL:  # one service: a key conflicts with the whole service
            return (EXTERNAL, key[1])
        return key

    def add(self, index: int, access: Access | None) -> None:
        if access is None:
            return
        key = access.key
        kind = key[0]
        if kind == "*":
            self._opaque.append(index)
            self._visible.append(index)
            return
        self._by_bucket.setdefault(self._bucket(key), []).append(index)
        if kind in _NOT_OPAQUE:
            return
        self._visible.append(index)
        if kind in _HOLDERS and not access.write and access.holds != 0:
            self._holder_loads.setdefault(access.holds, []).append(index)
            self._holder_any.append(index)
        elif kind == "item" and access.write:
            self._item_writes.setdefault(key[1] if len(key) > 1 else None, []).append(index)

    def candidates(self, access: Access | None) -> list[int]:
        """Indices of earlier accesses that may be dependent with ``access``, ascending."""
        if access is None:
            return []
        key = access.key
        kind = key[0]
        if kind == "*":
            return self._visible
        parts: list[list[int]] = [self._by_bucket.get(self._bucket(key), [])]
        if kind not in _NOT_OPAQUE:
            parts.append(self._opaque)
        if kind == "item" and access.write:
            if len(key) == 1:
                parts.append(self._holder_any)
            else:
                parts.append(self._holder_loads.get(-1, []))
                parts.append(self._holder_loads.get(key[1], []))  # type: ignore[call-overload]
        elif kind in _HOLDERS and not access.write and access.holds != 0:
            if access.holds < 0:
                for writes in self._item_writes.values():
                    parts.append(writes)
            else:
                parts.append(self._item_writes.get(access.holds, []))
                parts.append(self._item_writes.get(None, []))
        parts = [p for p in parts if p]
        if len(parts) == 1:
            return parts[0]
        return sorted(set().union(*parts))
