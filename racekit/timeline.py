"""A counterexample as a timeline: the typed model every view draws.

A counterexample file is untrusted data.  :func:`timeline` turns it into a
small typed model - lanes (one per thread, node or client), operations as
bars on the step axis, the schedule's switch points, the step-by-step trace
with the source line of each step.  The terminal view (:mod:`racekit.show`)
and the HTML gallery (:mod:`racekit.gallery`) draw that model.  Building it
never executes anything from the file, never raises on odd-but-valid
contents, and turns every string into one printable line (control
characters, including terminal escapes and bidi overrides, become visible
``\\xNN`` escapes).

The step axis: trace rows carry ``step``.  Operations come from the history;
their ``invoke``/``ret`` positions are history event counters (thread engine)
or simulator steps (sim engine), so they are mapped onto the axis by matching
each process's k-th operation with the k-th ``invoke``/``return`` row of its
lane; positions with no such row fall back to the steps the lane ran between
the neighbouring matched positions, then to interpolation.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Lane",
    "Op",
    "Replay",
    "Step",
    "Timeline",
    "clean",
    "source_line",
    "timeline",
]

#: Trace rows beyond this are summarised as "N more steps" in every view.
MAX_STEPS = 1000
#: Operations beyond this are not drawn.
MAX_OPS = 500


# --------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class Step:
    """One row of the trace: which lane ran, doing what, where."""

    index: int  # row number in the trace
    step: int  # position on the axis
    lane: str
    what: str
    where: str  # "file:line" (threads) or the event detail (sim)
    source: str | None  # the text of that source line, when it could be read
    preemption: bool
    switch: bool  # a different lane ran the previous step
    time: str = ""  # virtual time, when the engine records one
    fault: bool = False  # an injected fault: crash, kill, partition, drop, pause, ...


@dataclass(frozen=True)
class Op:
    """One operation of the history, placed on the step axis."""

    id: str
    lane: str
    call: str  # "put('x', 1)"
    result: str  # "-> 1", "fail", "info (unknown outcome)", "" for no value
    status: str
    start: int
    end: int | None  # None: never returned (info or still pending)
    row: int = 0  # sub-row when operations of one lane overlap
    order: int | None = None  # 1-based place in the longest linearizable prefix
    stuck: bool = False  # the operation that cannot be placed / the failing one

    @property
    def label(self) -> str:
        return f"{self.call} {self.result}".strip()


@dataclass(frozen=True)
class Lane:
    name: str
    rows: int  # sub-rows needed for overlapping operations (at least 1)
    steps: tuple[int, ...]  # axis positions where this lane ran


@dataclass(frozen=True)
class Replay:
    variant: str
    outcome: str  # "clean" | "violation" | anything a file says
    message: str
    schedules: str  # "" when not recorded
    exhaustive: bool
    unit: str = "schedules"  # what ``schedules`` counts: "schedules" or (simulator) "runs"


@dataclass(frozen=True)
class Timeline:
    system: str
    variant: str
    prop: str  # the violated property
    kind: str
    engine: str
    bug: str
    message: str
    explanation: str  # the one-line explanation
    lanes: tuple[Lane, ...]
    ops: tuple[Op, ...]
    steps: tuple[Step, ...]
    length: int  # axis length: every step and op end is < length
    omitted_steps: int
    replay: tuple[Replay, ...]
    replay_command: str
    prefix_count: int  # how many longest linearizable prefixes the checker kept
    stats: tuple[tuple[str, str], ...] = field(default=())
    scheduled: bool = False  # the trace is a thread schedule (switch points, preemptions)

    @property
    def preemptions(self) -> int:
        return sum(1 for s in self.steps if s.preemption)

    @property
    def headline(self) -> str:
        """"violation of P" (or "K: violation of P" when the kind says more), and by what."""
        kind = self.kind.split(":", 1)[0]  # "invariant:<name>" -> "invariant"
        what = f"violation of {self.prop}" if kind in ("", self.prop) else f"{kind}: violation of {self.prop}"
        return f"{what}, found by the {self.engine or '?'} engine"

    @property
    def stuck(self) -> Op | None:
        return next((op for op in self.ops if op.stuck), None)


# --------------------------------------------------------------------------
# Cleaning untrusted strings


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


def clean(value: object, limit: int = 400) -> str:
    """One printable line: control characters escaped, long text cut with an ellipsis."""
    text = value if isinstance(value, str) else _value(value, limit)
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    if any(_is_control(ch) for ch in text):
        text = "".join(_escape(ch) if _is_control(ch) else ch for ch in text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _value(value: object, limit: int = 80) -> str:
    """A data value as Python would print it (JSON data only: no code runs), cut to ``limit``."""
    try:
        text = repr(value) if isinstance(value, str | int | float | bool | list | dict | type(None)) else "?"
    except (ValueError, RecursionError):
        text = "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return None


# --------------------------------------------------------------------------
# Source lines

_FAULT = re.compile(r"^(crash|killed|kill|partition|drop|dup|delay|pause|skew|lost)\b", re.I)

_WHERE = re.compile(r"^(?P<path>[^:]+\.py):(?P<line>\d{1,7})(?::\d+)?$")


class _Sources:
    """Reads ``file:line`` under the catalogue root: .py files inside it only."""

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None
        self._files: dict[str, list[str] | None] = {}

    def line(self, where: str) -> str | None:
        if self.root is None:
            return None
        m = _WHERE.match(where.strip())
        if not m:
            return None
        lines = self._lines(m.group("path"))
        n = int(m.group("line"))
        if lines is None or not 1 <= n <= len(lines):
            return None
        return clean(lines[n - 1].strip(), 200)

    def _lines(self, rel: str) -> list[str] | None:
        if rel in self._files:
            return self._files[rel]
        lines: list[str] | None = None
        assert self.root is not None
        try:
            path = (self.root / rel).resolve()
            if path.is_relative_to(self.root) and path.is_file() and path.stat().st_size < 2_000_000:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except (OSError, ValueError):
            lines = None
        self._files[rel] = lines
        return lines


def source_line(root: Path | None, where: str) -> str | None:
    """The stripped source line ``where`` ("path.py:N") names, relative to ``root``.

    Only ``.py`` files inside ``root`` are read; anything else gives None.
    """
    return _Sources(root).line(where)


# --------------------------------------------------------------------------
# Building the timeline


def _lane_of_row(row: Mapping[str, Any]) -> str:
    for key in ("name", "node"):
        v = row.get(key)
        if isinstance(v, str) and v:
            return "world" if v == "-" else clean(v, 40)
    t = _int(row.get("thread"))
    if t is not None:
        return f"T{t}"
    return "?"


def _rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    trace = doc.get("trace")
    return [r for r in trace if isinstance(r, dict)] if isinstance(trace, list) else []


def _history(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    hist = doc.get("history")
    if not isinstance(hist, list):
        return []
    return [h for h in hist if isinstance(h, dict) and _int(h.get("invoke")) is not None][:MAX_OPS]


def _is_invoke(what: str) -> bool:
    return what == "invoke" or what.startswith("invoke ")


def _is_return(what: str) -> bool:
    return what in ("return", "timeout") or what.startswith("return ")


def timeline(doc: Mapping[str, Any], root: Path | None = None) -> Timeline:
    """The drawable model of one (validated) counterexample document.

    ``root`` is the catalogue root the ``where`` paths are relative to; without
    it no source lines are shown.
    """
    sources = _Sources(root)
    raw_rows = _rows(doc)
    omitted = max(0, len(raw_rows) - MAX_STEPS)
    raw_rows = raw_rows[:MAX_STEPS]

    # -- trace rows on the axis
    steps: list[Step] = []
    lane_order: list[str] = []
    lane_threads: dict[str, int | None] = {}
    prev_lane: str | None = None
    last_axis = -1
    # Switch points mean something for scheduled threads (rows say whether a
    # switch was a preemption); the simulator's events are not a schedule.
    scheduled = any("preemption" in row for row in raw_rows)
    for i, row in enumerate(raw_rows):
        lane = _lane_of_row(row)
        if lane not in lane_threads:
            lane_order.append(lane)
            lane_threads[lane] = _int(row.get("thread"))
        axis = _int(row.get("step"))
        if axis is None or axis < 0 or axis > 10 * MAX_STEPS + i or axis < last_axis:
            axis = last_axis + 1
        last_axis = axis
        what = clean(row.get("what", ""), 200)
        where_raw = row.get("where")
        where = clean(where_raw, 200) if isinstance(where_raw, str) and where_raw else ""
        if not where and row.get("detail") is not None:
            where = clean(row.get("detail"), 200)
        time = row.get("t")
        steps.append(
            Step(
                index=i,
                step=axis,
                lane=lane,
                what=what,
                where=where,
                source=sources.line(where) if where else None,
                preemption=row.get("preemption") is True,
                switch=scheduled and prev_lane is not None and lane != prev_lane,
                time="" if time is None else clean(time, 30),
                fault=bool(_FAULT.match(what)),
            )
        )
        prev_lane = lane

    # -- lanes for history processes
    history = _history(doc)

    def lane_of_process(p: object) -> str:
        if isinstance(p, str) and p:
            if p in lane_threads:
                return p
            return "world" if p == "-" else clean(p, 40)
        t = _int(p)
        if t is not None:
            for name, num in lane_threads.items():
                if num == t:
                    return name
            return f"T{t}"
        return clean(p, 40)

    op_lanes = [lane_of_process(h.get("process")) for h in history]
    for lane in op_lanes:
        if lane not in lane_threads:
            lane_order.append(lane)
            lane_threads[lane] = None

    ops = _place(history, op_lanes, steps)
    ops = _mark(doc, ops, steps)
    ops = _stack(ops)

    length = max([s.step + 1 for s in steps] + [o.start + 1 for o in ops] + [(o.end or 0) + 1 for o in ops] + [1])
    lanes = tuple(
        Lane(
            name=name,
            rows=max([o.row + 1 for o in ops if o.lane == name] + [1]),
            steps=tuple(s.step for s in steps if s.lane == name),
        )
        for name in _order_lanes(lane_order, lane_threads)
    )

    expl = doc.get("explanation")
    expl_msg = expl.get("message") if isinstance(expl, dict) else None
    prefixes = expl.get("longest_prefixes") if isinstance(expl, dict) else None
    stats = doc.get("stats")
    return Timeline(
        system=clean(doc.get("system", ""), 80),
        variant=clean(doc.get("variant", ""), 80),
        prop=clean(doc.get("property", ""), 120),
        kind=clean(doc.get("kind", ""), 80),
        engine=clean(doc.get("engine", ""), 40),
        bug=clean(doc.get("bug") or "", 1000),
        message=clean(doc.get("message", ""), 1000),
        explanation=clean(expl_msg if isinstance(expl_msg, str) and expl_msg else doc.get("message", ""), 1000),
        lanes=lanes,
        ops=tuple(ops),
        steps=tuple(steps),
        length=length,
        omitted_steps=omitted,
        replay=_replays(doc.get("replay")),
        replay_command=clean(doc.get("replay_command") or "", 300),
        prefix_count=len(prefixes) if isinstance(prefixes, list) else 0,
        stats=tuple((clean(k, 40), clean(v, 40)) for k, v in sorted(stats.items()))
        if isinstance(stats, dict)
        else (),
        scheduled=scheduled,
    )


def _order_lanes(order: list[str], threads: Mapping[str, int | None]) -> list[str]:
    """Thread lanes by thread number; otherwise first appearance, the world last."""
    if all(threads[name] is not None for name in order):
        return sorted(order, key=lambda n: (threads[n] or 0, order.index(n)))
    return sorted(order, key=lambda n: (n == "world", order.index(n)))


def _call(h: Mapping[str, Any]) -> str:
    args = h.get("args")
    if isinstance(args, list):
        inner = ", ".join(_value(a, 40) for a in args[:8]) + (", …" if len(args) > 8 else "")
    elif args is None:
        inner = ""
    else:
        inner = _value(args, 60)
    name = h.get("name")
    return clean(f"{name if isinstance(name, str) else _value(name, 40)}({inner})", 120)


def _result(h: Mapping[str, Any]) -> str:
    status = h.get("status")
    if status == "fail":
        return "fail" if h.get("result") is None else f"fail {clean(_value(h.get('result'), 40))}"
    if h.get("ret") is None:
        return "never returned"
    if status == "info":
        return "info (unknown outcome)"
    if h.get("result") is None:
        return ""
    return f"-> {clean(_value(h.get('result'), 40))}"


def _place(history: list[dict[str, Any]], lanes: list[str], steps: list[Step]) -> list[Op]:
    """Map history positions onto the step axis (see the module docstring)."""
    by_lane: dict[str, list[int]] = {}
    for i, lane in enumerate(lanes):
        by_lane.setdefault(lane, []).append(i)
    invokes: dict[str, list[int]] = {}
    returns: dict[str, list[int]] = {}
    ran: dict[str, list[int]] = {}
    for s in steps:
        ran.setdefault(s.lane, []).append(s.step)
        if _is_invoke(s.what):
            invokes.setdefault(s.lane, []).append(s.step)
        elif _is_return(s.what):
            returns.setdefault(s.lane, []).append(s.step)

    def pos(h: Mapping[str, Any], key: str) -> int | None:
        return _int(h.get(key))

    anchors: dict[int, int] = {}
    for lane, idxs in by_lane.items():
        idxs.sort(key=lambda i: pos(history[i], "invoke") or 0)
        inv, ret = invokes.get(lane, []), returns.get(lane, [])
        for k, i in enumerate(idxs):
            t_inv, t_ret = pos(history[i], "invoke"), pos(history[i], "ret")
            if k < len(inv) and t_inv is not None:
                anchors.setdefault(t_inv, inv[k])
            if k < len(ret) and t_ret is not None:
                anchors.setdefault(t_ret, ret[k])
    # Sim histories are recorded in steps already: then trust them as they are.
    identity = bool(anchors) and all(t == s for t, s in anchors.items())
    keys = sorted(anchors)

    def window(t: int) -> tuple[int, int]:
        i = bisect_left(keys, t)
        lo = anchors[keys[i - 1]] if i > 0 else -1
        hi = anchors[keys[i]] if i < len(keys) else 1 << 62
        return lo, hi

    def interpolate(t: int) -> int:
        i = bisect_left(keys, t)
        if not keys:
            return t
        if i == 0:
            return max(0, anchors[keys[0]] - (keys[0] - t))
        if i == len(keys):
            return anchors[keys[-1]] + (t - keys[-1])
        t0, t1 = keys[i - 1], keys[i]
        s0, s1 = anchors[t0], anchors[t1]
        return s0 + (s1 - s0) * (t - t0) // max(1, t1 - t0)

    all_times = sorted({t for h in history for t in (pos(h, "invoke"), pos(h, "ret")) if t is not None})
    rank = {t: i for i, t in enumerate(all_times)}

    ops: list[Op] = []
    for h, lane in zip(history, lanes, strict=True):
        t_inv = pos(h, "invoke")
        t_ret = pos(h, "ret")
        assert t_inv is not None
        if not steps:  # a bare history: its event order is the axis
            start, end = rank[t_inv], (rank[t_ret] if t_ret is not None else None)
        elif identity:
            start, end = max(0, t_inv), (max(t_inv, t_ret) if t_ret is not None else None)
        else:
            start = anchors.get(t_inv, -1)
            if start < 0 and not keys:  # nothing to match: positions are taken as steps
                start = t_inv
            if start < 0:
                lo, hi = window(t_inv)
                inside = [s for s in ran.get(lane, []) if lo < s < hi]
                start = inside[0] if inside else interpolate(t_inv)
            end = None
            if t_ret is not None:
                end = anchors.get(t_ret, -1)
                if end < 0 and not keys:
                    end = t_ret
                if end < 0:
                    lo, hi = window(t_ret)
                    inside = [s for s in ran.get(lane, []) if max(lo, start - 1) < s < hi]
                    end = inside[-1] if inside else interpolate(t_ret)
                end = max(start, end)
        start = max(0, min(start, 20 * MAX_STEPS))
        if end is not None:
            end = max(start, min(end, 20 * MAX_STEPS))
        status = h.get("status")
        ops.append(
            Op(
                id=clean(h.get("id"), 20),
                lane=lane,
                call=_call(h),
                result=_result(h),
                status=status if isinstance(status, str) and status in ("ok", "fail", "info") else "info",
                start=start,
                end=end,
            )
        )
    return ops


def _mark(doc: Mapping[str, Any], ops: list[Op], steps: list[Step]) -> list[Op]:
    """The longest linearizable prefix (order numbers) and the failing operation."""
    expl = doc.get("explanation")
    order: dict[str, int] = {}
    stuck_id: str | None = None
    if isinstance(expl, dict):
        prefixes = expl.get("longest_prefixes")
        if isinstance(prefixes, list):
            best = max((p for p in prefixes if isinstance(p, list)), key=len, default=[])
            for n, op_id in enumerate(best, 1):
                order.setdefault(clean(op_id, 20), n)
        if "stuck_op" in expl and expl["stuck_op"] is not None:
            stuck_id = clean(expl["stuck_op"], 20)
    if stuck_id is None or not any(op.id == stuck_id for op in ops):
        stuck_id = _failing_op(doc, ops, steps)
    out = []
    for op in ops:
        stuck = stuck_id is not None and op.id == stuck_id
        result = op.result or ("-> None" if stuck and op.status == "ok" else "")
        out.append(Op(**{**op.__dict__, "order": order.get(op.id), "stuck": stuck, "result": result}))
    return out


def _failing_op(doc: Mapping[str, Any], ops: list[Op], steps: list[Step]) -> str | None:
    """No checker verdict: which operation failed?

    A hang or deadlock leaves operations that never return: the one whose
    lane the message names (``T1 in take() can never finish``), else the
    first of them.  Otherwise (an assertion, an exception) the last operation
    of the thread that ran last.
    """
    pending = [op for op in ops if op.end is None]
    if pending:
        message = str(doc.get("message", ""))
        named = [op for op in pending if re.search(rf"(?<![\w-]){re.escape(op.lane)}(?![\w-])", message)]
        return (named or pending)[0].id
    failing_lane = steps[-1].lane if steps else (ops[-1].lane if ops else None)
    candidates = [op for op in ops if op.lane == failing_lane]
    return max(candidates, key=lambda op: op.start).id if candidates else None


def _stack(ops: list[Op]) -> list[Op]:
    """Give overlapping operations of one lane separate sub-rows."""
    out: list[Op] = []
    ends: dict[str, list[int]] = {}
    for op in sorted(ops, key=lambda o: (o.start, o.end if o.end is not None else 1 << 62)):
        rows = ends.setdefault(op.lane, [])
        end = op.end if op.end is not None else 1 << 62
        for r, busy in enumerate(rows):
            if busy < op.start:
                rows[r] = end
                out.append(Op(**{**op.__dict__, "row": r}))
                break
        else:
            rows.append(end)
            out.append(Op(**{**op.__dict__, "row": len(rows) - 1}))
    return out


def _replays(data: object) -> tuple[Replay, ...]:
    if not isinstance(data, dict):
        return ()
    out = []
    for name, r in sorted(data.items(), key=lambda kv: str(kv[0])):
        r = r if isinstance(r, dict) else {}
        unit = "schedules" if "schedules" in r else "runs"
        schedules = r.get("schedules", r.get("runs"))
        out.append(
            Replay(
                variant=clean(name, 80),
                outcome=clean(r.get("outcome", "?"), 40),
                message=clean(r.get("message") or "", 400),
                schedules="" if schedules is None else clean(schedules, 20),
                exhaustive=r.get("exhaustive") is True,
                unit=unit,
            )
        )
    return tuple(out)


