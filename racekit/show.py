"""``racekit show``: a counterexample's timeline drawn in the terminal.

The model (lanes, operations, steps, replays) is :mod:`racekit.timeline`;
this module only lays it out in columns - rich styles on a terminal, plain
ASCII otherwise.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.text import Text

from racekit.timeline import Timeline, timeline

__all__ = ["MAX_ROWS", "render_plain", "render_terminal"]

#: Overlapping operations of one lane drawn in the terminal (sub-rows).
MAX_ROWS = 6


# --------------------------------------------------------------------------
# Terminal rendering
#
# Both renderings build the same lines as lists of (text, style) segments;
# the rich one styles them, the plain one keeps only ASCII text.

Seg = tuple[str, str]
Line = list[Seg]

_GLYPHS = {
    "rich": {"fault": "×", "dot": "·", "preempt": "▲", "switch": "╵", "arrow": "→", "cut": "…", "open": "…", "rule": "─"},
    "plain": {"fault": "X", "dot": ".", "preempt": "^", "switch": "'", "arrow": "->", "cut": "~", "open": ">", "rule": "-"},
}

_STYLE = {
    "title": "bold",
    "label": "bold cyan",
    "dim": "dim",
    "op": "black on grey70",
    "prefix": "black on green3",
    "stuck": "bold white on red3",
    "preempt": "bold red",
    "switch": "yellow",
    "bad": "bold red",
    "good": "bold green",
    "source": "italic",
    "head": "bold underline",
}


def _fit(text: str, width: int, cut: str = "…") -> str:
    """Exactly ``width`` terminal cells: padded, or cut with ``cut``."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, max(0, width - cell_len(cut))) + cut


def _cut(text: str, width: int, cut: str = "…") -> str:
    """At most ``width`` cells: cut with ``cut`` when longer, never padded."""
    return text if cell_len(text) <= width else _fit(text, width, cut)


def _asciify(text: str) -> str:
    return "".join(ch if ch.isascii() else _ASCII.get(ch, "?") for ch in text)


_ASCII = {"…": "~", "→": "->", "·": ".", "▲": "^", "─": "-", "✗": "x", "✓": "v", "×": "X"}


class _Canvas:
    """One text row of fixed width where styled runs can be painted."""

    def __init__(self, width: int) -> None:
        self.chars = [" "] * width
        self.styles = [""] * width

    def paint(self, col: int, text: str, style: str) -> None:
        for i, ch in enumerate(text):
            if 0 <= col + i < len(self.chars):
                self.chars[col + i] = ch
                self.styles[col + i] = style

    def segments(self) -> Line:
        out: Line = []
        for ch, st in zip(self.chars, self.styles, strict=True):
            if out and out[-1][1] == st:
                out[-1] = (out[-1][0] + ch, st)
            else:
                out.append((ch, st))
        return out


def _lines(tl: Timeline, width: int, mode: str) -> list[Line]:
    g = _GLYPHS[mode]
    width = max(40, width)
    out: list[Line] = []

    def text(t: str, style: str = "") -> None:
        out.append([(t, style)])

    def wrapped(label: str, body: str, style: str = "") -> None:
        indent = 8
        chunks = textwrap.wrap(body, width - indent, break_long_words=True, break_on_hyphens=False) or [""]
        for i, chunk in enumerate(chunks[:12]):
            out.append([(_fit(label if i == 0 else "", indent), _STYLE["label"]), (chunk, style)])

    title = f"{tl.system} / {tl.variant}: {tl.prop}"
    sub = tl.headline
    text(_cut(title, width), _STYLE["title"])
    text(_cut(sub, width), _STYLE["dim"])
    out.append([])
    if tl.bug:
        wrapped("bug", tl.bug)
    wrapped("why", tl.explanation, _STYLE["bad"])
    out.append([])

    # -- the timeline
    out += _timeline_lines(tl, width, mode)
    out.append([])

    # -- the step-by-step trace
    out += _trace_lines(tl, width, mode)
    out.append([])

    # -- before / after
    text("Before and after the fix", _STYLE["head"])
    vw = min(24, max([cell_len(tl.variant)] + [cell_len(r.variant) for r in tl.replay])) + 4
    ow = min(14, max([9] + [cell_len(r.outcome) for r in tl.replay])) + 1
    out.append(
        [(_fit(f"  {tl.variant}", vw, g["cut"]), ""), (_fit("violation", ow), _STYLE["bad"]),
         (_fit(tl.message, width - vw - ow, g["cut"]), _STYLE["dim"])]
    )
    for r in tl.replay:
        extra = f"{r.schedules} {r.unit}" if r.schedules else ""
        if r.exhaustive:
            extra += ", exhaustive" if extra else "exhaustive"
        note = r.message if r.message else extra
        style = _STYLE["good"] if r.outcome == "clean" else _STYLE["bad"]
        out.append([(_fit(f"  {r.variant}", vw, g["cut"]), ""), (_fit(r.outcome, ow - 1, g["cut"]) + " ", style),
                    (_fit(note, width - vw - ow, g["cut"]), _STYLE["dim"])])
    if not tl.replay:
        text("  (no fixed variant replayed)", _STYLE["dim"])
    if tl.replay_command:
        out.append([])
        out.append([("replay: ", _STYLE["label"]), (_fit(tl.replay_command, width - 8, g["cut"]), "")])
    if mode == "plain":
        out = [[(_asciify(t), s) for t, s in line] for line in out]
    return out


