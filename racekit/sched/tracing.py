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

_ATTR_READ = {"LOAD_ATTR", "LOAD_METHOD"}
_ATTR_WRITE = {"STORE_ATTR", "DELETE_ATTR"}
_ITEM_OPS = {"BINARY_SUBSCR": False, "STORE_SUBSCR": True, "DELETE_SUBSCR": True, "CONTAINS_OP": False}
_GLOBAL_WRITE = {"STORE_GLOBAL", "DELETE_GLOBAL"}

# Method names of builtin containers, by what a call does to the container.
MUTATORS = frozenset(
    {
        "append", "appendleft", "extend", "extendleft", "insert", "pop", "popleft", "popitem",
        "remove", "clear", "update", "setdefault", "add", "discard", "sort", "reverse", "rotate",
        "difference_update", "intersection_update", "__next__", "symmetric_difference_update",
        "heappush", "heappop", "heapreplace", "heappushpop", "write", "writelines", "__setitem__",
        "__delitem__", "__iadd__",
    }
)
READERS = frozenset(
    {
        "get", "keys", "values", "items", "copy", "count", "index", "__contains__", "__getitem__",
        "__len__", "__iter__", "issubset", "issuperset", "isdisjoint", "union", "intersection",
        "difference", "symmetric_difference",
    }
)
# Builtins that read a container argument, and builtins that touch no shared state.
_BUILTIN_READERS = frozenset(
    {"len", "sum", "sorted", "list", "tuple", "set", "frozenset", "dict", "min",
     "max", "any", "all", "iter", "reversed", "enumerate", "zip", "map", "filter"}
)
# ``next(it)`` advances the iterator: a write.
_BUILTIN_MUTATORS = frozenset({"next"})
_BUILTIN_PURE = frozenset(
    {
        "range", "isinstance", "issubclass", "int", "float", "str", "bool", "bytes", "abs",
        "round", "divmod", "pow", "repr", "hash", "id", "print", "format", "chr", "ord", "type",
        "object", "super", "callable", "hex", "oct", "bin", "ValueError", "RuntimeError",
        "KeyError", "IndexError", "AssertionError", "TypeError", "Exception", "StopIteration",
    }
)

Table = dict[int, tuple[Access, int]]

# Access key of a call whose callee is a local variable, classified at run time.
LOCAL_CALL = "local-call"


def written_names(path: str) -> tuple[frozenset[str], frozenset[str]]:
    """Attribute and global names that any code in ``path`` stores or deletes.

    A load of a name nobody writes cannot race, so it need not be a switch
    point: this keeps ``self.lock.acquire()`` from costing three steps.
    """
    attrs: set[str] = set()
    globs: set[str] = set()
    try:
        with open(path, encoding="utf-8") as fh:
            code = compile(fh.read(), path, "exec")
    except (OSError, SyntaxError, ValueError):
        return frozenset(), frozenset()
    todo = [code]
    while todo:
        c = todo.pop()
        for ins in dis.get_instructions(c):
            if ins.opname in _ATTR_WRITE:
                attrs.add(ins.argval)
            elif ins.opname in _GLOBAL_WRITE:
                globs.add(ins.argval)
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return frozenset(attrs), frozenset(globs)


