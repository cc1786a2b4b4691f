"""Durable files: ``os``-level writes, fsyncs and renames with points, and a power-loss model.

System code uses these instead of the ``os`` calls of the same name::

    from racekit.crash import files

    fd = files.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    files.fsync_dir(os.path.dirname(path))      # the new name survives a power loss
    files.write(fd, record)
    files.fsync(fd)                              # the record survives a power loss

Outside a harness each is the ``os`` call and nothing else.  In a harness
worker each is an operation (:mod:`racekit.crash.point`): the worker stops
before it, other workers may run, a kill may land after it.

**Power loss.**  A kill keeps the page cache: a process crash loses nothing
that was written.  When the run models power loss (a driver with
``power_loss = True``), the layer also keeps, in a directory the harness
gives it, the *durable* state of every file it touched:

* per file (an inode: it moves with renames), its contents as of its last
  ``fsync``/``fdatasync`` - or as first seen, for a file that existed before
  the layer touched it (assumed durable);
* per name, the file it referred to as of the last ``fsync_dir`` of its
  directory - a file created, renamed or unlinked since then may be back to
  what the directory said before (strict POSIX: fsync of a file does not
  make its directory entry durable).

At a power loss the parent (:mod:`racekit.crash.powerloss`) rewrites every
tracked name from that record: unsynced writes lost, optionally torn
(half of the unsynced change survives) or kept.  Not modelled: files
written without this layer (SQLite and PostgreSQL files: they fsync
themselves and are taken to honour their own ``synchronous`` setting),
reordering of unsynced writes to one file (a survivor is always a prefix of
the change), metadata other than names and contents (modes, times), and
directories created or removed.
"""

from __future__ import annotations

import builtins
import json
import os
from typing import Any

from racekit.crash import point

_open = builtins.open  # this module's ``open`` is the layer's
_fds: dict[int, tuple[str, str, str]] = {}  # fd -> (journal root, file id, base name), this process


class Journal:
    """The durable state of tracked files, in a directory shared by one run's workers.

    ``state.json``: ``{"next": n, "files": {fid: blob or null}, "names": {path: [durable fid, current fid]}}``
    - a null blob is an empty file, a null fid is "no such file".  Blobs are
    files in the same directory.  Workers run one at a time in step mode (the
    only mode that models power loss), so no locking is needed.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.path = os.path.join(root, "state.json")

    def load(self) -> dict[str, Any]:
        try:
            with _open(self.path) as fh:
                state: dict[str, Any] = json.load(fh)
                return state
        except FileNotFoundError:
            return {"next": 1, "files": {}, "names": {}}

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path + ".tmp"
        with _open(tmp, "w") as fh:
            json.dump(state, fh, sort_keys=True)
        os.replace(tmp, self.path)

    def new_file(self, state: dict[str, Any], data: bytes | None) -> str:
        fid = f"f{state['next']}"
        state["next"] += 1
        state["files"][fid] = self.put_blob(fid, data) if data else None
        return fid

    def put_blob(self, fid: str, data: bytes) -> str:
        name = f"{fid}.{os.urandom(4).hex()}"  # never shown: only the contents matter
        with _open(os.path.join(self.root, name), "wb") as fh:
            fh.write(data)
        return name

    def blob(self, name: str | None) -> bytes:
        if name is None:
            return b""
        with _open(os.path.join(self.root, name), "rb") as fh:
            return fh.read()

    def sight(self, state: dict[str, Any], path: str) -> str | None:
        """The file ``path`` names now, tracking it first if unseen (a file found there is taken as durable)."""
        entry = state["names"].get(path)
        if entry is not None:
            cur: str | None = entry[1]
            return cur
        if os.path.isfile(path):
            with _open(path, "rb") as fh:
                fid = self.new_file(state, fh.read())
            state["names"][path] = [fid, fid]
            return fid
        state["names"][path] = [None, None]
        return None


def _journal() -> Journal | None:
    root = point.durable_dir()
    return Journal(root) if root else None


def _abs(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.fspath(path))


def _fd_file(j: Journal, state: dict[str, Any], fd: int) -> str | None:
    known = _fds.get(fd)
    if known is not None and known[0] == j.root:
        return known[1]
    path = os.readlink(f"/proc/self/fd/{fd}")  # an fd opened without the layer
    fid = j.sight(state, path)
    if fid is not None:
        _fds[fd] = (j.root, fid, os.path.basename(path))
    return fid


def _name(fd: int) -> str:
    known = _fds.get(fd)
    if known is not None:
        return known[2]
    try:
        return os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return f"fd {fd}"


def _op(kind: str, detail: str, *, visible: bool = True, durable: bool = True) -> point.Op:
    return point.Op(kind, detail, visible, durable, where=point.where())


# --------------------------------------------------------------------------
# The calls


def open(path: str | os.PathLike[str], flags: int, mode: int = 0o666) -> int:  # noqa: A001 - mirrors os.open
    """``os.open``; creating a file (or truncating one) is an operation."""
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        return os.open(path, flags, mode)
    full = _abs(path)
    exists = os.path.exists(full)
    creating = bool(flags & os.O_CREAT) and not exists
    truncating = bool(flags & os.O_TRUNC) and exists and os.path.getsize(full) > 0
    op = _op("create" if creating else "truncate", os.path.basename(full)) if creating or truncating else None
    j = _journal()
    state = j.load() if j is not None else None
    if j is not None and state is not None and not creating:
        j.sight(state, full)
    if op is not None:
        ch.before(op)
    fd = os.open(full, flags, mode)
    if j is not None and state is not None:
        if creating:
            fid = j.new_file(state, None)
            entry = state["names"].setdefault(full, [None, None])
            entry[1] = fid
        else:
            fid = state["names"][full][1]
        j.save(state)
        _fds[fd] = (j.root, fid, os.path.basename(full))
    else:
        _fds[fd] = ("", "", os.path.basename(full))
    if op is not None:
        ch.after(op)
    return fd


def close(fd: int) -> None:
    """``os.close`` (not an operation)."""
    _fds.pop(fd, None)
    os.close(fd)


def write(fd: int, data: bytes) -> int:
    """``os.write`` (one call: it may write less than ``data``, as ``os.write`` may)."""
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        return os.write(fd, data)
    op = _op("write", f"{_name(fd)} {len(data)} bytes")
    ch.before(op)
    n = os.write(fd, data)
    if n != len(data):
        op.outcome = f"(short write: {n} bytes)"
    ch.after(op)
    return n


def fsync(fd: int) -> None:
    """``os.fsync``: the file's contents are durable."""
    _sync(fd, os.fsync, "fsync")