def _timeline_lines(tl: Timeline, width: int, mode: str) -> list[Line]:
    g = _GLYPHS[mode]
    out: list[Line] = []
    head = f"Timeline: {len(tl.lanes)} lanes, {tl.length} steps, {tl.preemptions} preemption(s)"
    out.append([(_cut(head, width), _STYLE["head"])])
    label_w = min(12, max([cell_len(lane.name) for lane in tl.lanes] + [5])) + 2
    avail = width - label_w - 1
    n = max(1, tl.length)
    cell = max(1, min(8, avail // n))
    span = n * cell if n * cell <= avail else avail

    def col(step: int) -> int:
        return step * cell if n * cell <= avail else step * avail // n

    def col_end(step: int) -> int:  # the first column after this step
        return max(col(step) + 1, col(step + 1)) if step + 1 < n else span

    # ruler
    ruler = _Canvas(span)
    digits = len(str(n - 1)) + 1
    every = next(k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 10**9)
                 if col(min(k, n)) - col(0) >= digits or k >= n)
    for k in range(0, n, every):
        if col(k) + len(str(k)) <= span:
            ruler.paint(col(k), str(k), _STYLE["dim"])
    out.append([(_fit("step", label_w), _STYLE["dim"]), *ruler.segments()])

    hidden = 0
    for lane in tl.lanes:
        rows = [_Canvas(span) for _ in range(min(lane.rows, MAX_ROWS))]
        for st in tl.steps:
            if st.lane == lane.name and (st.fault or rows[0].chars[col(st.step)] == " "):
                rows[0].paint(col(st.step), g["fault"] if st.fault else g["dot"],
                              _STYLE["bad"] if st.fault else _STYLE["dim"])
        for op in tl.ops:
            if op.lane != lane.name:
                continue
            if op.row >= len(rows):
                hidden += 1
                continue
            a = col(op.start)
            b = col_end(op.end) if op.end is not None else span
            w = max(1, b - a)
            style = _STYLE["stuck"] if op.stuck else _STYLE["prefix"] if op.order else _STYLE["op"]
            badge = f"{op.order}:" if op.order else ""
            mark = " x" if op.stuck and mode == "plain" else " ✗" if op.stuck else ""
            label = f"{badge}{op.label}{mark}"
            if op.end is None:
                label = label + " " + g["open"]
            if mode == "plain":
                if w < 4:  # too narrow for a label: a bare bar
                    body = "|" if w == 1 else "[" + "=" * (w - 2) + "]"
                else:
                    inner = _fit(label, w - 2, g["cut"]).rstrip()
                    body = "[" + inner + "=" * (w - 2 - len(inner)) + ("]" if op.end is not None else ">")
            else:
                body = " " * w if w < 3 else _fit(label, w, g["cut"])
            rows[op.row].paint(a, body, style)
        for r, canvas in enumerate(rows):
            name = _fit(lane.name if r == 0 else "", label_w - 1, g["cut"]) + " "
            out.append([(name, _STYLE["label"]), *canvas.segments()])

    sw = _Canvas(span)
    for s in tl.steps if tl.scheduled else ():
        if s.switch or s.preemption:
            if s.preemption:
                sw.paint(col(s.step), g["preempt"], _STYLE["preempt"])
            elif sw.chars[col(s.step)] == " ":
                sw.paint(col(s.step), g["switch"], _STYLE["switch"])
    if tl.scheduled:
        out.append([(_fit("switch", label_w), _STYLE["dim"]), *sw.segments()])
    if hidden:
        out.append([(_cut(f"{' ' * label_w}({hidden} more overlapping operation(s) not drawn)", width), _STYLE["dim"])])

    legend: Line = [(" " * label_w, "")]
    if mode == "plain":
        legend += [("[op] operation  ", "")]
        if any(op.order for op in tl.ops):
            legend += [("n: linearizable prefix order  ", "")]
        if tl.stuck is not None:
            legend += [("x failing op  ", "")]
    else:
        legend += [("op", _STYLE["op"]), (" operation ", "")]
        if any(op.order for op in tl.ops):
            legend += [("n:", _STYLE["prefix"]), (" longest linearizable prefix ", "")]
        if tl.stuck is not None:
            legend += [("op", _STYLE["stuck"]), (" failing op ", "")]
    if tl.scheduled:
        legend += [(g["preempt"], _STYLE["preempt"]), (" preemption  ", ""), (g["switch"], _STYLE["switch"]), (" switch", "")]
    else:
        legend += [(g["dot"], _STYLE["dim"]), (" event  ", "")]
    if any(st.fault for st in tl.steps):
        legend += [(g["fault"], _STYLE["bad"]), (" fault", "")]
    out.append(_crop(legend, width))
    return out


def _crop(line: Line, width: int) -> Line:
    out: Line = []
    used = 0
    for t, s in line:
        room = width - used
        if room <= 0:
            break
        if cell_len(t) > room:
            t = set_cell_size(t, room)
        out.append((t, s))
        used += cell_len(t)
    return out


def _trace_lines(tl: Timeline, width: int, mode: str) -> list[Line]:
    g = _GLYPHS[mode]
    out: list[Line] = []
    head = f"Schedule: {len(tl.steps)} steps" + (f" ({tl.omitted_steps} more not shown)" if tl.omitted_steps else "")
    out.append([(_cut(head, width), _STYLE["head"])])
    if not tl.steps:
        out.append([("  (the file records no trace)", _STYLE["dim"])])
        return out
    step_w = max(4, len(str(tl.steps[-1].step)) + 1)
    lane_w = min(10, max(cell_len(s.lane) for s in tl.steps)) + 1
    has_source = any(s.source for s in tl.steps)
    rest = width - 2 - step_w - 1 - lane_w - 1
    what_w = min(max(cell_len(s.what) for s in tl.steps) + 1, 34 if has_source else rest // 2)
    where_w = min(max([cell_len(s.where) for s in tl.steps] + [5]) + 1, 26 if has_source else rest - what_w)
    src_w = rest - what_w - where_w if has_source else 0
    if has_source and src_w < 16:
        what_w = max(12, what_w - (16 - src_w))
        src_w = rest - what_w - where_w
    header: Line = [("  ", ""), (_fit("step", step_w).rjust(step_w), _STYLE["dim"]), (" ", ""),
                    (_fit("lane", lane_w), _STYLE["dim"]), (" ", ""), (_fit("what", what_w), _STYLE["dim"])]
    if has_source:
        header += [(_fit("where", where_w), _STYLE["dim"]), ("source", _STYLE["dim"])]
    else:
        header.append(("where", _STYLE["dim"]))
    out.append(_crop(header, width))
    for s in tl.steps:
        mark = (g["preempt"], _STYLE["preempt"]) if s.preemption else (g["switch"], _STYLE["switch"]) if s.switch else (" ", "")
        mark = (_fit(mark[0], 2), mark[1])
        lane_style = _STYLE["bad"] if s is tl.steps[-1] or s.fault else _STYLE["label"]
        line: Line = [
            mark,
            (str(s.step).rjust(step_w - 1) + " ", ""),
            (" ", ""),
            (_fit(s.lane, lane_w - 1, g["cut"]) + " ", lane_style),
            (" ", ""),
            (_fit(s.what, what_w - 1, g["cut"]) + " ", ""),
        ]
        if has_source:
            line.append((_fit(s.where, where_w - 1, g["cut"]) + " ", _STYLE["dim"]))
            line.append((_cut(s.source or "", src_w, g["cut"]), _STYLE["source"]))
        else:
            line.append((_cut(s.where, where_w, g["cut"]), _STYLE["dim"]))
        out.append(_crop(line, width))
    return out


def render_terminal(doc: Mapping[str, Any], console: Console, root: Path | None = None) -> None:
    """Print the counterexample on ``console``, fitted to its width."""
    tl = timeline(doc, root)
    for line in _lines(tl, console.width, "rich"):
        t = Text(no_wrap=True, overflow="crop", end="\n")
        for chunk, style in _rstrip(line):
            t.append(chunk, style=style or None)
        console.print(t, crop=True, soft_wrap=False, highlight=False, markup=False, emoji=False)


def _rstrip(line: Line) -> Line:
    """Drop trailing blanks, but keep a bar's coloured padding."""
    out = list(line)
    while out and not out[-1][1] and not out[-1][0].strip():
        out.pop()
    if out and not out[-1][1]:
        out[-1] = (out[-1][0].rstrip(), "")
    return out


def render_plain(doc: Mapping[str, Any], width: int = 100, root: Path | None = None) -> str:
    """The same view as plain ASCII text, no line wider than ``width``."""
    tl = timeline(doc, root)
    lines = ["".join(t for t, _ in line).rstrip() for line in _lines(tl, width, "plain")]
    return "\n".join(line[: max(40, width)] for line in lines) + "\n"
