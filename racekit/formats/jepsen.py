"""Parsers for recorded histories: Jepsen etcd logs, Porcupine kv logs, Jepsen EDN.

Each parser turns a file's events (one call or return per line/record) into a
:class:`~racekit.history.History`.  Positions are event indices, so "A
precedes B" is "A's return event comes before B's call event".  Ids are
given in call order.  The rules follow ``porcupine/FORMAT.md`` and
``knossos/FORMAT.md``; where upstream silently tolerates a malformed file (a
second call from a busy process, a return from an idle one) these parsers
raise :class:`~racekit.errors.HistoryFormatError` with the line instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racekit.errors import HistoryFormatError
from racekit.formats.edn import Keyword, read_records
from racekit.history import History, Operation, Status


@dataclass
class _Open:
    id: int
    process: Hashable
    name: str
    args: tuple[Any, ...]
    invoke: int
    line: int
    value: Any = None


class _Builder:
    """Pairs calls with returns per process, in file order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.open: dict[Hashable, _Open] = {}
        self.ops: list[Operation] = []
        self.position = 0
        self.next_id = 0

    def error(self, line: int, message: str) -> HistoryFormatError:
        return HistoryFormatError(f"{self.source}:{line}: {message}")

    def call(self, line: int, process: Hashable, name: str, args: tuple[Any, ...], value: Any = None) -> None:
        if process in self.open:
            prev = self.open[process]
            raise self.error(
                line, f"process {process!r} invokes {name} while its {prev.name} from line {prev.line} is still open"
            )
        self.position += 1
        self.open[process] = _Open(self.next_id, process, name, args, self.position, line, value)
        self.next_id += 1

    def pending(self, line: int, process: Hashable, name: str) -> _Open:
        op = self.open.get(process)
        if op is None:
            raise self.error(line, f"completion of {name} for process {process!r}, which has no open call")
        if op.name != name:
            raise self.error(line, f"completion of {name} for process {process!r}, whose open call is {op.name}")
        return op

    def close(
        self,
        line: int,
        process: Hashable,
        name: str,
        status: Status,
        result: Any = None,
        args: tuple[Any, ...] | None = None,
        returned: bool = True,
    ) -> None:
        """Complete the open call of ``process``; ``returned=False``: it never returned."""
        op = self.pending(line, process, name)
        del self.open[process]
        self.position += 1
        ret = self.position if returned else None
        if status == "info":
            result = None
        self.ops.append(Operation(op.id, process, name, op.args if args is None else args, op.invoke, ret, result, status))

    def history(self, open_args: Callable[[_Open], tuple[Any, ...]] | None = None) -> History:
        """The history; calls still open at the end become ``info`` (never returned)."""
        for op in self.open.values():
            args = op.args if open_args is None else open_args(op)
            self.ops.append(Operation(op.id, op.process, op.name, args, op.invoke, None, None, "info"))
        self.open.clear()
        return History(sorted(self.ops, key=lambda o: o.id))


# ---------------------------------------------------------------------------
# Jepsen etcd logs (Porcupine's test_data/jepsen)
# ---------------------------------------------------------------------------

_ETCD_LINE = re.compile(r"INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(\w+)\s+:(\w+)\s+(.*?)\s*")
_NUMBER = re.compile(r"\d+")
_PAIR = re.compile(r"\[(\d+)\s+(\d+)\]")