def fdatasync(fd: int) -> None:
    """``os.fdatasync``: the file's contents are durable (its size too, as the data needs it)."""
    _sync(fd, os.fdatasync, "fdatasync")


def _sync(fd: int, call: Any, kind: str) -> None:
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        call(fd)
        return
    j = _journal()
    op = _op(kind, _name(fd), visible=False, durable=j is not None)
    ch.before(op)
    call(fd)
    if j is not None:
        state = j.load()
        fid = _fd_file(j, state, fd)
        if fid is not None:
            with os.fdopen(os.open(f"/proc/self/fd/{fd}", os.O_RDONLY), "rb") as fh:
                data = fh.read()
            state["files"][fid] = j.put_blob(fid, data) if data else None
            j.save(state)
    ch.after(op)


def ftruncate(fd: int, length: int) -> None:
    """``os.ftruncate``."""
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        os.ftruncate(fd, length)
        return
    op = _op("truncate", f"{_name(fd)} to {length} bytes")
    ch.before(op)
    os.ftruncate(fd, length)
    ch.after(op)


def truncate(path: str | os.PathLike[str], length: int) -> None:
    """``os.truncate``."""
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        os.truncate(path, length)
        return
    full = _abs(path)
    _track_names(full)
    op = _op("truncate", f"{os.path.basename(full)} to {length} bytes")
    ch.before(op)
    os.truncate(full, length)
    ch.after(op)


def _track_names(*paths: str) -> None:
    j = _journal()
    if j is None:
        return
    state = j.load()
    for p in paths:
        j.sight(state, p)
    j.save(state)


def rename(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.rename``: durable once the directory is fsynced (:func:`fsync_dir`)."""
    _move(src, dst, os.rename)


def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace``: durable once the directory is fsynced (:func:`fsync_dir`)."""
    _move(src, dst, os.replace)


def _move(src: str | os.PathLike[str], dst: str | os.PathLike[str], call: Any) -> None:
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        call(src, dst)
        return
    a, b = _abs(src), _abs(dst)
    j = _journal()
    state = j.load() if j is not None else None
    if j is not None and state is not None:
        j.sight(state, a)
        j.sight(state, b)
    op = _op("rename", f"{os.path.basename(a)} -> {os.path.basename(b)}")
    ch.before(op)
    call(a, b)
    if j is not None and state is not None:
        state["names"][b][1] = state["names"][a][1]
        state["names"][a][1] = None
        j.save(state)
    ch.after(op)


def unlink(path: str | os.PathLike[str]) -> None:
    """``os.unlink``: durable once the directory is fsynced (:func:`fsync_dir`)."""
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        os.unlink(path)
        return
    full = _abs(path)
    j = _journal()
    state = j.load() if j is not None else None
    if j is not None and state is not None:
        j.sight(state, full)
    op = _op("unlink", os.path.basename(full))
    ch.before(op)
    os.unlink(full)
    if j is not None and state is not None:
        state["names"][full][1] = None
        j.save(state)
    ch.after(op)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a directory: the names in it (created, renamed, unlinked) are durable."""
    ch = point._channel if point._env_checked else point._current()
    full = _abs(path)
    fd = os.open(full, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if ch is None:
            os.fsync(fd)
            return
        j = _journal()
        state = j.load() if j is not None else None
        names = sorted(n for n in (state or {}).get("names", {}) if os.path.dirname(n) == full)
        # the directory's own name may hold a run number: the trace shows the tracked names in it
        op = _op("fsync-dir", ", ".join(os.path.basename(n) for n in names), visible=False, durable=j is not None)
        ch.before(op)
        os.fsync(fd)
        if j is not None and state is not None:
            for name in names:
                entry = state["names"][name]
                entry[0] = entry[1]
            j.save(state)
        ch.after(op)
    finally:
        os.close(fd)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The whole file; an operation (what it returns depends on who wrote before it)."""
    ch = point._channel if point._env_checked else point._current()
    if ch is None:
        with _open(path, "rb") as fh:
            return fh.read()
    full = _abs(path)
    op = _op("read", os.path.basename(full), durable=False)
    ch.before(op)
    try:
        with _open(full, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        op.outcome = f"raised {type(exc).__name__}"
        ch.after(op)
        raise
    op.outcome = f"({len(data)} bytes)"
    ch.after(op)
    return data

