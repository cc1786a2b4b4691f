"""Geometry of the SVG timeline: where each lane, bar, mark and tick goes.

Only numbers and already-cleaned strings come out of here; the markup is
written by the ``timeline.svg`` template, so every string goes through
jinja2's autoescaping like the rest of the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from racekit.timeline import Timeline

LEFT = 112  # lane labels
RIGHT = 24
TOP = 30  # step axis
MARK_H = 12  # room above the bars for preemption marks
ROW_H = 28  # one row of bars
BAR_H = 22
DOTS_H = 12  # room below the bars for the step dots
CHAR_W = 7.3  # 12px monospace
MAX_WIDTH = 1600
MAX_ROWS = 16  # overlapping operations drawn per lane


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str  # cut to fit the bar
    title: str  # full text, shown on hover
    cls: str  # "op", "op prefix", "op stuck"
    open_end: bool
    badge: str  # "1" .. for the linearizable prefix order, else ""


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    cls: str  # "preemption" | "switch"
    points: str
    title: str


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    title: str
    cls: str  # "step" | "step failing" | "step fault"


@dataclass(frozen=True)
class LaneBox:
    name: str
    y: float
    h: float
    label: str
    band: str  # "band odd" / "band even"
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Svg:
    width: float
    height: float
    left: float
    right: float
    top: float
    cell: float
    lanes: tuple[LaneBox, ...]
    ticks: tuple[Tick, ...]
    hidden: int = 0  # overlapping operations not drawn


def _cut(text: str, room: float) -> str:
    n = int(room // CHAR_W)
    if n <= 0:
        return ""
    return text if len(text) <= n else text[: max(0, n - 1)] + "…"


def layout(tl: Timeline) -> Svg:
    """Place the timeline: one lane per thread/node, bars from invoke to return."""
    n = max(1, tl.length)
    cell = max(6.0, min(64.0, 1000.0 / n))
    if LEFT + n * cell + RIGHT > MAX_WIDTH:
        cell = max(1.0, (MAX_WIDTH - LEFT - RIGHT) / n)
    right = LEFT + n * cell

    def x(step: int) -> float:
        return round(LEFT + step * cell, 2)

    lanes: list[LaneBox] = []
    y = float(TOP)
    last = tl.steps[-1] if tl.steps else None
    hidden = 0
    for i, lane in enumerate(tl.lanes):
        rows = min(lane.rows, MAX_ROWS)
        h = MARK_H + rows * ROW_H + DOTS_H
        bars = []
        for op in tl.ops:
            if op.lane != lane.name:
                continue
            if op.row >= rows:
                hidden += 1
                continue
            x0 = x(op.start)
            x1 = x(op.end + 1) if op.end is not None else right
            w = max(3.0, x1 - x0 - 2)
            badge = str(op.order) if op.order else ""
            text = op.label + (" ✗" if op.stuck else "")
            room = w - 8 - (len(badge) * CHAR_W + 6 if badge else 0)
            cls = "op stuck" if op.stuck else "op prefix" if op.order else "op"
            title = f"#{op.id} {op.label} [{op.status}] steps {op.start}–{'' if op.end is None else op.end}"
            if op.order:
                title += f"; place {op.order} in the longest linearizable prefix"
            if op.stuck:
                title += "; this operation cannot be placed"
            bars.append(
                Bar(x=x0 + 1, y=y + MARK_H + op.row * ROW_H, w=round(w, 2), h=BAR_H,
                    label=_cut(text, room), title=title, cls=cls, open_end=op.end is None, badge=badge)
            )
        marks = []
        dots = []
        for s in (st for st in tl.steps if st.lane == lane.name):
            cx = round(x(s.step) + cell / 2, 2)
            where = f" @ {s.where}" if s.where else ""
            src = f" | {s.source}" if s.source else ""
            dots.append(Dot(cx=cx, cy=y + h - DOTS_H / 2, title=f"step {s.step}: {s.what}{where}{src}",
                            cls="step failing" if s is last else "step fault" if s.fault else "step"))
            if s.preemption or s.switch:
                mx, my = x(s.step) + 1, y + 2
                points = f"{mx - 5:.1f},{my:.1f} {mx + 5:.1f},{my:.1f} {mx:.1f},{my + 8:.1f}"
                kind = "preemption" if s.preemption else "switch"
                marks.append(Mark(x=mx, y=my, cls=kind, points=points,
                                  title=f"step {s.step}: {kind} to {s.lane}"))
        lanes.append(
            LaneBox(name=lane.name, y=y, h=h, label=_cut(lane.name, LEFT - 16),
                    band="band odd" if i % 2 else "band even",
                    bars=tuple(bars), marks=tuple(marks), dots=tuple(dots))
        )
        y += h
    every = next(k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10**9)
                 if k * cell >= 8 + len(str(n)) * CHAR_W or k >= n)
    ticks = tuple(Tick(x=x(s), label=str(s)) for s in range(0, n, every))
    return Svg(width=round(right + RIGHT, 2), height=y + 6, left=LEFT, right=round(right, 2),
               top=TOP, cell=round(cell, 3), lanes=tuple(lanes), ticks=ticks, hidden=hidden)
