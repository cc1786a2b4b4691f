"""Anomaly cycles drawn: an SVG per cycle, on one static HTML page.

The transactions of a cycle sit on a circle in the order the cycle visits
them; each step is a curved arrow coloured by its relation (rw, the
anti-dependency, dashed), labelled with the relation and key.  Below each
drawing: the explanation in words, the steps, and every transaction as the
history wrote it.  Non-cycle anomalies are listed with their explanation.

Everything from the history is untrusted text: it reaches the page only
through jinja2's autoescaping, the page forbids scripts with a
Content-Security-Policy, and it has no JavaScript at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from racekit.txn.check import TxnResult
from racekit.txn.explain import Cycle, bindings

MAX_SHOWN = 3  # examples drawn per anomaly type
NODE_W, NODE_H = 150.0, 42.0


@dataclass
class Node:
    x: float
    y: float
    name: str
    sub: str
    title: str
    w: float = NODE_W
    h: float = NODE_H


@dataclass
class Edge:
    d: str
    rel: str
    label: str
    title: str
    lx: float
    ly: float
    lw: float


@dataclass
class CycleSvg:
    id: str
    width: float
    height: float
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    rels: list[str] = field(default_factory=list)


def layout(cycle: Cycle, ident: str, ops: dict[int, str] | None = None) -> CycleSvg:
    """Node and edge geometry for one cycle; ``ops`` maps op indices to their EDN (tooltips)."""
    order = [int(n.split(" = op ")[1]) for n in cycle.names]
    names = {int(n.split(" = op ")[1]): n.split(" = ")[0] for n in cycle.names}
    n = len(order)
    radius = max(120.0, (NODE_W + 50) * n / (2 * math.pi))
    margin = NODE_W / 2 + 40
    cx = cy = radius + margin
    pos: dict[int, tuple[float, float]] = {}
    svg = CycleSvg(ident, 2 * cx, 2 * cy, f"A {cycle.type} cycle over {n} transactions")
    for i, idx in enumerate(order):
        angle = -math.pi / 2 + 2 * math.pi * i / n if n > 1 else 0.0
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        pos[idx] = (x, y)
        shown = (ops or {}).get(idx, f"op {idx}")
        svg.nodes.append(Node(x, y, names[idx], f"op {idx}", f"{names[idx]} = {shown}"))
    for step in cycle.steps:
        (x1, y1), (x2, y2) = pos[step.a], pos[step.b]
        dx, dy = x2 - x1, y2 - y1
        dist = math.hypot(dx, dy) or 1.0
        ux, uy = dx / dist, dy / dist
        # bow each arrow to its left, so a -> b and b -> a do not overlap
        bow = min(60.0, 0.25 * dist)
        mx, my = (x1 + x2) / 2 - uy * bow, (y1 + y2) / 2 + ux * bow
        sx, sy = _border(x1, y1, mx, my)
        ex, ey = _border(x2, y2, mx, my)
        lx, ly = 0.25 * sx + 0.5 * mx + 0.25 * ex, 0.25 * sy + 0.5 * my + 0.25 * ey
        label = step.rel if step.key is None else f"{step.rel} {step.key}"
        if len(label) > 18:
            label = label[:17] + "…"
        svg.edges.append(Edge(f"M{sx:.1f},{sy:.1f} Q{mx:.1f},{my:.1f} {ex:.1f},{ey:.1f}", step.rel, label,
                              step.text, lx, ly, 7.2 * len(label) + 8))
    svg.rels = sorted({e.rel for e in svg.edges})
    return svg


def _border(x: float, y: float, tx: float, ty: float) -> tuple[float, float]:
    """Where the ray from a node's centre towards (tx, ty) leaves its box (plus a gap for the arrow)."""
    dx, dy = tx - x, ty - y
    if dx == 0 and dy == 0:
        return x, y
    scale = min((NODE_W / 2 + 4) / abs(dx) if dx else math.inf, (NODE_H / 2 + 4) / abs(dy) if dy else math.inf)
    return x + dx * scale, y + dy * scale


def environment() -> jinja2.Environment:
    """Package-data templates, autoescape on everywhere."""

    def source(name: str) -> str | None:
        if "/" in name or name.startswith("."):
            return None
        node = resources.files("racekit.txn").joinpath("templates").joinpath(name)
        return node.read_text(encoding="utf-8") if node.is_file() else None

    env = jinja2.Environment(loader=jinja2.FunctionLoader(source), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v: f"{v:.1f}".rstrip("0").rstrip(".")
    return env


def render_page(result: TxnResult, title: str = "txncheck", up: str | None = None) -> str:
    """The HTML page of a check result; ``up``: the relative path to a gallery index to link back to."""
    history = result.history
    ops = {op.index: op.to_edn() for op in history.completions} if history else {}
    sections: list[dict[str, Any]] = []
    for kind in result.anomaly_types:
        cases = result.anomalies.get(kind, [])
        shown = []
        for i, case in enumerate(cases[:MAX_SHOWN]):
            if isinstance(case, Cycle):
                shown.append({"svg": layout(case, f"{kind}-{i}", ops), "text": case.explanation,
                              "steps": case.steps, "bindings": bindings(case, history) if history else []})
            else:
                shown.append({"svg": None, "text": _text(kind, case)})
        sections.append({"type": kind, "anchor": kind, "count": len(cases), "shown": shown})
    verdict = {True: "valid", False: "invalid", "unknown": "unknown"}[result.valid]
    return environment().get_template("anomalies.html").render(
        title=title, verdict=verdict, workload=result.workload, transactions=result.operations,
        not_=result.not_, also_not=result.also_not, anomalies=sections, up=up)


def _text(kind: str, case: Any) -> str:
    if isinstance(case, dict):
        if "explanation" in case:
            return str(case["explanation"])
        if "model" in case:
            return f"a cycle that {case['model']} forbids exists among {case['scc-size']} transactions"
    if kind == "empty-transaction-graph":
        return "no dependency between transactions could be inferred"
    return str(case)


def write_page(result: TxnResult, path: str | Path, title: str = "txncheck") -> Path:
    out = Path(path)
    out.write_text(render_page(result, title), encoding="utf-8")
    return out
