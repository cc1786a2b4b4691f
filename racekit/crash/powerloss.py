"""A power loss, applied by the parent to the files a run's workers wrote through :mod:`racekit.crash.files`.

Every worker is dead by now (a power loss takes the whole machine).  What
the disk holds afterwards is chosen (``kind="torn"``), when anything was
unsynced:

* ``lose`` (option 0, tried first): every tracked name and file is what its
  last fsync / directory fsync made durable - unsynced writes, creations,
  renames and unlinks are gone;
* ``torn``: names as in ``lose``; each file keeps the first half of its
  unsynced change (a write that was in flight reached the disk in part);
* ``keep``: nothing is lost (the page cache was written back in time - the
  same as a process crash).

See :mod:`racekit.crash.files` for what is and is not modelled.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from racekit.crash.files import Journal

MODES = ("lose", "torn", "keep")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def torn(durable: bytes, current: bytes) -> bytes:
    """``durable`` with the first half of the change to ``current`` applied (a shrink is lost whole).

    The change is the bytes between the common prefix and (same length) the
    common suffix, or the end (the file grew): a write in flight reached the
    disk up to its middle.
    """
    if len(current) < len(durable):
        return durable
    p = 0
    while p < len(durable) and durable[p] == current[p]:
        p += 1
    end = len(current)
    if len(current) == len(durable):
        while end > p and durable[end - 1] == current[end - 1]:
            end -= 1
    cut = p + (end - p + 1) // 2
    return current[:cut] + durable[cut:]


class Disk:
    """The tracked files of one run: what is durable, what is not, and the power loss itself."""

    def __init__(self, root: str) -> None:
        self.journal = Journal(root)
        self.state: dict[str, Any] = self.journal.load()

    def _current_contents(self) -> dict[str, bytes]:
        """file id -> its contents now, for every tracked file some name refers to."""
        out: dict[str, bytes] = {}
        for path, (_durable, current) in sorted(self.state["names"].items()):
            if current is not None and current not in out:
                data = _read(path)
                if data is not None:
                    out[current] = data
        return out

    def unsynced(self) -> list[str]:
        """What a power loss would lose now, one line per name (empty: nothing)."""
        contents = self._current_contents()
        lines = []
        for path, (durable, current) in sorted(self.state["names"].items()):
            name = os.path.basename(path)
            if durable != current:
                lines.append(f"{name}: name not durable ({'absent' if durable is None else 'other file'} on disk)")
            elif current is not None:
                now = contents.get(current)
                kept = self.journal.blob(self.state["files"][current])
                if now is not None and now != kept:
                    lines.append(f"{name}: {len(now)} bytes, {len(kept)} durable")
        return lines

    def lose(self, mode: str) -> list[str]:
        """Apply a power loss; returns one line per name that changed.  What is left is durable."""
        contents = self._current_contents()
        changed = []
        for path, entry in sorted(self.state["names"].items()):
            durable, current = entry
            name = os.path.basename(path)
            before = _read(path)
            if mode == "keep":  # the page cache reached the disk in time: names and contents as they are
                entry[0] = current
                continue
            if durable is None:
                if before is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    changed.append(f"{name}: gone (its name was never made durable)")
            else:
                data = self.journal.blob(self.state["files"][durable])
                if mode == "torn" and durable in contents:
                    data = torn(data, contents[durable])
                if before != data:
                    with open(path, "wb") as fh:
                        fh.write(data)
                    was = "absent" if before is None else f"{len(before)} bytes"
                    changed.append(f"{name}: {was} -> {len(data)} bytes")
            entry[1] = durable
        for fid in sorted({e[0] for e in self.state["names"].values() if e[0] is not None}):
            # what survived is durable now: torn data included
            for path, (durable, _current) in sorted(self.state["names"].items()):
                if durable == fid:
                    data = _read(path) or b""
                    self.state["files"][fid] = self.journal.put_blob(fid, data) if data else None
                    break
        self.journal.save(self.state)
        return changed
