"""Running mutants: a scratch catalogue per run, ``racekit check`` in a subprocess.

Why a subprocess and a copy, for every engine alike: thread systems run in
the checking process, simulated ones too, but real-process systems import
``systems.<id>`` again in every harness worker.  Writing the mutated module
into a temporary copy of the catalogue (``systems/``, ``specs/``,
``stateful_tests/`` and the system's ``counterexamples/``) and pointing
``RACEKIT_CATALOGUE`` at it reaches all of them, and leaves the user's files
untouched.  Bytecode caching is off (``PYTHONDONTWRITEBYTECODE``): a
mutant of the same size written in the same second must never be served
from a stale ``.pyc``.

The check is ``racekit check SYSTEM --variant V --json --no-save -j 1`` -
exactly the search a user runs, saved counterexamples of the broken
siblings replayed on the mutant included.  Its verdict becomes the
mutant's status:

* ``killed``   - a violation (from the search, or a saved counterexample
  that now replays with one);
* ``survived`` - clean;
* ``timeout``  - no verdict within the per-mutant time limit (the process
  group is killed: no worker outlives it);
* ``error``    - the harness crashed or explored nothing;
* ``skipped``  - the variant needs a server this machine lacks;
* ``uncovered`` - not run: the unmutated check never executes its line;
* ``equivalent`` - survived, and a person has argued it cannot be killed
  (:mod:`racekit.mutation.ledger`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from racekit.mutation import probe
from racekit.mutation.coverage import instrument
from racekit.mutation.generate import Mutant
from racekit.mutation.ledger import Judgment, fingerprint, judged

STATUSES = ("killed", "survived", "timeout", "error", "equivalent", "skipped", "uncovered")
CHECK = "from racekit.cli import main; main()"


@dataclass
class CheckRun:
    """One ``racekit check`` subprocess: its JSON record (when it printed one) and how it ended."""

    record: dict[str, Any] | None
    seconds: float
    timed_out: bool = False
    stderr: str = ""
    lines: set[int] = field(default_factory=set)  # coverage pass only


@dataclass
class MutantResult:
    mutant: Mutant
    status: str
    prop: str | None = None  # the property violated (a killed mutant)
    seconds: float = 0.0
    message: str = ""

    @property
    def killed(self) -> bool:
        return self.status == "killed"

    def to_json(self, with_diff: bool | None = None) -> dict[str, Any]:
        m = self.mutant
        row: dict[str, Any] = {
            "system": m.system,
            "variant": m.variant,
            "mutant": m.id,
            "operator": m.operator,
            "family": m.family,
            "where": m.where,
            "killed": self.killed,
            "status": self.status,
            "property": self.prop,
            "seconds": round(self.seconds, 2),
            "note": m.note,
            "fingerprint": fingerprint(m),
        }
        if self.message:
            row["message"] = self.message
        if with_diff or (with_diff is None and self.status == "survived"):
            row["diff"] = m.diff()
        return row


@dataclass
class Baseline:
    """The unmutated variant's check in a scratch copy (instrumented when coverage is on)."""

    system: str
    variant: str
    run: CheckRun
    ok: bool
    message: str = ""


def copy_catalogue(root: Path, dest: Path, system: str) -> None:
    """The parts of the catalogue a check of ``system`` reads, without bytecode caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("systems", "specs", "stateful_tests"):
        shutil.copytree(root / name, dest / name, ignore=ignore)
    saved = root / "counterexamples" / system
    if saved.is_dir():
        shutil.copytree(saved, dest / "counterexamples" / system, ignore=ignore)
    else:
        (dest / "counterexamples").mkdir()


def run_check(
    root: Path,
    system: str,
    variant: str,
    module_text: str,
    profile: str,
    timeout: float,
    coverage: bool = False,
) -> CheckRun:
    """``racekit check`` of one variant with ``systems/<system>.py`` replaced by ``module_text``."""
    with tempfile.TemporaryDirectory(prefix="racekit-mutant-") as tmp:
        copy = Path(tmp) / "catalogue"
        copy.mkdir()
        copy_catalogue(root, copy, system)
        (copy / "systems" / f"{system}.py").write_text(module_text, encoding="utf-8")
        env = dict(os.environ)
        env.pop(probe.ENV, None)
        env.update({"RACEKIT_CATALOGUE": str(copy), "PYTHONDONTWRITEBYTECODE": "1"})
        probes = Path(tmp) / "probe"
        if coverage:
            probes.mkdir()
            env[probe.ENV] = str(probes)
        cmd = [sys.executable, "-c", CHECK, "check", system, "--variant", variant, "--json", "--no-save",
               "-j", "1", "--profile", profile]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=copy, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid)
            out, err = proc.communicate()
        finally:
            _kill_group(proc.pid)  # anything the check left behind in its session
        seconds = time.perf_counter() - started
        record = None if timed_out else _record(out, system, variant)
        lines = probe.read(str(probes)) if coverage else set()
        return CheckRun(record, seconds, timed_out, err.decode("utf-8", errors="replace")[-4000:], lines)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _record(stdout: bytes, system: str, variant: str) -> dict[str, Any] | None:
    try:
        rows = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("system") == system and row.get("variant") == variant:
            return row
    return None


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no output"


def verdict(run: CheckRun) -> tuple[str, str | None, str]:
    """(status, property, message) of a mutant's check."""
    if run.timed_out:
        return "timeout", None, f"no verdict after {run.seconds:.0f} s"
    r = run.record
    if r is None:
        return "error", None, f"the check printed no result: {_last_line(run.stderr)}"
    outcome = r.get("outcome")
    if outcome == "violation":
        return "killed", r.get("property"), str(r.get("message", ""))[:300]
    if outcome == "skipped":
        return "skipped", None, str(r.get("message", ""))
    if outcome == "clean":
        problems = [str(p) for p in r.get("problems", [])]
        replayed = [p for p in problems if "replays with a violation" in p]
        if replayed:
            name = replayed[0].split(" ", 1)[0]
            return "killed", f"saved counterexample {name}", replayed[0][:300]
        if problems:
            return "error", None, "; ".join(problems)[:300]
        return "survived", None, ""
    return "error", None, str(r.get("message", ""))[:300]


