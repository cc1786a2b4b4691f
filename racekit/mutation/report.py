"""Scores and tables of a mutation run: the terminal, JSON rows, and the Markdown of docs/mutation.md.

The score of a system is ``killed / run``: mutants the check returned a
violation for, over every mutant that was run.  Timeouts and errors are
*not* counted as kills - a harness that hangs or crashes on a bug has not
reported it - but are shown in columns of their own; uncovered and skipped
mutants were not run and are not in the denominator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from racekit.mutation.ledger import fingerprint
from racekit.mutation.runner import Baseline, MutantResult

RUN_STATUSES = ("killed", "survived", "timeout", "error")


@dataclass
class Score:
    system: str
    counts: dict[str, int]

    @property
    def run(self) -> int:
        return sum(self.counts.get(s, 0) for s in RUN_STATUSES)

    @property
    def killed(self) -> int:
        return self.counts.get("killed", 0)

    @property
    def ratio(self) -> float | None:
        return self.killed / self.run if self.run else None

    def percent(self) -> str:
        r = self.ratio
        return "-" if r is None else f"{100 * r:.0f}%"


class _HasStatus(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def mutant(self) -> Any: ...


def scores(results: Sequence[_HasStatus]) -> list[Score]:
    """One score per system (in first-seen order) and a last one, ``all``, over everything."""
    by: dict[str, dict[str, int]] = {}
    total: dict[str, int] = {}
    for r in results:
        c = by.setdefault(r.mutant.system, {})
        c[r.status] = c.get(r.status, 0) + 1
        total[r.status] = total.get(r.status, 0) + 1
    return [Score(s, c) for s, c in by.items()] + [Score("all", total)]


COLUMNS = ("killed", "survived", "timeout", "error", "equivalent", "uncovered", "skipped")


def print_terminal(results: Sequence[MutantResult], bases: Sequence[Baseline], show_all: bool) -> None:
    """Every mutant (or only the ones that were run and not killed), the scores, survivors' diffs."""
    from rich.console import Console
    from rich.syntax import Syntax
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    table = Table(title="racekit mutate")
    for col in ("system", "variant", "mutant", "operator", "where", "status", "property", "s"):
        table.add_column(col, overflow="fold")
    style = {"killed": "green", "survived": "bold red", "timeout": "yellow", "error": "yellow", "equivalent": "cyan",
             "uncovered": "dim", "skipped": "dim"}
    for r in results:
        if not show_all and r.status in ("killed", "equivalent", "uncovered", "skipped"):
            continue
        m = r.mutant
        table.add_row(m.system, m.variant, m.id, m.operator, m.where.split(" ", 1)[-1], f"[{style[r.status]}]{r.status}[/]",
                      r.prop or r.message[:60], f"{r.seconds:.1f}")
    if table.row_count:
        console.print(table)
    summary = Table(title="mutation score per system (killed / run)")
    for col in ("system", *COLUMNS, "score"):
        summary.add_column(col, justify="right" if col != "system" else "left")
    for sc in scores(results):
        summary.add_row(sc.system, *(str(sc.counts.get(c, 0)) for c in COLUMNS), sc.percent())
    console.print(summary)
    for b in bases:
        if not b.ok:
            console.print(f"[yellow]{b.system}/{b.variant}: {b.message}[/]")
    for r in results:
        if r.status == "survived":
            m = r.mutant
            console.rule(f"survivor {m.system}/{m.variant} {m.id} ({m.note})")
            console.print(Syntax(m.diff(), "diff", theme="ansi_dark", background_color="default"))
            console.print(f"[dim]equivalent? record it in mutants/equivalent.toml: system = {m.system!r}, "
                          f"variant = {m.variant!r}, mutant = '{m.operator}:{m.function}', "
                          f"fingerprint = '{fingerprint(m)}', why = '...'[/]")


def markdown(rows: Sequence[dict[str, Any]], notes: Sequence[str] = ()) -> str:
    """The tables of docs/mutation.md from JSON rows: per system, per operator, every mutant not killed."""
    results = [_Row(r) for r in rows]
    out = ["| system | mutants | " + " | ".join(COLUMNS) + " | score |", "|---|" + "---:|" * (len(COLUMNS) + 2)]
    for sc in scores(results):
        total = sum(sc.counts.values())
        name = f"**{sc.system}**" if sc.system == "all" else sc.system
        out.append(f"| {name} | {total} | " + " | ".join(str(sc.counts.get(c, 0)) for c in COLUMNS) + f" | {sc.percent()} |")
    out.append("")
    by_op: dict[str, dict[str, int]] = {}
    for r in rows:
        c = by_op.setdefault(str(r["operator"]), {})
        c[str(r["status"])] = c.get(str(r["status"]), 0) + 1
    out += ["| operator | " + " | ".join(COLUMNS) + " | score |", "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for op, c in by_op.items():
        out.append(f"| {op} | " + " | ".join(str(c.get(x, 0)) for x in COLUMNS) + f" | {Score(op, c).percent()} |")
    out.append("")
    notable = [r for r in rows if r["status"] in ("survived", "timeout", "error", "equivalent")]
    if notable:
        out += ["| system/variant | mutant | where | change | status | why / message |", "|---|---|---|---|---|---|"]
        for r in notable:
            why = str(r.get("message", "")).replace("|", "\\|")
            out.append(f"| {r['system']}/{r['variant']} | `{r['mutant']}` | `{r['where']}` | {r['note']} | {r['status']} | {why} |")
        out.append("")
    out += [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


@dataclass
class _Mut:
    system: str


class _Row:
    """A JSON row seen through the two attributes :func:`scores` reads."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.mutant = _Mut(str(row["system"]))
        self.status = str(row["status"])