def parse_etcd_log(text: str, source: str = "<etcd log>") -> History:
    """A Jepsen etcd register log, for :class:`~racekit.models.RegisterSpec`.

    ``:fail :cas`` becomes an ``ok`` cas with result ``False`` (the compare
    failed: a definite outcome); ``:fail :read :timed-out`` an ``info`` read
    (unknown result); ``:info :write/:cas`` a crashed op that never returned.
    """
    b = _Builder(source)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _ETCD_LINE.fullmatch(line)
        if m is None:
            raise b.error(line_no, f"not a Jepsen etcd log line: {line[:60]!r}")
        process, kind, f, value = int(m[1]), m[2], m[3], m[4]
        if f not in ("read", "write", "cas"):
            raise b.error(line_no, f"unknown operation :{f} (expected :read, :write or :cas)")
        if kind == "invoke":
            b.call(line_no, process, f, _etcd_args(b, line_no, f, value))
        elif kind == "ok":
            if f == "read":
                result = None if value == "nil" else _etcd_int(b, line_no, value)
            else:
                _etcd_args(b, line_no, f, value)
                result = True if f == "cas" else None
            b.close(line_no, process, f, "ok", result)
        elif kind == "fail" and f == "cas":
            _etcd_args(b, line_no, f, value)
            b.close(line_no, process, f, "ok", False)
        elif kind == "fail" and f == "read" and value == ":timed-out":
            b.close(line_no, process, f, "info")
        elif kind == "info":
            b.close(line_no, process, f, "info", returned=False)
        else:
            raise b.error(line_no, f"unexpected :{kind} :{f} {value}")
    return b.history()