def baseline(root: Path, system: str, variant: str, profile: str, coverage: bool, timeout: float) -> Baseline:
    """The unmutated check: must be clean, gives the time scale and (with coverage) the lines run."""
    text = (root / "systems" / f"{system}.py").read_text(encoding="utf-8")
    if coverage:
        text = instrument(text, f"systems/{system}.py")
    run = run_check(root, system, variant, text, profile, timeout, coverage=coverage)
    status, _, message = verdict(run)
    if status == "survived":
        return Baseline(system, variant, run, True)
    if status == "skipped":
        return Baseline(system, variant, run, False, f"skipped: {message}")
    return Baseline(system, variant, run, False, f"the unmutated check is not clean ({status}): {message}")


MIN_TIMEOUT = 240.0


def auto_timeout(base: Baseline | None, given: float | None) -> float:
    """Per-mutant limit: given, else 20x the unmutated check, at least four minutes.

    Generous on purpose: a *killed* mutant costs more than a clean run - the
    check minimizes the counterexample and replays it on every sibling - and
    a shared machine stretches wall-clock time; a timeout must mean a hang.
    """
    if given is not None:
        return given
    if base is None:
        return 2 * MIN_TIMEOUT
    return max(MIN_TIMEOUT, 20.0 * base.run.seconds)


def run_mutants(
    root: Path,
    mutants: Sequence[Mutant],
    profile: str,
    jobs: int,
    coverage: bool,
    timeout: float | None,
    on_baseline: Callable[[Baseline], None] = lambda b: None,
    on_result: Callable[[MutantResult], None] = lambda r: None,
    judgments: Sequence[Judgment] = (),
) -> tuple[list[MutantResult], list[Baseline]]:
    """Baselines of every variant involved, then every covered mutant, ``jobs`` at a time."""
    variants = list(dict.fromkeys((m.system, m.variant) for m in mutants))
    bases: dict[tuple[str, str], Baseline] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        if coverage:
            futures = {pool.submit(baseline, root, s, v, profile, True, timeout or 600.0): (s, v) for s, v in variants}
            for done in as_completed(futures):
                base = done.result()
                bases[futures[done]] = base
                on_baseline(base)
        results: dict[int, MutantResult] = {}
        todo: list[tuple[int, Mutant, float]] = []
        for i, m in enumerate(mutants):
            found = bases.get((m.system, m.variant))
            if found is not None and not found.ok:
                results[i] = MutantResult(m, "skipped", message=found.message)
            elif found is not None and not set(m.anchors) & found.run.lines:
                results[i] = MutantResult(m, "uncovered", message="the unmutated check never runs this line")
            else:
                todo.append((i, m, auto_timeout(found, timeout)))
        for r in results.values():
            on_result(r)
        running = {pool.submit(_run_one, root, m, profile, limit, judgments): i for i, m, limit in todo}
        for fut in as_completed(running):
            res = fut.result()
            results[running[fut]] = res
            on_result(res)
    return [results[i] for i in range(len(mutants))], [bases[v] for v in variants if v in bases]


def _run_one(root: Path, m: Mutant, profile: str, timeout: float, judgments: Sequence[Judgment] = ()) -> MutantResult:
    run = run_check(root, m.system, m.variant, m.text, profile, timeout)
    status, prop, message = verdict(run)
    judgment = judged(m, list(judgments))
    if judgment is not None and status == "survived":
        return MutantResult(m, "equivalent", None, run.seconds, judgment.why)
    if judgment is not None and status == "killed":
        message = f"judged equivalent in mutants/equivalent.toml, yet killed: the judgment is wrong ({message})"
    return MutantResult(m, status, prop, run.seconds, message)