def _callee_producers(
    instructions: list[dis.Instruction],
) -> tuple[dict[int, dis.Instruction | None], dict[int, dis.Instruction | None]]:
    """For each CALL, the instruction that loaded the callable (None if unknown).

    A forward abstract interpretation of the value stack that tracks, per
    slot, the instruction that pushed it; jump targets restore the stack
    recorded at the jump.  Good enough for call expressions; anything it
    cannot follow is reported as unknown (and treated as an opaque call).
    Also returns, per LOAD_ATTR, the instruction that pushed its receiver, so
    ``module.function()`` can be resolved.
    """
    stack: list[dis.Instruction | None] = []
    at_target: dict[int, list[dis.Instruction | None]] = {}
    out: dict[int, dis.Instruction | None] = {}
    receivers: dict[int, dis.Instruction | None] = {}
    pending_call: dis.Instruction | None = None
    falls_through = True
    for ins in instructions:
        if ins.is_jump_target:
            if not falls_through and ins.offset in at_target:
                stack = list(at_target[ins.offset])
            elif not falls_through:
                stack = []
        falls_through = True
        name = ins.opname
        if name == "PRECALL":  # 3.11: PRECALL argc; CALL argc - the stack is intact here
            argc = ins.arg or 0
            producer: dis.Instruction | None = None
            if len(stack) >= argc + 2:
                for cand in (stack[-argc - 2], stack[-argc - 1]):
                    if cand is not None and cand.opname != "PUSH_NULL":
                        producer = cand
                        break
            pending_call = producer
        if name == "CALL":
            out[ins.offset] = pending_call
            pending_call = None
        try:
            effect = dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None, jump=False)
        except ValueError:
            effect = 0
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            try:
                jeffect = dis.stack_effect(ins.opcode, ins.arg, jump=True)
            except ValueError:
                jeffect = effect
            target = list(stack)
            if jeffect < 0:
                del target[len(target) + jeffect:]
            else:
                target.extend([None] * jeffect)
            if isinstance(ins.argval, int):
                at_target.setdefault(ins.argval, target)
        if name in ("LOAD_GLOBAL",) and ins.arg is not None and ins.arg & 1:
            stack.extend([None, ins])  # NULL, then the global
        elif name == "LOAD_METHOD":
            if stack:
                stack.pop()
            stack.extend([ins, ins])
        elif name == "LOAD_ATTR":
            receivers[ins.offset] = stack.pop() if stack else None
            stack.append(ins)
        elif name.startswith("LOAD_") or name == "PUSH_NULL":
            stack.append(ins)
        elif name == "BEFORE_WITH":
            # pops the manager, pushes its bound __exit__ and __enter__'s result;
            # the with block's exit is a CALL of that __exit__
            if stack:
                stack.pop()
            stack.extend([ins, None])
        elif name == "SWAP" and ins.arg and len(stack) >= ins.arg:
            stack[-1], stack[-ins.arg] = stack[-ins.arg], stack[-1]
        elif name == "COPY" and ins.arg and len(stack) >= ins.arg:
            stack.append(stack[-ins.arg])
        elif effect < 0:
            del stack[max(0, len(stack) + effect):]
            if stack and name in ("PRECALL", "CALL", "BINARY_OP", "COMPARE_OP", "BINARY_SUBSCR", "IS_OP", "CONTAINS_OP"):
                stack[-1] = None
        elif effect > 0:
            stack.extend([None] * effect)
        elif stack and name not in ("NOP", "RESUME", "CACHE", "PRECALL", "KW_NAMES", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL"):
            stack[-1] = None
        if name in ("RETURN_VALUE", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE"):
            falls_through = False
    return out, receivers


class AccessTables:
    """Builds and caches the per-code-object opcode tables for the traced files."""

    def __init__(self, trace_files: frozenset[str]) -> None:
        self.files = trace_files
        self.tables: dict[types.CodeType, Table | None] = {}
        attrs: set[str] = set()
        globs: set[str] = set()
        for f in sorted(trace_files):
            a, g = written_names(f)
            attrs |= a
            globs |= g
        self.written_attrs = frozenset(attrs)
        self.written_globals = frozenset(globs)

    def classify_call(
        self,
        producer: dis.Instruction | None,
        f_globals: dict[str, Any],
        f_builtins: dict[str, Any],
        receiver: dis.Instruction | None = None,
    ) -> Access | None:
        if producer is None:
            return OPAQUE
        name = producer.opname
        argval = producer.argval
        if name == "BEFORE_WITH":
            return None  # leaving a with block: __exit__ is a method like any other
        if name in ("LOAD_METHOD", "LOAD_ATTR"):
            if argval in MUTATORS:
                return Access(("item",), True, f"call .{argval}()")
            if argval in READERS:
                return Access(("item",), False, f"call .{argval}()")
            module = None
            if receiver is not None and receiver.opname == "LOAD_GLOBAL":
                module = f_globals.get(receiver.argval)
            if isinstance(module, types.ModuleType):
                # module.function(): classify the function itself
                return self._classify_value(getattr(module, argval, None))
            return None  # a method of traced code or a racekit primitive: its own switch points
        if name in ("LOAD_GLOBAL", "LOAD_NAME"):
            if argval in f_globals:
                value = f_globals[argval]
            elif argval in f_builtins:
                if argval in _BUILTIN_PURE:
                    return None
                if argval in _BUILTIN_READERS:
                    return Access(("item",), False, f"call {argval}()")
                if argval in _BUILTIN_MUTATORS:
                    return Access(("item",), True, f"call {argval}()")
                return OPAQUE
            else:
                return OPAQUE
            return self._classify_value(value)
        if name in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE"):
            # a local or closure variable: resolved when the call is reached
            return Access((LOCAL_CALL, argval), True, "call")
        return OPAQUE

    def _classify_value(self, value: Any) -> Access | None:
        """A called object known statically: traced or racekit code has its own
        switch points; anything else is opaque."""
        if value is None:
            return OPAQUE
        if isinstance(value, types.BuiltinMethodType) and not isinstance(value.__self__, types.ModuleType):
            if value.__name__ in MUTATORS:
                return Access(("item",), True, f"call .{value.__name__}()")
            if value.__name__ in READERS:
                return Access(("item",), False, f"call .{value.__name__}()")
            return OPAQUE
        code = getattr(value, "__code__", None)
        if code is None and isinstance(value, type):
            init = getattr(value, "__init__", None)
            code = getattr(init, "__code__", None)
            if getattr(value, "__module__", "").startswith("racekit"):
                return None
        if code is not None and (code.co_filename in self.files or code.co_filename.startswith(_RACEKIT_DIR)):
            return None
        return OPAQUE

    def build(self, code: types.CodeType, f_globals: dict[str, Any], f_builtins: dict[str, Any]) -> Table:
        """Offsets of the switch-point opcodes of one code object, with their lines."""
        table: Table = {}
        instructions = list(dis.get_instructions(code))
        callees, receivers = _callee_producers(instructions)
        line = code.co_firstlineno
        for ins in instructions:
            if ins.starts_line is not None:
                line = ins.starts_line
            name = ins.opname
            acc: Access | None = None
            if name in _ATTR_READ:
                if ins.argval in self.written_attrs:
                    acc = Access(("attr", ins.argval), False, f"read .{ins.argval}")
            elif name in _ATTR_WRITE:
                acc = Access(("attr", ins.argval), True, f"write .{ins.argval}")
            elif name in _ITEM_OPS:
                acc = Access(("item",), _ITEM_OPS[name], name.lower())
            elif name in _GLOBAL_WRITE:
                acc = Access(("global", ins.argval), True, f"write global {ins.argval}")
            elif name == "LOAD_GLOBAL":
                if ins.argval in self.written_globals:
                    acc = Access(("global", ins.argval), False, f"read global {ins.argval}")
            elif name == "CALL":
                producer = callees.get(ins.offset)
                receiver = receivers.get(producer.offset) if producer is not None else None
                acc = self.classify_call(producer, f_globals, f_builtins, receiver)
            if acc is not None:
                table[ins.offset] = (acc, line)
        return table


_BUILDERS: dict[frozenset[str], AccessTables] = {}


def _builder_for(trace_files: frozenset[str]) -> AccessTables:
    """One table cache per set of traced files, shared by every execution."""
    b = _BUILDERS.get(trace_files)
    if b is None:
        if len(_BUILDERS) > 64:
            _BUILDERS.clear()
        b = _BUILDERS[trace_files] = AccessTables(trace_files)
    return b


_RACEKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class OpcodeTracer:
    """Turns shared-memory opcodes of the traced files into switch points."""

    def __init__(self, execution: Execution, trace_files: frozenset[str]) -> None:
        self.ex = execution
        self.files = trace_files
        self.builder = _builder_for(trace_files)
        self.tables = self.builder.tables
        self.in_callback = False
        self._prev: Any = None
        self._short: dict[str, str] = {}

    def install(self) -> None:
        """Arm the tracer; the execution turns tracing on while a thread runs."""
        self._prev = sys.gettrace()

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
            tables[code] = self.builder.build(code, frame.f_globals, frame.f_builtins)
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
        access = entry[0]
        if access.key[0] == LOCAL_CALL:
            # the callee is in a local variable: look at it now
            resolved = self.builder._classify_value(frame.f_locals.get(str(access.key[1])))
            if resolved is None:
                return self.local_trace
            access = resolved
        where = None
        if ex.record_where:
            fn = frame.f_code.co_filename
            short = self._short.get(fn)
            if short is None:
                short = self._short[fn] = _relpath(fn)
            where = f"{short}:{entry[1]}"
        self.in_callback = True
        try:
            ex.switch_point(access, where=where)
        finally:
            self.in_callback = False
        return self.local_trace


def _relpath(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
