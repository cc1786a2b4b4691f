"""Helpers shared by the scheduler tests (tests/test_sched_*.py).

* :func:`load_source` turns generated Python source into a real module in a
  real file, so opcode tracing (which reads the file) applies to it.
* :func:`outcomes` runs a strategy to exhaustion and collects every final
  outcome, the observable that DPOR must preserve.
* :func:`interleavings` / :func:`preemptions` are the brute-force reference
  for schedule counts.
* :func:`live_greenlets` finds logical threads that outlived their run.
"""

from __future__ import annotations

import atexit
import functools
import gc
import hashlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import greenlet

from racekit.choice import Knobs, make
from racekit.sched.explore import Program, Run, as_result, run_program

_GEN_DIR = tempfile.mkdtemp(prefix="racekit-gen-")
atexit.register(shutil.rmtree, _GEN_DIR, True)
_MODULES: dict[str, types.ModuleType] = {}


def load_source(source: str) -> types.ModuleType:
    """Write ``source`` to a file of its own and import it (cached by content)."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    mod = _MODULES.get(digest)
    if mod is not None:
        return mod
    name = f"racekit_gen_{digest}"
    path = os.path.join(_GEN_DIR, name + ".py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    _MODULES[digest] = mod
    return mod


def module_program(mod: types.ModuleType, nthreads: int, max_steps: int = 2000) -> Program:
    """A Program over a generated module: ``S()`` is the state, ``t{i}(s)`` the threads."""
    assert mod.__file__ is not None

    bodies = [getattr(mod, f"t{i}") for i in range(nthreads)]

    def threads(s: Any) -> list[Callable[[], Any]]:
        return [functools.partial(f, s) for f in bodies]

    return Program(
        setup=mod.S,
        threads=threads,
        trace_files=frozenset([mod.__file__]),
        patch_modules=(mod,),
        max_steps=max_steps,
    )


def outcome_of(run: Run, snapshot: Callable[[Any], Any]) -> Any:
    """What a complete run shows: its verdict, the shared state, thread results.

    For a run stuck in a deadlock the unfinished threads report what they
    wait for instead of a result.
    """
    unfinished = run.result.unfinished
    threads = tuple(
        ("blocked", _label(unfinished[t.tid])) if t.tid in unfinished else ("done", repr(t.result))
        for t in run.result.threads
    )
    return (run.result.kind, snapshot(run.state), threads)


def _label(access: Any) -> str:
    """An access label without primitive ids (they differ from run to run)."""
    return re.sub(r"#\d+", "#", access.describe()) if access is not None else "?"


def outcomes(
    program: Program,
    strategy: str,
    snapshot: Callable[[Any], Any],
    *,
    budget: int = 100_000,
    preemption_bound: int | None = None,
) -> tuple[set[Any], int, bool]:
    """Every outcome reached by ``strategy`` (runs are never cut short on failure).

    Returns (outcomes, schedules, exhausted).  Runs that DPOR abandons because
    every enabled thread is asleep are counted but have no outcome: they are
    incomplete and equivalent to a run already explored.
    """
    strat = make(strategy, Knobs(bound=preemption_bound))
    seen: set[Any] = set()
    schedules = 0
    while schedules < budget:
        trial = strat.next_trial()
        if trial is None:
            break
        schedules += 1
        run = run_program(program, trial.chooser, record_where=False)
        strat.observe(as_result(run, detail=False), False)
        if not run.result.sleep_blocked:
            seen.add(outcome_of(run, snapshot))
    coverage = strat.coverage()
    return seen, schedules, coverage.extent in ("exhaustive", "bounded")


def interleavings(steps: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every interleaving of threads with ``steps[i]`` steps each (as thread ids)."""
    total = sum(steps)
    left = list(steps)
    out: list[int] = []

    def rec() -> Iterator[tuple[int, ...]]:
        if len(out) == total:
            yield tuple(out)
            return
        for t, n in enumerate(left):
            if n:
                left[t] -= 1
                out.append(t)
                yield from rec()
                out.pop()
                left[t] += 1

    yield from rec()


def preemptions(schedule: Sequence[int], steps: Sequence[int]) -> int:
    """Preemptions as runtime.py counts them: switching away from a thread that could go on."""
    left = list(steps)
    count = 0
    prev: int | None = None
    for t in schedule:
        if prev is not None and prev != t and left[prev] > 0:
            count += 1
        left[t] -= 1
        prev = t
    return count