def _etcd_int(b: _Builder, line: int, text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise b.error(line, f"expected an integer, got {text!r}")
    return int(text)


def _etcd_args(b: _Builder, line: int, f: str, value: str) -> tuple[Any, ...]:
    if f == "read":
        if value != "nil":
            raise b.error(line, f"a read is invoked with nil, got {value!r}")
        return ()
    if f == "write":
        return (_etcd_int(b, line, value),)
    m = _PAIR.fullmatch(value)
    if m is None:
        raise b.error(line, f"a cas takes [old new], got {value!r}")
    return int(m[1]), int(m[2])


# ---------------------------------------------------------------------------
# Porcupine kv logs
# ---------------------------------------------------------------------------

_KV_LINE = re.compile(
    r'\{:process (\d+), :type :(invoke|ok), :f :(get|put|append), :key "(.*)", :value (nil|"(.*)")\}'
)


def parse_porcupine_kv(text: str, source: str = "<kv log>") -> History:
    """A Porcupine kv log, for :class:`~racekit.models.KVSpec`.

    ``get(key) -> value``, ``put(key, value)``, ``append(key, value)``.  The
    key of a return line is ignored (the open call's key counts).  A call
    still open at the end is ``info``; upstream would make it return ``""``.
    """
    b = _Builder(source)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _KV_LINE.fullmatch(line.strip())
        if m is None:
            raise b.error(line_no, f"not a Porcupine kv record: {line[:60]!r}")
        process, kind, f, key, value = int(m[1]), m[2], m[3], m[4], m[6]
        if kind == "invoke":
            if f == "get":
                b.call(line_no, process, f, (key,))
            elif value is None:
                raise b.error(line_no, f"{f} needs a string value")
            else:
                b.call(line_no, process, f, (key, value))
        else:
            if f == "get" and value is None:
                raise b.error(line_no, "a completed get needs a string value")
            b.close(line_no, process, f, "ok", value if f == "get" else None)
    return b.history()


# ---------------------------------------------------------------------------
# Jepsen / Knossos EDN histories
# ---------------------------------------------------------------------------

_TYPES = ("invoke", "ok", "fail", "info")


def parse_jepsen_edn(text: str, source: str = "<edn>") -> History:
    """A Jepsen history: a vector/list of op maps, or one map per form.

    Knossos's rules: ``:ok`` happened, with the ``:ok`` event's value;
    ``:fail`` did not happen (kept with status ``fail``: specs drop it);
    ``:info`` closing a call is indeterminate, with the call's value;
    ``:info`` with no open call (nemesis) is ignored; calls open at the end
    are indeterminate.  Values become args/results by :func:`jepsen_call`.
    """
    b = _Builder(source)
    for line, record in read_records(text, source):
        if not isinstance(record, dict):
            raise b.error(line, f"expected an operation map, got {record!r:.60}")
        missing = [k for k in ("type", "process", "f") if Keyword(k) not in record]
        if missing:
            raise b.error(line, "operation map lacks " + ", ".join(f":{k}" for k in missing))
        kind = _name(record[Keyword("type")])
        process = record[Keyword("process")]
        f = _name(record[Keyword("f")])
        value = record.get(Keyword("value"))
        if kind not in _TYPES:
            raise b.error(line, f":type must be one of :invoke :ok :fail :info, got {record[Keyword('type')]!r}")
        try:
            hash(process)
        except TypeError:
            raise b.error(line, f":process must be a number or keyword, got {process!r}") from None
        if kind == "invoke":
            b.call(line, process, f, (), value)
            continue
        if kind == "info" and process not in b.open:
            continue
        op = b.pending(line, process, f)
        status: Status = "ok" if kind == "ok" else "fail" if kind == "fail" else "info"
        args, result = _convert(b, line, f, op.value, value if kind == "ok" else op.value, status)
        b.close(line, process, f, status, result, args, returned=status != "info")
    return b.history(lambda op: _convert(b, op.line, op.name, op.value, op.value, "info")[0])


def _convert(
    b: _Builder, line: int, f: str, invoke_value: Any, effective: Any, status: Status
) -> tuple[tuple[Any, ...], Any]:
    try:
        return jepsen_call(f, invoke_value, effective, status)
    except ValueError as exc:
        raise b.error(line, str(exc)) from None


def _name(value: Any) -> str:
    return value.name if isinstance(value, Keyword) else str(value)


def jepsen_call(f: str, invoke_value: Any, effective: Any, status: Status) -> tuple[tuple[Any, ...], Any]:
    """Args and result of a Jepsen op from its call value and effective value.

    * ``read``: no args; the result is the value read.
    * ``cas``: args ``(old, new)`` from the 2-vector; the result is ``True``
      for ``:ok`` and ``False`` for ``:fail`` (what a spec that keeps failed
      ops, like the etcd register, compares with).
    * ``txn``: args ``(txn,)``; the result is the completed txn.
    * other ops whose call carries no value (``dequeue``, ``acquire``): no
      args; the completion's value, if any, is the result.
    * the rest (``write``, ``add``, ``enqueue``...): args ``(value,)``.
    """
    done = status != "info"
    if f == "read":
        return (), effective if done else None
    if f == "cas":
        if not (isinstance(effective, tuple) and len(effective) == 2):
            raise ValueError(f"a cas value must be [old new], got {effective!r}")
        return (effective[0], effective[1]), (status == "ok") if done else None
    if f == "txn":
        return (effective,), effective if done else None
    if invoke_value is None:
        return (), effective if done else None
    return (effective,), None


def read_text(path: str | Path) -> str:
    """A history file's text (a UTF-8 byte-order mark is dropped), with a one-line error for unreadable files."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise HistoryFormatError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise HistoryFormatError(f"{p}: is a directory, not a history file") from None
    except UnicodeDecodeError as exc:
        raise HistoryFormatError(f"{p}: not a text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise HistoryFormatError(f"{p}: cannot read: {exc.strerror}") from None


PARSERS: dict[str, Callable[[str, str], History]] = {
    "jepsen-etcd": parse_etcd_log,
    "porcupine-kv": parse_porcupine_kv,
    "jepsen-edn": parse_jepsen_edn,
}


def load(path: str | Path, fmt: str) -> History:
    """Parse the history file ``path`` in format ``fmt`` (a key of ``PARSERS``)."""
    if fmt not in PARSERS:
        raise HistoryFormatError(f"unknown history format {fmt!r}; known: {', '.join(PARSERS)}")
    return PARSERS[fmt](read_text(path), str(path))


def parse(text: str, fmt: str, source: str = "<history>") -> History:
    """Parse history text in format ``fmt`` (a byte-order mark is dropped)."""
    if fmt not in PARSERS:
        raise HistoryFormatError(f"unknown history format {fmt!r}; known: {', '.join(PARSERS)}")
    return PARSERS[fmt](text.removeprefix("\ufeff"), source)


def sniff(text: str) -> str | None:
    """The format of history text from its first record, or None when it is not clear."""
    for line in text.removeprefix("\ufeff").splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if _ETCD_LINE.fullmatch(line):
            return "jepsen-etcd"
        if _KV_LINE.fullmatch(line):
            return "porcupine-kv"
        if line[0] in "[{(":
            return "jepsen-edn"
        return None
    return None
