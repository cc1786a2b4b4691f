"""Mutation score of the harness over the catalogue: the tables of docs/mutation.md.

    python benchmarks/mutation.py [SYSTEM ...] [-j N] [--out run.json]
    python benchmarks/mutation.py --from run.json

The first form runs ``racekit mutate --json`` (every fixed variant of the
given systems, default all) and keeps its rows in ``--out``; both forms
print the Markdown tables (score per system and per operator, every mutant
that was not killed).  Re-run after engine changes and paste the tables
into docs/mutation.md: the numbers there are the output of this script.

``--from`` applies the *current* ``mutants/equivalent.toml`` to the saved
rows (a survivor judged equivalent since the run becomes ``equivalent``),
so new judgments need no new run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from racekit.mutation.report import markdown


def relabel(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Survivors that a judgment in the catalogue's ledger now covers become ``equivalent``."""
    from racekit.registry import catalogue_root, load_system
    from racekit.mutation.generate import select_operators, variant_mutants
    from racekit.mutation.ledger import judged, load

    root = catalogue_root()
    judgments = load(root)
    mutants: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["status"] != "survived":
            continue
        sv = (row["system"], row["variant"])
        if sv not in mutants:
            variant = load_system(sv[0], root).variant(sv[1])
            mutants[sv] = {m.id: m for m in variant_mutants(root, sv[0], variant, select_operators(None))}
        m = mutants[sv].get(row["mutant"])
        j = judged(m, judgments) if m is not None else None
        if j is not None:
            row["status"], row["message"] = "equivalent", j.why
            row.pop("diff", None)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("systems", nargs="*")
    parser.add_argument("-j", "--jobs", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="where to keep the JSON rows of the run")
    parser.add_argument("--from", dest="source", type=Path, default=None, help="print the tables of a saved run")
    args = parser.parse_args()
    if args.source is not None:
        rows = relabel(json.loads(args.source.read_text()))
    else:
        cmd = [sys.executable, "-c", "from racekit.cli import main; main()", "mutate", *args.systems, "--json"]
        if args.jobs:
            cmd += ["-j", str(args.jobs)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
        if proc.returncode not in (0, 1):
            return proc.returncode
        rows = json.loads(proc.stdout)
        if args.out is not None:
            args.out.write_text(json.dumps(rows, indent=1) + "\n")
    seconds = sum(float(r.get("seconds", 0.0)) for r in rows)
    print(markdown(rows), end="")
    print(f"\n{len(rows)} mutants, {seconds / 60:.0f} min of checking in total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