def multinomial(*ks: int) -> int:
    from math import factorial

    out = factorial(sum(ks))
    for k in ks:
        out //= factorial(k)
    return out


def live_greenlets() -> list[Any]:
    """Greenlets other than thread-main ones that have not finished."""
    gc.collect()
    return [
        g
        for g in gc.get_objects()
        if isinstance(g, greenlet.greenlet) and g.parent is not None and not g.dead
    ]


def line_of(path: str, marker: str) -> int:
    """Line number of the first line in ``path`` that contains ``marker``."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if marker in line:
                return n
    raise AssertionError(f"marker {marker!r} not in {path}")




# ------------------------------------------------------------------------
# Generated programs: a few threads over shared attributes, containers, a
# global, and every racekit primitive, written as plain ``threading`` code.

PRELUDE = '''\
import itertools
import queue
import threading
import time

from racekit import sync

G = 0


class S:
    def __init__(self):
        global G
        G = 0
        self.x = 0
        self.y = 0
        self.items = [1]
        self.d = {}
        self.it = itertools.count()
        self.L0 = threading.Lock()
        self.L1 = threading.Lock()
        self.R = threading.RLock()
        self.A = sync.Atomic(0)
        self.E = threading.Event()
        self.Sem = threading.Semaphore(1)
        self.Q = queue.Queue(maxsize=1)
        self.C = threading.Condition()


def snap(s):
    return (
        s.x, s.y, tuple(s.items), tuple(sorted(s.d.items())), repr(s.it), G,
        s.A.load(), s.E.is_set(), tuple(s.Q._real.queue), s.Sem._real._value,
    )

'''

# Each template: (needs_register, text).  ``{r}`` is a fresh register, ``{p}``
# an earlier one (or a constant), ``{c}`` a small constant, ``{v}``/``{w}`` an
# attribute, ``{L}`` a lock, ``{body}`` a nested block.
SIMPLE_OPS: dict[str, str] = {
    "read": "{r} = s.{v}",
    "write": "s.{v} = {c}",
    "write_reg": "s.{v} = {p} + 1",
    "incr": "s.{v} += 1",
    "cond": "if s.{v} == {c}:\n    s.{w} = {c}",
    "append": "s.items.append({c})",
    "pop": "if s.items:\n    {r} = s.items.pop()",
    "len": "{r} = len(s.items)",
    "iterate": "{r} = 0\nfor _v in s.items:\n    {r} += _v",
    "dict_set": "s.d[{c}] = {c2}",
    "dict_get": "{r} = s.d.get({c}, 0)",
    "dict_in": "{r} = {c} in s.d",
    "global_incr": "G += 1",
    "global_read": "{r} = G",
    "next": "{r} = next(s.it)",
    "a_load": "{r} = s.A.load()",
    "a_store": "s.A.store({c})",
    "a_cas": "{r} = s.A.compare_and_set(0, {c})",
    "a_add": "{r} = s.A.add_and_get(1)",
    "e_set": "s.E.set()",
    "e_clear": "s.E.clear()",
    "e_is_set": "{r} = s.E.is_set()",
    "e_wait_t": "{r} = s.E.wait(timeout=0.5)",
    "q_put_nowait": "try:\n    s.Q.put_nowait({c})\n    {r} = 1\nexcept queue.Full:\n    {r} = 0",
    "q_get_nowait": "try:\n    {r} = s.Q.get_nowait()\nexcept queue.Empty:\n    {r} = -1",
    "q_get_t": "try:\n    {r} = s.Q.get(timeout=0.5)\nexcept queue.Empty:\n    {r} = -1",
    "notify": "with s.C:\n    s.y = {c}\n    s.C.notify()",
    "cwait": "with s.C:\n    if s.y == 0:\n        {r} = s.C.wait(timeout=0.5)",
    "cwait_for": "with s.C:\n    {r} = s.C.wait_for(lambda: s.y != 0, timeout=0.5)",
    "sleep": "time.sleep(0.1)",
    "yield": "sync.yield_point()",
    "rlock": "with s.R:\n    with s.R:\n        s.x += 1",
}
# Operations that may block for ever (a reachable deadlock or hang is an
# outcome like any other).
BLOCKING_OPS: dict[str, str] = {
    "e_wait": "s.E.wait()",
    "q_put": "s.Q.put({c})",
    "q_get": "{r} = s.Q.get()",
}
BLOCK_OPS = ("with_lock", "with_sem", "try_lock", "timed_lock", "spawn")
ALL_OPS = tuple(SIMPLE_OPS) + tuple(BLOCKING_OPS) + BLOCK_OPS


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.split("\n"))


class _Gen:
    def __init__(self, draw: Any, kinds: Sequence[str], max_ops: int = 3) -> None:
        self.draw = draw
        self.max_ops = max_ops
        self.kinds = kinds
        self.regs: list[str] = []

    def reg(self) -> str:
        r = f"r{len(self.regs)}"
        self.regs.append(r)
        return r

    def simple(self, kind: str, regs: bool = True) -> str:
        from hypothesis import strategies as st

        tpl = SIMPLE_OPS.get(kind) or BLOCKING_OPS[kind]
        d = self.draw
        fields: dict[str, str] = {
            "v": d(st.sampled_from(["x", "y"])),
            "w": d(st.sampled_from(["x", "y"])),
            "c": str(d(st.integers(1, 2))),
            "c2": str(d(st.integers(1, 2))),
        }
        if "{r}" in tpl:
            if not regs:
                return "s.x = 2" if kind != "read" else "s.y += 1"
            fields["r"] = self.reg()
        if "{p}" in tpl:
            fields["p"] = self.regs[-1] if self.regs else "0"
        return tpl.format(**fields)

    def op(self, depth: int, held: frozenset[str], regs: bool = True) -> str:
        from hypothesis import strategies as st

        d = self.draw
        kinds = [k for k in self.kinds if depth == 0 or k not in BLOCK_OPS or k == "with_lock"]
        if not kinds:
            return self.simple("incr")
        kind = d(st.sampled_from(kinds))
        if kind in ("with_lock", "try_lock", "timed_lock"):
            free = [lk for lk in ("L0", "L1") if lk not in held]
            if not free or depth >= 2:
                return self.simple("incr")
            lk = d(st.sampled_from(free))
            body = self.block(depth + 1, held | {lk}, regs)
            if kind == "with_lock":
                return f"with s.{lk}:\n{_indent(body, 4)}"
            call = "acquire(blocking=False)" if kind == "try_lock" else "acquire(timeout=0.5)"
            if not regs:
                return f"if s.{lk}.{call}:\n{_indent(body, 4)}\n    s.{lk}.release()"
            r = self.reg()
            return (
                f"if s.{lk}.{call}:\n{_indent(body, 4)}\n    s.{lk}.release()\n    {r} = 1\n"
                f"else:\n    {r} = 0"
            )
        if kind == "with_sem":
            return f"with s.Sem:\n{_indent(self.block(depth + 1, held, regs), 4)}"
        if kind == "spawn":
            inner = self.block(depth + 1, held, regs=False)
            after = self.op(depth + 1, held, regs)
            join = d(st.booleans())
            return (
                f"def _sub(s=s):\n    global G\n{_indent(inner, 4)}\n"
                f"_t = threading.Thread(target=_sub)\n_t.start()\n{after}"
                + ("\n_t.join()" if join else "")
            )
        return self.simple(kind, regs)

    def block(self, depth: int, held: frozenset[str], regs: bool = True) -> str:
        from hypothesis import strategies as st

        n = self.draw(st.integers(1, 2 if depth else self.max_ops))
        return "\n".join(self.op(depth, held, regs) for _ in range(n))


def programs(kinds: Sequence[str] = ALL_OPS, max_threads: int = 3, max_ops: int = 3) -> Any:
    """Hypothesis strategy: (source, number of threads) of a small racy program."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: Any) -> tuple[str, int]:
        nthreads = draw(st.integers(2, max_threads))
        chosen = draw(st.lists(st.sampled_from(list(kinds)), min_size=1, max_size=4, unique=True))
        parts = [PRELUDE]
        for i in range(nthreads):
            gen = _Gen(draw, chosen, max_ops)
            body = gen.block(0, frozenset())
            init = "".join(f"    {r} = None\n" for r in gen.regs)
            parts.append(
                f"def t{i}(s):\n    global G\n{init}    err = None\n    try:\n{_indent(body, 8)}\n"
                "    except Exception as e:  # a failure ends a run early: keep runs whole\n"
                "        err = type(e).__name__\n"
                f"    return (err, {', '.join(gen.regs)}{',' if len(gen.regs) == 1 else ''})\n\n"
            )
        return "\n".join(parts), nthreads

    return build()
