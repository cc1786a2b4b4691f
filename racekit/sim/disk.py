"""A per-node disk: key/value records and an append-only log, with fsync.

Writes land in a volatile page cache first and are readable at once; only
``fsync`` makes them durable.  A crash discards whatever was not synced
(or, with torn writes enabled, keeps a chosen prefix of it, as a real disk
may have flushed some of the cache on its own).  Values are deep-copied in
and out so a node can never alias disk contents with its volatile state and
"survive" a crash by accident.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any


class Disk:
    """Key/value + append-log storage that survives crashes only once synced."""

    def __init__(self) -> None:
        self._synced_kv: dict[str, Any] = {}
        self._synced_log: list[Any] = []
        self._pending: list[tuple[str, str, Any]] = []  # (op, key, value) in write order
        self._kv: dict[str, Any] = {}
        self._log: list[Any] = []
        self.fsyncs = 0

    # -- reads see the page cache, like a real file system -------------------
    def read(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self._kv.get(key, default))

    def keys(self) -> list[str]:
        return sorted(self._kv)

    def log(self) -> list[Any]:
        return copy.deepcopy(self._log)

    def __contains__(self, key: str) -> bool:
        return key in self._kv

    # -- writes are volatile until fsync ------------------------------------
    def write(self, key: str, value: Any) -> None:
        value = copy.deepcopy(value)
        self._kv[key] = value
        self._pending.append(("put", key, value))

    def delete(self, key: str) -> None:
        self._kv.pop(key, None)
        self._pending.append(("del", key, None))

    def append(self, record: Any) -> None:
        record = copy.deepcopy(record)
        self._log.append(record)
        self._pending.append(("append", "", record))

    def fsync(self) -> None:
        """Make every write so far durable."""
        for op in self._pending:
            self._apply(self._synced_kv, self._synced_log, op)
        self._pending.clear()
        self.fsyncs += 1

    @property
    def unsynced(self) -> int:
        """How many writes a crash right now would lose."""
        return len(self._pending)

    # -- crash ---------------------------------------------------------------
    def crash(self, keep: int = 0) -> int:
        """Lose unsynced writes except the first ``keep``; returns how many were lost."""
        survivors = self._pending[:keep]
        lost = len(self._pending) - len(survivors)
        for op in survivors:
            self._apply(self._synced_kv, self._synced_log, op)
        self._pending.clear()
        self._kv = copy.deepcopy(self._synced_kv)
        self._log = copy.deepcopy(self._synced_log)
        return lost

    @staticmethod
    def _apply(kv: dict[str, Any], log: list[Any], op: tuple[str, str, Any]) -> None:
        kind, key, value = op
        if kind == "put":
            kv[key] = copy.deepcopy(value)
        elif kind == "del":
            kv.pop(key, None)
        else:
            log.append(copy.deepcopy(value))

    def state(self) -> str:
        """A deterministic description of contents, synced and not (for state hashing)."""
        return repr((sorted(self._synced_kv.items()), self._synced_log, self._pending))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())
