"""A read-mostly map: copy-on-write vs locking (seed exercise 5).

``get(k)``, ``put(k, v)``, ``remove(k)``, ``items()`` (a consistent
snapshot, sorted).  Variants:

* ``cow`` (fixed) - copy-on-write: readers read the current dict reference
  with no lock (one attribute load: atomic); a writer, holding the writer
  lock, copies the dict, changes the copy and publishes it by assigning the
  reference.  Readers never wait; every write costs O(n).
* ``cow_unlocked`` - the same without the writer lock: two writers copy the
  same version, each publishes its own copy, the first write is lost.
* ``rwlock`` (fixed) - one dict guarded by a readers-writer lock written here
  from ``racekit.sync`` primitives (writer-preferring).
* ``rwlock_upgrade`` - ``put`` looks under the read lock and, when the value
  differs, takes the write lock *while still holding the read lock*: the
  writer waits for the readers to leave, itself included (lock-upgrade
  deadlock, even with one thread).
* ``locked`` (fixed) - one plain lock around everything.
"""

from __future__ import annotations

from typing import Any

from racekit import sync, System, Variant


class RWLock:
    """Many readers or one writer; a waiting writer blocks new readers."""

    def __init__(self) -> None:
        self._cond = sync.Condition(sync.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


class CowMap:
    """Copy-on-write with a writer lock; lock-free reads."""

    def __init__(self, initial: dict[Any, Any] | None = None) -> None:
        self.data: dict[Any, Any] = dict(initial or {})
        self.write_lock = sync.Lock()

    def get(self, key: Any) -> Any:
        return self.data.get(key)

    def items(self) -> tuple[tuple[Any, Any], ...]:
        return tuple(sorted(self.data.items()))  # one snapshot: the dict is never mutated

    def put(self, key: Any, value: Any) -> None:
        with self.write_lock:
            new = dict(self.data)
            new[key] = value
            self.data = new

    def remove(self, key: Any) -> None:
        with self.write_lock:
            if key in self.data:
                new = dict(self.data)
                del new[key]
                self.data = new


class CowUnlockedMap(CowMap):
    """Bug: writers copy and publish without the writer lock."""

    def put(self, key: Any, value: Any) -> None:
        new = dict(self.data)
        new[key] = value
        self.data = new  # may overwrite a copy published since ours was taken

    def remove(self, key: Any) -> None:
        if key in self.data:
            new = dict(self.data)
            del new[key]
            self.data = new


class RWLockMap:
    """One dict behind a readers-writer lock."""

    def __init__(self, initial: dict[Any, Any] | None = None) -> None:
        self.data: dict[Any, Any] = dict(initial or {})
        self.rw = RWLock()

    def get(self, key: Any) -> Any:
        self.rw.acquire_read()
        try:
            return self.data.get(key)
        finally:
            self.rw.release_read()

    def items(self) -> tuple[tuple[Any, Any], ...]:
        self.rw.acquire_read()
        try:
            return tuple(sorted(self.data.items()))
        finally:
            self.rw.release_read()

    def put(self, key: Any, value: Any) -> None:
        self.rw.acquire_write()
        try:
            self.data[key] = value
        finally:
            self.rw.release_write()

    def remove(self, key: Any) -> None:
        self.rw.acquire_write()
        try:
            self.data.pop(key, None)
        finally:
            self.rw.release_write()


class RWLockUpgradeMap(RWLockMap):
    """Bug: upgrade a read lock to a write lock in place."""

    def put(self, key: Any, value: Any) -> None:
        self.rw.acquire_read()
        try:
            if self.data.get(key) == value:
                return  # nothing to write: readers were not disturbed
            self.rw.acquire_write()  # waits for readers == 0 - including this one
            try:
                self.data[key] = value
            finally:
                self.rw.release_write()
        finally:
            self.rw.release_read()


class LockedMap:
    """One lock around every operation."""

    def __init__(self, initial: dict[Any, Any] | None = None) -> None:
        self.data: dict[Any, Any] = dict(initial or {})
        self.lock = sync.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            return self.data.get(key)

    def items(self) -> tuple[tuple[Any, Any], ...]:
        with self.lock:
            return tuple(sorted(self.data.items()))

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value

    def remove(self, key: Any) -> None:
        with self.lock:
            self.data.pop(key, None)


SYSTEM = System(
    name="read_mostly_map",
    summary="Read-mostly map: copy-on-write, readers-writer lock, single lock",
    kind="thr",
    properties=("linearizability", "deadlock"),
    variants=[
        Variant("cow", CowMap, expect="correct"),
        Variant(
            "cow_unlocked",
            CowUnlockedMap,
            expect="violation",
            property="linearizability",
            bug="two writers copy the same version of the dict and each publishes its own copy: the first write is lost",
        ),
        Variant("rwlock", RWLockMap, expect="correct"),
        Variant(
            "rwlock_upgrade",
            RWLockUpgradeMap,
            expect="violation",
            property="deadlock",
            bug="put takes the write lock while holding the read lock: the writer waits for the readers to leave, itself included",
        ),
        Variant("locked", LockedMap, expect="correct"),
    ],
)
