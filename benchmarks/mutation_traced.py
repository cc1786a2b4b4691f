"""Blind spot [1] of issue 11, measured: re-run untraced variants' surviving mutants with tracing on.

    python benchmarks/mutation_traced.py RUN.json OUT.json

For every mutant of a variant declared ``options={"trace_files": ()}`` that
``RUN.json`` (rows of ``racekit mutate --json``) reports survived, error or
timeout, the mutant is checked again with the opt-out removed from its copy
(``LOCK_BASED = {}``), after each unmutated variant is checked the same way.
Prints one JSON line per check and writes them all to ``OUT.json``; the
``traced`` column of docs/mutation.md comes from here.  Only meaningful while
the opt-out exists; once every variant is traced there is nothing to compare.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from racekit.registry import catalogue_root, load_system
from racekit.mutation.generate import select_operators, variant_mutants
from racekit.mutation.runner import run_check, verdict

OFF = 'LOCK_BASED = {"trace_files": ()}'
ON = "LOCK_BASED: dict[str, object] = {}"


def main() -> int:
    root = catalogue_root()
    rows = json.loads(Path(sys.argv[1]).read_text())
    todo: list[tuple[dict[str, Any], str]] = []
    mutants: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["status"] not in ("survived", "error", "timeout"):
            continue
        variant = load_system(r["system"], root).variant(r["variant"])
        if variant.options.get("trace_files") != ():
            continue
        sv = (r["system"], r["variant"])
        if sv not in mutants:
            mutants[sv] = {m.id: m for m in variant_mutants(root, r["system"], variant, select_operators(None))}
            text = (root / "systems" / f"{sv[0]}.py").read_text()
            todo.insert(0, ({"system": sv[0], "variant": sv[1], "mutant": "UNMUTATED", "status": "-"}, text.replace(OFF, ON)))
        todo.append((r, mutants[sv][r["mutant"]].text.replace(OFF, ON)))

    def run(item: tuple[dict[str, Any], str]) -> dict[str, Any]:
        r, text = item
        check = run_check(root, r["system"], r["variant"], text, "ci", 900)
        status, prop, message = verdict(check)
        out = {"system": r["system"], "variant": r["variant"], "mutant": r["mutant"], "untraced": r["status"],
               "traced": status, "property": prop, "message": message[:200], "seconds": round(check.seconds, 1)}
        print(json.dumps(out), flush=True)
        return out

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, todo))
    Path(sys.argv[2]).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
