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

import array
import collections
import dis
import linecache
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from racekit.sched.access import ITEM_KEY, OPAQUE, Access
from racekit.sched.runtime import HarnessAbort

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
# Modules whose C functions touch no shared state.
_PURE_MODULES = frozenset({"math", "cmath"})
# Readers whose result is a view, iterator or copy of the container they read
# (not one of its elements): reading the result reads that container again.
_VIEW_METHODS = frozenset({"items", "keys", "values", "copy", "__iter__"})
_VIEW_BUILTINS = frozenset(
    {"sorted", "list", "tuple", "set", "frozenset", "dict", "reversed", "enumerate", "zip", "map", "filter", "iter"}
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

Table = dict[int, tuple[Access, int, "Refine | None"]]

# Access key of a call whose callee is a local variable, classified at run time.
LOCAL_CALL = "local-call"


_INIT_METHODS = frozenset({"__init__", "__post_init__"})


def _code_tree(code: types.CodeType) -> Iterator[types.CodeType]:
    todo = [code]
    while todo:
        c = todo.pop()
        yield c
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))


def module_code(path: str, module_globals: dict[str, Any] | None = None) -> types.CodeType | None:
    """The compiled source of ``path``: a file, a notebook cell, anything linecache knows."""
    lines = linecache.getlines(path, module_globals)
    if not lines:
        return None
    try:
        return compile("".join(lines), path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None


@dataclass(frozen=True)
class WrittenNames:
    """Which attribute and global names traced code can store.

    ``attrs``: stored somewhere other than on ``self`` in ``__init__``:
    shared, mutable state.  ``init_only``: stored only while an object is
    built (``self.x = ...`` in ``__init__``/``__post_init__``), so read-only
    once the object is shared.  Sharing an object is itself a traced store or
    container write, which orders the constructor's stores before any other
    thread's loads: those loads cannot race with anything.
    """

    attrs: frozenset[str] = frozenset()
    init_only: frozenset[str] = frozenset()
    globals: frozenset[str] = frozenset()

    def __or__(self, other: WrittenNames) -> WrittenNames:
        attrs = self.attrs | other.attrs
        return WrittenNames(attrs, (self.init_only | other.init_only) - attrs, self.globals | other.globals)


def written_names_of(codes: Iterable[types.CodeType]) -> WrittenNames:
    """Attribute and global names that the given code (and code nested in it) stores or deletes."""
    attrs: set[str] = set()
    init: set[str] = set()
    globs: set[str] = set()
    for top in codes:
        for c in _code_tree(top):
            in_init = c.co_name in _INIT_METHODS and c.co_argcount > 0
            prev: dis.Instruction | None = None
            for ins in dis.get_instructions(c):
                if ins.opname in _ATTR_WRITE:
                    on_self = in_init and prev is not None and prev.opname == "LOAD_FAST" and prev.arg == 0
                    (init if on_self else attrs).add(ins.argval)
                elif ins.opname in _GLOBAL_WRITE:
                    globs.add(ins.argval)
                prev = ins
    return WrittenNames(frozenset(attrs), frozenset(init - attrs), frozenset(globs))


def written_names(path: str) -> tuple[frozenset[str], frozenset[str]]:
    """Attribute and global names that any code in ``path`` stores or deletes
    (attributes stored only on ``self`` in ``__init__`` excluded).

    A load of a name nobody writes cannot race, so it need not be a switch
    point: this keeps ``self.lock.acquire()`` from costing three steps.
    """
    code = module_code(path)
    names = written_names_of([code]) if code is not None else WrittenNames()
    return names.attrs, names.globals


# Consumers of a loaded value that make the load's own switch point useless:
# the consumer is a switch point itself (subscript, ``in``, a classified
# call) or only looks the value up as a receiver (``x.attr``, ``x.m()``,
# ``with x:``).  Any other consumer (truth test, iteration, comparison,
# return, a store into a local ...) may read a container's contents with no
# switch point of its own, so the load must stay one.
_RECEIVER_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR", "BEFORE_WITH"})


@dataclass
class CodeFacts:
    """What a small abstract interpretation of the value stack tells about one code object."""

    # CALL / CALL_FUNCTION_EX offset -> the instruction that loaded the callable
    callees: dict[int, dis.Instruction | None] = field(default_factory=dict)
    # LOAD_ATTR / LOAD_METHOD / STORE_ATTR offset -> the instruction that pushed its receiver
    receivers: dict[int, dis.Instruction | None] = field(default_factory=dict)
    # producer offset -> how the value it pushed was used: "safe", "unsafe", or a call's offset
    uses: dict[int, list[str | int]] = field(default_factory=dict)
    # subscript / ``in`` offset -> the instruction that pushed the container
    containers: dict[int, dis.Instruction | None] = field(default_factory=dict)
    # CALL offset -> the instructions that pushed its positional arguments (None: has keywords)
    args: dict[int, list[dis.Instruction | None] | None] = field(default_factory=dict)

    def use(self, producer: dis.Instruction | None, how: str | int) -> None:
        if producer is not None:
            self.uses.setdefault(producer.offset, []).append(how)


_NO_EFFECT = frozenset({"NOP", "RESUME", "CACHE", "KW_NAMES", "EXTENDED_ARG", "COPY_FREE_VARS", "MAKE_CELL", "SWAP", "COPY"})
_ENDS_BLOCK = frozenset(
    {"RETURN_VALUE", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE"}
)


_POP1 = frozenset(
    {
        "POP_TOP", "STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL", "RETURN_VALUE",
        "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_BACKWARD_IF_FALSE",
        "POP_JUMP_BACKWARD_IF_TRUE", "POP_JUMP_FORWARD_IF_NONE", "POP_JUMP_FORWARD_IF_NOT_NONE",
        "POP_JUMP_BACKWARD_IF_NONE", "POP_JUMP_BACKWARD_IF_NOT_NONE", "JUMP_IF_FALSE_OR_POP",
        "JUMP_IF_TRUE_OR_POP", "LIST_APPEND", "SET_ADD", "LIST_EXTEND", "SET_UPDATE", "DICT_MERGE",
        "DICT_UPDATE", "PRINT_EXPR", "POP_EXCEPT",
    }
)
_ONE_TO_ONE = frozenset({"UNARY_POSITIVE", "UNARY_NEGATIVE", "UNARY_NOT", "UNARY_INVERT", "GET_ITER", "GET_LEN"})
_TWO_TO_ONE = frozenset({"BINARY_OP", "COMPARE_OP", "IS_OP", "IMPORT_NAME"})


def _pops_pushes(ins: dis.Instruction) -> tuple[int, int]:
    """How many values ``ins`` pops and pushes (on its fall-through path).

    Exact for the common instructions; for the rest, derived from the net
    stack effect as "pops one more than it must, pushes one more": a slot
    wrongly seen as popped only makes a load count as unsafely used.
    """
    name = ins.opname
    arg = ins.arg or 0
    if name in _POP1:
        return 1, 0
    if name in _ONE_TO_ONE:
        return 1, 1
    if name in _TWO_TO_ONE:
        return 2, 1
    if name in ("BUILD_LIST", "BUILD_TUPLE", "BUILD_SET", "BUILD_STRING"):
        return arg, 1
    if name == "BUILD_MAP":
        return 2 * arg, 1
    if name == "BUILD_CONST_KEY_MAP":
        return arg + 1, 1
    if name == "MAP_ADD":
        return 2, 0
    if name == "FOR_ITER":
        return 0, 1
    if name == "UNPACK_SEQUENCE":
        return 1, arg
    try:
        effect = dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None, jump=False)
    except ValueError:
        effect = 0
    return (1 - effect, 1) if effect <= 0 else (1, effect + 1)


def _merge(
    a: list[dis.Instruction | None], b: list[dis.Instruction | None], facts: CodeFacts
) -> list[dis.Instruction | None]:
    """Where two paths meet, a slot keeps its producer only if both agree;
    a value dropped here counts as used unsafely (its use is not followed)."""
    if len(a) == len(b):
        out = [x if x is y else None for x, y in zip(a, b, strict=True)]
    else:
        out = [None] * min(len(a), len(b))
    for side in (a, b):
        for i, x in enumerate(side):
            if x is not None and (i >= len(out) or x is not out[i]):
                facts.use(x, "unsafe")
    return out


Stack = list["dis.Instruction | None"]


def analyse(instructions: list[dis.Instruction]) -> CodeFacts:
    """Follow which instruction pushed each value-stack slot.

    Jump targets restore the stack recorded at the jump (slots where paths
    disagree are unknown); where the stack is unknown (exception handlers)
    it restarts empty, and a value whose use is lost that way counts as
    unsafely used.  Loop heads need what the back edge brings, so the pass
    repeats until the stacks at loop heads stop changing.  Good enough for
    call expressions and attribute chains; anything it cannot follow is
    reported as unknown (an opaque call, or a load that stays a switch point).
    """
    back: dict[int, Stack] | None = {}
    for _ in range(6):
        facts, seen = _analyse_pass(instructions, back)
        if seen == back:
            return facts
        back = seen
    return _analyse_pass(instructions, None)[0]


def _analyse_pass(instructions: list[dis.Instruction], back: dict[int, Stack] | None) -> tuple[CodeFacts, dict[int, Stack]]:
    """One pass of :func:`analyse`; ``back``: the stack assumed at each loop
    head (None: nothing known there).  Returns the facts and, per loop head,
    the stack its entry and back edges actually agree on."""
    facts = CodeFacts()
    seen: dict[int, Stack] = {}
    stack: list[dis.Instruction | None] = []
    at_target: dict[int, list[dis.Instruction | None]] = {}
    precall: int | None = None
    kw_names = False
    falls_through = True

    def pop(n: int, how: str | int = "unsafe") -> None:
        for _ in range(min(n, len(stack))):
            facts.use(stack.pop(), how)

    loop_heads = {
        ins.argval
        for ins in instructions
        if (ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs) and isinstance(ins.argval, int) and ins.argval <= ins.offset
    }
    for ins in instructions:
        if ins.is_jump_target:
            if ins.offset in loop_heads:
                known = stack if falls_through else at_target.get(ins.offset, [])
                assumed = None if back is None else back.get(ins.offset, known)
                stack = _merge(known, [None] * len(known) if assumed is None else assumed, facts)
                seen[ins.offset] = list(stack)
            elif not falls_through:
                stack = list(at_target.get(ins.offset, []))
            else:
                stack = _merge(stack, at_target.get(ins.offset, stack), facts)
        falls_through = True
        name = ins.opname
        arg = ins.arg or 0
        if name == "KW_NAMES":
            kw_names = True
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            try:
                jeffect = dis.stack_effect(ins.opcode, ins.arg, jump=True)
            except ValueError:
                jeffect = 0
            target = list(stack)
            if jeffect < 0:
                del target[len(target) + jeffect:]
            else:
                target.extend([None] * jeffect)
            if isinstance(ins.argval, int):
                if ins.argval in seen and ins.argval <= ins.offset:  # a back edge
                    seen[ins.argval] = _merge(seen[ins.argval], target, CodeFacts())
                before = at_target.get(ins.argval)
                at_target[ins.argval] = target if before is None else _merge(before, target, facts)
        if name == "PRECALL":  # 3.11: [NULL|callable, callable|self, args...]; CALL follows
            producer: dis.Instruction | None = None
            if len(stack) >= arg + 2:
                for cand in (stack[-arg - 2], stack[-arg - 1]):
                    if cand is not None and cand.opname != "PUSH_NULL":
                        producer = cand
                        break
            precall = ins.offset
            facts.callees[-1] = producer  # parked until the CALL
            facts.args[-1] = None if kw_names else (list(stack[len(stack) - arg:]) if arg else [])
            kw_names = False
            pop(arg, ins.offset)  # the arguments: read by the call
            pop(2, "safe")  # the callable is only called
            stack.extend([None, None])
        elif name == "CALL":
            if precall is not None:
                facts.callees[ins.offset] = facts.callees.pop(-1, None)
                facts.args[ins.offset] = facts.args.pop(-1, None)
                # the args were used by this call: resolve the PRECALL marker
                for uses in facts.uses.values():
                    for k, how in enumerate(uses):
                        if how == precall:
                            uses[k] = ins.offset
            precall = None
            pop(2)
            stack.append(ins)  # the call's result
        elif name == "CALL_FUNCTION_EX":  # [NULL, callable, args, (kwargs)]
            n = 3 + (arg & 1)
            facts.callees[ins.offset] = stack[-n + 1] if len(stack) >= n else None
            pop(n, ins.offset)
            stack.append(ins)
        elif name == "LOAD_GLOBAL":
            if arg & 1:
                stack.append(None)  # NULL
            stack.append(ins)
        elif name in ("LOAD_ATTR", "LOAD_METHOD"):
            receiver = stack[-1] if stack else None
            facts.receivers[ins.offset] = receiver
            pop(1, "safe")
            stack.extend([ins, ins] if name == "LOAD_METHOD" else [ins])
        elif name in ("STORE_ATTR", "DELETE_ATTR"):
            facts.receivers[ins.offset] = stack[-1] if stack else None
            pop(1, "safe")
            if name == "STORE_ATTR":
                pop(1)
        elif name in ("BINARY_SUBSCR", "DELETE_SUBSCR", "STORE_SUBSCR"):
            facts.containers[ins.offset] = stack[-2] if len(stack) >= 2 else None
            pop(1)  # key
            pop(1, "safe")  # container: the subscript is a switch point
            if name == "STORE_SUBSCR":
                pop(1)
            if name == "BINARY_SUBSCR":
                stack.append(None)
        elif name == "CONTAINS_OP":
            facts.containers[ins.offset] = stack[-1] if stack else None
            pop(1, "safe")  # container
            pop(1)
            stack.append(None)
        elif name == "BEFORE_WITH":
            facts.containers[ins.offset] = stack[-1] if stack else None
            pop(1, "safe")
            stack.extend([ins, None])  # the bound __exit__, then __enter__'s result
        elif name == "SWAP" and arg and len(stack) >= arg:
            stack[-1], stack[-arg] = stack[-arg], stack[-1]
        elif name == "COPY" and arg and len(stack) >= arg:
            stack.append(stack[-arg])
        elif name.startswith("LOAD_") or name == "PUSH_NULL":
            stack.append(ins)
        elif name not in _NO_EFFECT:
            pops, pushes = _pops_pushes(ins)
            pop(pops)
            stack.extend([None] * pushes)
        if name in _ENDS_BLOCK:
            falls_through = False
    return facts, seen


# Code objects of traced "files" that have no source to read (``exec`` of a
# string, ``<stdin>``): registered by racekit.sched.scope from the functions
# it was given, so their written names can still be computed.
_PSEUDO_CODE: dict[str, tuple[types.CodeType, ...]] = {}
# ... and every code object nested in them: of a file with no source only
# these are traced (``"<string>"`` is also the file of every dataclass's
# generated ``__init__``).
_PSEUDO_TREE: dict[str, set[types.CodeType]] = {}


def register_code(filename: str, codes: Iterable[types.CodeType]) -> None:
    """Remember code objects of a traced file that cannot be read back from source."""
    known = _PSEUDO_CODE.get(filename, ())
    merged = known + tuple(c for c in codes if c not in known)
    if merged != known:
        _PSEUDO_CODE[filename] = merged
        tree = _PSEUDO_TREE.setdefault(filename, set())
        for c in merged:
            tree.update(_code_tree(c))
        _BUILDERS.clear()


_OBJECT_INIT: Any = object.__init__
_OBJECT_NEW: Any = object.__new__
_MUTABLE_CONTAINERS = (list, dict, set, bytearray, collections.deque, array.array)


class AccessTables:
    """Builds and caches the per-code-object opcode tables for the traced files."""

    def __init__(self, trace_files: frozenset[str], reference: bool = False) -> None:
        self.files = trace_files
        self.reference = reference
        self.tables: dict[types.CodeType, Table | None] = {}
        names = WrittenNames()
        for f in sorted(trace_files):
            code = module_code(f) if f not in _PSEUDO_CODE else None
            codes = [code] if code is not None else []
            codes.extend(_PSEUDO_CODE.get(f, ()))
            names = names | written_names_of(codes)
        self.names = names
        self.written_attrs = names.attrs
        self.init_only = names.init_only
        self.written_globals = names.globals

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
                return Access(ITEM_KEY, True, f"call .{argval}()")
            if argval in READERS:
                return Access(ITEM_KEY, False, f"call .{argval}()")
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
                    return Access(ITEM_KEY, False, f"call {argval}()")
                if argval in _BUILTIN_MUTATORS:
                    return Access(ITEM_KEY, True, f"call {argval}()")
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
        switch points; pure functions (``math``) have none; anything else is opaque."""
        if value is None:
            return OPAQUE
        if isinstance(value, types.BuiltinMethodType):
            owner = value.__self__
            if isinstance(owner, types.ModuleType):
                return None if owner.__name__ in _PURE_MODULES else OPAQUE
            if value.__name__ in MUTATORS:
                return Access(ITEM_KEY, True, f"call .{value.__name__}()")
            if value.__name__ in READERS:
                return Access(ITEM_KEY, False, f"call .{value.__name__}()")
            return OPAQUE
        code = getattr(value, "__code__", None)
        if code is None and isinstance(value, type):
            if getattr(value, "__module__", "").startswith("racekit"):
                return None
            init = getattr(value, "__init__", None)
            code = getattr(init, "__code__", None)
            if code is None and init is _OBJECT_INIT and getattr(value, "__new__", None) is _OBJECT_NEW:
                return None  # a plain class with no constructor of its own
        if code is not None and (code.co_filename in self.files or code.co_filename.startswith(_RACEKIT_DIR)):
            return None
        return OPAQUE

    def build(self, code: types.CodeType, f_globals: dict[str, Any], f_builtins: dict[str, Any]) -> Table:
        """Offsets of the switch-point opcodes of one code object, with their
        lines and how to find the object each one touches when it is reached."""
        instructions = list(dis.get_instructions(code))
        facts = analyse(instructions)
        by_offset = {ins.offset: ins for ins in instructions}
        calls: dict[int, Access | None] = {}
        for ins in instructions:
            if ins.opname in ("CALL", "CALL_FUNCTION_EX"):
                producer = facts.callees.get(ins.offset)
                receiver = facts.receivers.get(producer.offset) if producer is not None else None
                calls[ins.offset] = self.classify_call(producer, f_globals, f_builtins, receiver)

        def used_safely(offset: int) -> bool:
            """Is every use of this value a switch point of its own or a receiver?"""
            uses = facts.uses.get(offset)
            if not uses or self.reference:
                return False
            for how in uses:
                if how == "safe":
                    continue
                acc = calls.get(how) if isinstance(how, int) else None
                if acc is None or acc.key[0] == LOCAL_CALL:
                    return False
            return True

        in_init = code.co_name in _INIT_METHODS
        table: dict[int, tuple[Access, int, Refine | None]] = {}
        line = code.co_firstlineno
        lines: dict[int, int] = {}
        for ins in instructions:
            if ins.starts_line is not None:
                line = ins.starts_line
            lines[ins.offset] = line
            name = ins.opname
            argval = ins.argval
            acc: Access | None = None
            if name in _ATTR_READ:
                if argval in self.written_attrs or self.reference or (
                    name == "LOAD_ATTR" and argval in self.init_only and not used_safely(ins.offset)
                ):
                    acc = Access(("attr", argval), False, f"read .{argval}")
            elif name in _ATTR_WRITE:
                if not (in_init and argval in self.init_only) or self.reference:
                    acc = Access(("attr", argval), True, f"write .{argval}")
            elif name in _ITEM_OPS:
                acc = Access(ITEM_KEY, _ITEM_OPS[name], name.lower())
            elif name in _GLOBAL_WRITE:
                acc = Access(("global", argval), True, f"write global {argval}")
            elif name == "LOAD_GLOBAL":
                if (
                    argval in self.written_globals
                    or self.reference
                    or (isinstance(f_globals.get(argval), _MUTABLE_CONTAINERS) and not used_safely(ins.offset))
                ):
                    acc = Access(("global", argval), False, f"read global {argval}")
            elif name in ("CALL", "CALL_FUNCTION_EX"):
                acc = calls[ins.offset]
                producer = facts.callees.get(ins.offset)
                if acc is None and producer is not None and producer.argval == "acquire" and not self.reference:
                    acc = _ENTER  # maybe a real lock's acquire: looked at when reached
            elif name == "BEFORE_WITH" and not self.reference:
                acc = _ENTER  # maybe a real lock: looked at when reached
            if acc is not None:
                table[ins.offset] = (acc, line, None)
        if not self.reference:
            self._elide_derived_reads(instructions, facts, table)
            self._add_refinements(instructions, facts, by_offset, table)
        return table

    def _elide_derived_reads(
        self, instructions: list[dis.Instruction], facts: CodeFacts, table: dict[int, tuple[Access, int, Refine | None]]
    ) -> None:
        """``tuple(sorted(s.data.items()))``: one switch point, not four.

        A container read (``x[k]``, ``k in x``, ``x.get(k)``, ``len(x)``,
        ``sorted(x)`` ...) needs no switch point of its own when ``x`` was just
        produced by a switch point that read the same data - the load of an
        attribute or global holding the container (that step reads what it
        holds), or a reader returning a view or copy of it - with nothing but
        argument shuffling in between: it runs within that switch point's step.
        """
        index = {ins.offset: k for k, ins in enumerate(instructions)}
        elided: set[int] = set()
        views: set[int] = set()  # reader calls whose result is a view or copy of what they read
        for ins in instructions:
            entry = table.get(ins.offset)
            if entry is None or entry[0].key != ITEM_KEY or entry[0].write:
                continue
            src: dis.Instruction | None = None
            if ins.opname in ("BINARY_SUBSCR", "CONTAINS_OP"):
                src = facts.containers.get(ins.offset)
            elif ins.opname == "CALL":
                producer = facts.callees.get(ins.offset)
                if producer is None:
                    continue
                if producer.opname in ("LOAD_METHOD", "LOAD_ATTR"):
                    src = facts.receivers.get(producer.offset)
                    if producer.argval in _VIEW_METHODS:
                        views.add(ins.offset)
                elif producer.opname == "LOAD_GLOBAL":
                    args = facts.args.get(ins.offset)
                    if args and len(args) == 1:
                        src = args[0]
                    if producer.argval in _VIEW_BUILTINS:
                        views.add(ins.offset)
            if src is None:
                continue
            src_entry = table.get(src.offset)
            derived = (
                src_entry is not None and src.opname in ("LOAD_ATTR", "LOAD_GLOBAL") and not src_entry[0].write
            ) or (src.offset in views and (src_entry is not None or src.offset in elided))
            if derived and _quiet(instructions, index[src.offset], index[ins.offset], table, (), index[src.offset]):
                del table[ins.offset]
                elided.add(ins.offset)

    def _add_refinements(
        self,
        instructions: list[dis.Instruction],
        facts: CodeFacts,
        by_offset: dict[int, dis.Instruction],
        table: dict[int, tuple[Access, int, Refine | None]],
    ) -> None:
        """Say how to find the object each switch point touches when it is reached."""
        index = {ins.offset: k for k, ins in enumerate(instructions)}

        def chain(producer: dis.Instruction | None, depth: int = 0) -> tuple[str, str, list[dis.Instruction]] | None:
            if producer is None or depth > 4:
                return None
            op = producer.opname
            if op in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE"):
                return "l", str(producer.argval), [producer]
            if op == "LOAD_GLOBAL":
                return "g", str(producer.argval), [producer]
            if op == "LOAD_ATTR":
                inner = chain(facts.receivers.get(producer.offset), depth + 1)
                if inner is None:
                    return None
                return inner[0], inner[1], [*inner[2], producer]
            return None

        def refine(mode: str, producer: dis.Instruction | None, at: int) -> Refine | None:
            found = chain(producer)
            if found is None:
                return None
            kind, base, links = found
            start = index[links[0].offset]
            later = [index[k.offset] for k in links[1:]]
            if kind == "l" and not later:
                # a local variable: only rebinding it changes what it names
                for k in range(start + 1, index[at]):
                    ins = instructions[k]
                    if ins.opname in _REBIND and ins.argval == base:
                        return None
            else:
                # A global can change at any switch point, and so can each
                # attribute on the way once the first one is loaded.
                guard = start if kind == "g" else later[0]
                if not _quiet(instructions, start, index[at], table, later, guard):
                    return None
            return (mode, kind, base, tuple(str(k.argval) for k in links[1:]))

        for offset, (acc, line, _) in list(table.items()):
            ins = by_offset[offset]
            name = ins.opname
            spec: Refine | None = None
            if name in _ATTR_READ or name in _ATTR_WRITE:
                # A load of an init-only attribute matters only for the
                # container it may hold: when it holds none, skip it ("const").
                const = name == "LOAD_ATTR" and acc.key[1] in self.init_only
                spec = refine("const" if const else "attr", facts.receivers.get(offset), offset)
            elif name == "LOAD_GLOBAL":
                spec = ("global", "g", str(ins.argval), ())
            elif name in _ITEM_OPS:
                spec = refine("item", facts.containers.get(offset), offset)
            elif acc is _ENTER:
                if name == "BEFORE_WITH":
                    manager = facts.containers.get(offset)
                else:
                    producer = facts.callees.get(offset)
                    manager = facts.receivers.get(producer.offset) if producer is not None else None
                spec = refine("lock", manager, offset)
                if spec is None:
                    del table[offset]
                    continue
            elif name == "CALL" and acc.key == ITEM_KEY:
                producer = facts.callees.get(offset)
                if producer is not None and producer.opname in ("LOAD_METHOD", "LOAD_ATTR"):
                    container = facts.receivers.get(producer.offset)
                else:
                    args = facts.args.get(offset)
                    container = args[0] if args else None
                spec = refine("item", container, offset)
            if spec is not None:
                table[offset] = (acc, line, spec)


# How to find, when a switch point is reached, the object it touches:
# (mode, base kind, base name, attribute path).  mode "attr": the receiver
# of an attribute access ("const": of an init-only attribute's load, which
# is no switch point when the value is no container); "item": a container;
# "global": a global's value.
# Base kind "l": a local or closure variable, "g": a global.
Refine = tuple[str, str, str, tuple[str, ...]]

_REBIND = frozenset({"STORE_FAST", "DELETE_FAST", "STORE_DEREF", "DELETE_DEREF"})

# Instructions that run no code of anyone's and touch no shared state.
_QUIET = frozenset(
    {
        "LOAD_FAST", "LOAD_CONST", "LOAD_DEREF", "LOAD_CLOSURE", "PUSH_NULL", "PRECALL", "KW_NAMES", "NOP",
        "EXTENDED_ARG", "COPY", "SWAP", "LOAD_GLOBAL", "LOAD_METHOD", "LOAD_ATTR", "CACHE",
    }
)


def _quiet(
    instructions: list[dis.Instruction],
    start: int,
    end: int,
    table: dict[int, tuple[Access, int, Refine | None]],
    links: Iterable[int],
    guard: int,
) -> bool:
    """May a value pushed at ``start`` be looked up again at ``end``?

    True when nothing between them can change it: straight-line code, only
    quiet instructions or the chain's own ``links``, and no switch point
    (other threads run there) after index ``guard``.
    """
    chain = set(links)
    for k in range(start, end + 1):
        ins = instructions[k]
        if k > start and ins.is_jump_target:
            return False
        if k == end:
            break
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs or ins.opname in _ENDS_BLOCK:
            return False
        if k == start:
            continue
        if k not in chain and ins.opname not in _QUIET:
            return False
        entry = table.get(instructions[k].offset) if k > guard else None
        if entry is not None and entry[0] is not _ENTER:
            return False
    return True


_BUILDERS: dict[tuple[frozenset[str], bool], AccessTables] = {}


def _builder_for(trace_files: frozenset[str], reference: bool = False) -> AccessTables:
    """One table cache per set of traced files, shared by every execution."""
    key = (trace_files, reference)
    b = _BUILDERS.get(key)
    if b is None:
        if len(_BUILDERS) > 64:
            _BUILDERS.clear()
        b = _BUILDERS[key] = AccessTables(trace_files, reference)
    return b


# Test hook: every attribute and global load and store is a switch point
# (``reference = True``), the baseline the reductions are checked against.
REFERENCE = False

_RACEKIT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

LocalTrace = Callable[[types.FrameType, str, Any], Any]


class OpcodeTracer:
    """Turns shared-memory opcodes of the traced files into switch points."""

    def __init__(self, execution: Execution, trace_files: frozenset[str]) -> None:
        self.ex = execution
        self.files = trace_files
        self.builder = _builder_for(trace_files, REFERENCE)
        self.tables = self.builder.tables
        self.in_callback = False
        self._prev: Any = None
        self._short: dict[str, str] = {}
        # code object -> its local trace function (None: not traced)
        self._locals: dict[types.CodeType, LocalTrace | None] = {}
        # untraced Python code (not racekit's): calls to it count as progress
        self._unseen: set[types.CodeType] = set()
        # real (threading) locks seen acquired in this run: id -> logical thread
        self._real_owners: dict[int, int] = {}

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
        local = self._locals.get(code, False)
        if local is False:
            local = self._locals[code] = self._local_for(frame)
            if local is None and not code.co_filename.startswith(_RACEKIT_DIR):
                self._unseen.add(code)
        if local is None:
            if code in self._unseen:
                # Python code racekit does not trace may change shared state
                # unseen: for spin detection, that is progress.
                self.ex.epoch += 1
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return local

    def _local_for(self, frame: types.FrameType) -> LocalTrace | None:
        code = frame.f_code
        tables = self.tables
        if code in tables:
            table = tables[code]
        elif code.co_filename not in self.files or (
            code.co_filename in _PSEUDO_TREE and code not in _PSEUDO_TREE[code.co_filename]
        ):
            table = tables[code] = None
        else:
            table = tables[code] = self.builder.build(code, frame.f_globals, frame.f_builtins)
        if not table:
            return None
        get = table.get
        hit = self._hit

        def local(frame: types.FrameType, event: str, arg: Any) -> Any:
            if event == "opcode":
                entry = get(frame.f_lasti)
                if entry is not None:
                    hit(frame, entry)
            return local

        return local

    def _hit(self, frame: types.FrameType, entry: tuple[Access, int, Refine | None]) -> None:
        ex = self.ex
        if ex.current is None or not ex.controlled or ex.tearing_down:
            return
        access, line, spec = entry
        if access is _ENTER:
            self._check_real_lock(frame, spec, line)  # type: ignore[arg-type]
            return
        if spec is not None:
            refined = self._refine(frame, access, spec)
            if refined is None:
                return
            access = refined
        elif access.key[0] == LOCAL_CALL:
            # the callee is in a local variable: look at it now
            value = frame.f_locals.get(str(access.key[1]))
            resolved = self.builder._classify_value(value)
            if resolved is None:
                return
            owner = getattr(value, "__self__", None)
            if resolved.key == ITEM_KEY and isinstance(owner, _MUTABLE_CONTAINERS):
                resolved = Access(("item", ex.objnum(owner)), resolved.write, resolved.label)
            access = resolved
        where = None
        if ex.record_where:
            fn = frame.f_code.co_filename
            short = self._short.get(fn)
            if short is None:
                short = self._short[fn] = _relpath(fn)
            where = f"{short}:{line}"
        self.in_callback = True
        try:
            ex.pass_baton(access, where)
        finally:
            self.in_callback = False

    def _check_real_lock(self, frame: types.FrameType, spec: Refine, line: int) -> None:
        """A ``with`` or ``.acquire()`` about to run: is it a real lock held by another logical thread?

        Every logical thread shares one OS thread, so such an acquire would
        block the run for good (or, for an RLock, let two threads in).  Say
        so instead, at the first contention.
        """
        lock = self._resolve(frame, spec)
        kind = type(lock)
        if kind is not _REAL_LOCK and kind is not _REAL_RLOCK:
            return
        ex = self.ex
        me = ex.current
        assert me is not None
        held = lock.locked() if kind is _REAL_LOCK else lock._recursion_count() > 0
        owner = self._real_owners.get(id(lock))
        if not held:
            self._real_owners[id(lock)] = me.tid
            return
        if owner == me.tid and kind is _REAL_RLOCK:
            return  # re-entering its own RLock
        where = f"{_relpath(frame.f_code.co_filename)}:{line}"
        if owner == me.tid:
            raise HarnessAbort(
                f"{me.name} acquires a real threading.Lock it already holds at {where}: it would wait for"
                " itself for ever (use an RLock, or racekit.sync to have it reported as a deadlock)"
            )
        holder = ex.threads[owner].name if owner is not None and owner < len(ex.threads) else "another logical thread"
        raise HarnessAbort(
            f"a real lock was used by two logical threads at {where} ({me.name} wants the"
            f" {'RLock' if kind is _REAL_RLOCK else 'Lock'} {holder} holds); create it from racekit.sync"
            " or let racekit patch this module"
        )

    def _resolve(self, frame: types.FrameType, spec: Refine) -> Any:
        _mode, kind, base, path = spec
        ns = frame.f_locals if kind == "l" else frame.f_globals
        obj = ns.get(base, _MISSING)
        if obj is _MISSING and kind == "g":
            obj = frame.f_builtins.get(base, _MISSING)
        for name in path:
            d = getattr(obj, "__dict__", None)
            if d is None:
                return _MISSING
            obj = d.get(name, _MISSING)
        return obj

    def _refine(self, frame: types.FrameType, access: Access, spec: Refine) -> Access | None:
        """The access with the object it touches: a finer key, or what a load
        holds; None when it touches nothing shared after all."""
        mode, kind, base, path = spec
        ns = frame.f_locals if kind == "l" else frame.f_globals
        obj = ns.get(base, _MISSING)
        if obj is _MISSING and kind == "g":
            obj = frame.f_builtins.get(base, _MISSING)
        for name in path:
            d = getattr(obj, "__dict__", None)
            if d is None:
                return access
            obj = d.get(name, _MISSING)
        if obj is _MISSING:
            return access
        ex = self.ex
        if mode == "global":
            return _new_access(Access, (access.key, False, access.label, "", _holds(ex, obj), True))
        if mode == "item":
            return _new_access(Access, (("item", ex.objnum(obj)), access.write, access.label, "", -1, True))
        name = str(access.key[1])
        if isinstance(obj, types.ModuleType):
            # mod.x is the global x of that module
            if access.write:
                return _new_access(Access, (("global", name), True, access.label, "", -1, True))
            return _new_access(Access, (("global", name), False, access.label, "", _holds(ex, vars(obj).get(name, _MISSING)), True))
        if isinstance(obj, type):
            return access  # a class attribute: seen through every instance
        if access.write:
            return _new_access(Access, (("attr", name, ex.objnum(obj)), True, access.label, "", -1, True))
        d = getattr(obj, "__dict__", None)
        if d is None or name not in d:
            return access  # a slot, property or class attribute: keep the name-wide key
        holds = _holds(ex, d[name])
        if holds == 0 and mode == "const":
            return None
        return _new_access(Access, (("attr", name, ex.objnum(obj)), False, access.label, "", holds, True))


_MISSING: Any = object()
_REAL_LOCK = type(threading.Lock())
_REAL_RLOCK = type(threading.RLock())
# Table marker: a ``with`` or ``.acquire()`` whose object is looked at when reached.
_ENTER = Access(("enter",), False, "enter")
_new_access = tuple.__new__  # Access(...) without the generated __new__: made on every traced switch


def _holds(ex: Execution, value: Any) -> int:
    """``Access.holds`` of a load that produces ``value``."""
    if value is _MISSING:
        return -1
    if isinstance(value, _MUTABLE_CONTAINERS):
        return ex.objnum(value)
    return 0


def _relpath(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
