"""write_behind/wal whose put no longer fsyncs the log before the ack.

The record is in the page cache when the client gets its ack; a power loss
then takes it away, and recovery cannot replay what the log no longer holds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

from systems import write_behind as wb


@contextlib.contextmanager
def _without_fsync() -> Iterator[None]:
    """MUTANT: every fsync the put makes is skipped (whichever layer it calls)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(os, "fsync", lambda fd: None))
        files = getattr(wb, "files", None)
        if files is not None:
            stack.enter_context(mock.patch.object(files, "fsync", lambda fd: None))
        yield


class NoFsync(wb.WriteBehindCache):
    def put(self, key: str, value: str) -> int:
        with _without_fsync():
            return super().put(key, value)


def _open(db: str, log: str, variant: str) -> wb.WriteBehindCache:
    return NoFsync(db, log, wb.CONFIGS[variant])


def recover(db: str, log: str, variant: str) -> int:
    cache = _open(db, log, variant)
    try:
        return cache.recover()
    finally:
        cache.close()


def serve(db: str, log: str, variant: str, ops: list[list[Any]], first: int) -> None:
    cache = _open(db, log, variant)
    try:
        cache.recover()
        for i in range(first, len(ops)):
            op = ops[i]
            if op[0] == "put":
                seq = cache.put(str(op[1]), str(op[2]))
                wb.report({"done": i, "seq": seq})
            elif op[0] == "get":  # the scenario language of stateful_tests/test_write_behind.py
                wb.report({"done": i, "got": cache.get(str(op[1]))})
            else:
                cache.flush()
                wb.report({"done": i})
    finally:
        cache.close()
