"""Anomaly histories kept as files: ``<counterexamples>/txn/<database>--<anomalies>.edn``.

What a database did wrong (a shrunk list-append history showing write skew
under PostgreSQL REPEATABLE READ, say) is worth keeping beside the
catalogue's counterexamples: the gallery draws each one's cycle, and
``racekit txncheck FILE`` checks it again.  A file is data only: EDN op maps,
one per line, exactly what ``txncheck`` reads, after two comment lines
saying where it came from.  No ``:time`` fields and a name made of the
database and the anomaly types, so a re-run that finds the same history
writes the same bytes to the same file.

Reading goes through the same parser and checker as ``txncheck``; anything
wrong with a file is one :class:`~racekit.errors.RacekitError` line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from racekit.errors import HistoryFormatError
from racekit.store import atomic_write
from racekit.txn.check import TxnResult, check
from racekit.txn.history import TxnHistory, Workload, parse

FOLDER = "txn"
MAX_BYTES = 5_000_000  # a gallery build must not stall on a huge file
OPTIONS: Mapping[str, Any] = {"consistency-models": ["strict-serializable"]}


def file_name(database: str, anomalies: Iterable[str]) -> str:
    """``postgres-repeatable-read--G2-item.edn``: the database, then the anomaly types, sorted."""
    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "x"

    kinds = "+".join(slug(a) for a in sorted(set(anomalies))) or "none"
    return f"{slug(database).lower()}--{kinds}.edn"


def dumps(history: TxnHistory, database: str, anomalies: Iterable[str]) -> str:
    kinds = ", ".join(sorted(set(anomalies))) or "none"
    head = (f"; {database}: {kinds} (a history racekit found and shrank; {history.workload})\n"
            f"; check it again: racekit txncheck FILE\n")
    return head + "".join(dataclasses.replace(op, time=None).to_edn() + "\n" for op in history.ops)


def write(folder: Path, database: str, history: TxnHistory, anomalies: Iterable[str]) -> Path:
    """Write ``history`` as ``folder/<file_name>``, atomically; returns the path."""
    kinds = sorted(set(anomalies))
    path = Path(folder) / file_name(database, kinds)
    atomic_write(path, dumps(history, database, kinds))
    return path


def guess_workload(text: str) -> Workload | None:
    """list-append when the history appends, rw-register when it writes; None when it does neither."""
    has_append, has_w = "[:append " in text, "[:w " in text
    if has_append and not has_w:
        return "list-append"
    if has_w and not has_append:
        return "rw-register"
    return None


def read(path: Path) -> tuple[TxnHistory, TxnResult]:
    """Parse and check one saved history (the checks ``txncheck`` makes by default)."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise HistoryFormatError(f"{path}: {size} bytes, more than the {MAX_BYTES} a gallery page reads")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise HistoryFormatError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise HistoryFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    workload = guess_workload(text)
    if workload is None:
        raise HistoryFormatError(f"{path}: neither :append nor :w micro-ops, so not a list-append or rw-register history")
    history = parse(text, workload, str(path))
    if not history.ops:
        raise HistoryFormatError(f"{path}: holds no operations")
    return history, check(history, OPTIONS)


def saved(root: Path) -> list[Path]:
    """The saved histories under a counterexample folder, in a stable order."""
    folder = Path(root) / FOLDER
    return sorted(folder.glob("*.edn")) if folder.is_dir() else []
