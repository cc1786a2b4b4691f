"""Opcode tracing's price on the catalogue: exhaustive DPOR over each fixed
thread variant's declared scenario, traced (the system's files) vs untraced
(racekit primitives only).  Each row: schedules and CPU seconds both ways
(process time: stable on a shared machine; after one warm-up run, since the
opcode tables are built once per process), and the traced/untraced time
ratio, measured in this process.  A scenario not exhausted within BUDGET
(env, default 50,000) schedules says so.

Run: ``.venv/bin/python benchmarks/traced_cost.py [SYSTEM ...]``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from racekit.registry import load_machine, load_system, system_names  # noqa: E402
from racekit.sched.explore import search  # noqa: E402
from racekit.sched.scenario import code_files  # noqa: E402

BUDGET = int(os.environ.get("BUDGET", "50000"))


def scenario_for(machine: type, variant: str) -> list:
    """The variant's declared seed scenario (``variant_seeds``, else ``seed_scenario``)."""
    per = getattr(machine, "variant_seeds", {}) or {}
    return per.get(variant) or machine.seed_scenario  # type: ignore[attr-defined, no-any-return]


def measure(machine: type, variant: object, traced: bool) -> tuple[int, float, bool, str | None]:
    harness = machine.harness(variant)  # type: ignore[attr-defined]
    harness.trace_files = code_files(variant.factory) if traced else frozenset()  # type: ignore[attr-defined]
    program = harness.program(scenario_for(machine, variant.name))  # type: ignore[attr-defined]
    search(program, "dpor", budget=1, minimize=False)  # warm up: opcode tables are built once per process
    start = time.process_time()
    res = search(program, "dpor", budget=BUDGET, minimize=False)
    return res.schedules, time.process_time() - start, res.exhausted, res.kind


def main(argv: list[str]) -> None:
    names = argv or [n for n in system_names() if load_system(n).kind == "thr"]
    print(f"{'system/variant':<40} {'traced':>16} {'untraced':>16} {'ratio':>7}", flush=True)
    for name in names:
        system = load_system(name)
        if system.kind != "thr":
            continue
        machine = load_machine(name)
        for v in system.fixed:
            ts, tt, tex, tk = measure(machine, v, True)
            us, ut, uex, uk = measure(machine, v, False)
            flag = "" if tex and uex and tk is None and uk is None else f"  (traced {tk} exhausted={tex}; untraced {uk} exhausted={uex})"
            print(f"{name + '/' + v.name:<40} {ts:>7} {tt:>7.2f} s {us:>7} {ut:>7.2f} s {tt / max(ut, 1e-9):>6.1f}x{flag}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
