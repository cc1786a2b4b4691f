"""Opt-in opcode-level preemption for unmodified code.

``self.n += 1`` compiles to LOAD_ATTR n ... STORE_ATTR n; the GIL (on
CPython >= 3.10) never switches threads between those two opcodes, so stress
tests cannot see the lost update.  With ``sys.settrace`` and
``frame.f_trace_opcodes`` racekit gets a callback before every opcode of the
traced modules and turns the ones that touch shared memory into switch points.

Only files named in ``trace_files`` are traced; every other frame returns
from the global trace function at once.  Per code object, a table maps
bytecode offsets to the :class:`~racekit.sched.access.Access` of that opcode,
so the per-opcode cost is two dict look-ups.

CPython detail that shapes this module: while a trace callback runs,
``tstate->tracing`` is non-zero and tracing is off for whatever runs, and
greenlet does not save that flag per greenlet.  A switch made straight from
the callback would leave every other logical thread untraced.  So the switch
goes through ``sys.call_tracing`` (which zeroes the flag for its duration)
and re-arms ``sys.settrace`` (which sets the frame's ``use_tracing``).
"""

from __future__ import annotations

import dis
import os
import sys
import types
from typing import TYPE_CHECKING, Any

from racekit.sched.access import OPAQUE, Access

if TYPE_CHECKING:
    from racekit.sched.runtime import Execution

_ATTR_OPS = {"LOAD_ATTR": False, "LOAD_METHOD": False, "STORE_ATTR": True, "DELETE_ATTR": True}
_ITEM_OPS = {"BINARY_SUBSCR": False, "STORE_SUBSCR": True, "DELETE_SUBSCR": True, "CONTAINS_OP": False}
_GLOBAL_WRITE_OPS = {"STORE_GLOBAL", "DELETE_GLOBAL"}

Table = dict[int, tuple[Access, int]]


def _is_data(value: Any) -> bool:
    return not (
        callable(value) or isinstance(value, types.ModuleType) or value is None
    )


def access_table(code: types.CodeType, f_globals: dict[str, Any]) -> Table:
    """Offsets of the shared-memory opcodes of one code object, with line numbers."""
    table: Table = {}
    line = code.co_firstlineno
    for ins in dis.get_instructions(code):
        if ins.starts_line is not None:
            line = ins.starts_line
        name = ins.opname
        acc: Access | None = None
        if name in _ATTR_OPS:
            acc = Access(("attr", ins.argval), _ATTR_OPS[name], f"{name} {ins.argval}")
        elif name in _ITEM_OPS:
            acc = Access(("item",), _ITEM_OPS[name], name)
        elif name in _GLOBAL_WRITE_OPS:
            acc = Access(("global", ins.argval), True, f"{name} {ins.argval}")
        elif name == "LOAD_GLOBAL":
            gname = ins.argval
            if gname in f_globals and _is_data(f_globals[gname]):
                acc = Access(("global", gname), False, f"LOAD_GLOBAL {gname}")
        elif name == "CALL":
            acc = OPAQUE
        if acc is not None:
            table[ins.offset] = (acc, line)
    return table


class OpcodeTracer:
    """Turns shared-memory opcodes of the traced files into switch points."""

    def __init__(self, execution: Execution, trace_files: frozenset[str]) -> None:
        self.ex = execution
        self.files = trace_files
        self.tables: dict[types.CodeType, Table | None] = {}
        self.in_callback = False
        self._prev: Any = None
        self._short: dict[str, str] = {}

    def install(self) -> None:
        self._prev = sys.gettrace()
        sys.settrace(self.global_trace)

    def uninstall(self) -> None:
        sys.settrace(self._prev)

    def pause_from_callback(self, parent: Any) -> None:
        sys.settrace(self.global_trace)
        parent.switch()

    def global_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        tables = self.tables
        if code in tables:
            if tables[code] is None:
                return None
        else:
            if code.co_filename not in self.files:
                tables[code] = None
                return None
            tables[code] = access_table(code, frame.f_globals)
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self.local_trace

    def local_trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event != "opcode":
            return self.local_trace
        table = self.tables[frame.f_code]
        assert table is not None
        entry = table.get(frame.f_lasti)
        if entry is None:
            return self.local_trace
        ex = self.ex
        if ex.current is None or not ex.controlled or ex.tearing_down:
            return self.local_trace
        where = None
        if ex.record_where:
            fn = frame.f_code.co_filename
            short = self._short.get(fn)
            if short is None:
                short = self._short[fn] = _relpath(fn)
            where = f"{short}:{entry[1]}"
        self.in_callback = True
        try:
            ex.switch_point(entry[0], where=where)
        finally:
            self.in_callback = False
        return self.local_trace


def _relpath(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
