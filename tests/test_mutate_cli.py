"""``racekit mutate`` end to end: the CI mutation smoke, and its user errors.

The smoke plants a handful of bugs that today's harness kills, one per
engine kind and operator family, through the real command (scratch
catalogue, ``racekit check`` subprocesses).  If a change to the engine or
a spec stops one of them being caught, this fails: the mutation score
cannot rot silently.  Mutants are named ``SYSTEM/VARIANT/OPERATOR:FUNCTION``,
not by line (``#K``: the K-th of them in file order), so edits elsewhere in
a system file do not break the list.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from racekit.registry import catalogue_root

ROOT = catalogue_root(Path(__file__).parent)

SMOKE = [
    "counter/locked/remove_lock:LockedCounter.increment",  # threads, lost update
    "counter/cas/cas_to_store:CasCounter.increment",  # threads, CAS loop -> load + store
    "bank_transfer/ordered/remove_lock:Bank.transfer",  # threads, acquire/try/finally-release pairs
    "bounded_queue/condition/while_to_if:BoundedQueue.take",  # threads, condition wait under 'if'
    "cache_stampede/single_flight/drop_notify:SingleFlightCache._load",  # threads, lost wake-up
    "leader_election/fenced/drop_assignment:LockService.on_message#2",  # simulator: the new holder not recorded
    "exactly_once/inbox/drop_commit:Consumer.apply",  # real processes + SQLite
]


def racekit(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from racekit.cli import main; main()", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )


def digest(paths: list[Path]) -> list[tuple[str, int]]:
    return [(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths]


def test_mutation_smoke_every_planted_bug_is_killed() -> None:
    systems = sorted({s.split("/")[0] for s in SMOKE})
    files = [ROOT / "systems" / f"{s}.py" for s in systems]
    before = digest(files)
    args = ["mutate", *systems, "--json", "--no-coverage", "-j", "2", "--timeout", "200"]
    for sel in SMOKE:
        args += ["--mutant", sel]
    res = racekit(*args)
    assert res.returncode in (0, 1), res.stderr[-2000:]
    rows = json.loads(res.stdout)
    got = {f"{r['system']}/{r['variant']}/{r['operator']}:{r['where'].split(' ', 1)[1]}" for r in rows}
    assert got == {s.split("#")[0] for s in SMOKE}  # every selector found its mutant(s)
    alive = [f"{r['system']}/{r['variant']} {r['mutant']}: {r['status']} {r.get('message', '')}" for r in rows if not r["killed"]]
    assert not alive, "planted bugs the harness no longer catches:\n" + "\n".join(alive)
    assert res.returncode == 0
    assert digest(files) == before  # the user's files were never written


@pytest.mark.parametrize(
    "args, message",
    [
        (["mutate", "counter", "--variant", "naive"], "counter/naive is a broken variant"),
        (["mutate", "counter", "--operators", "nope"], "unknown mutation operator 'nope'"),
        (["mutate", "no_such_system"], "unknown system 'no_such_system'"),
        (["mutate", "counter", "bank_transfer", "--variant", "locked"], "--variant needs exactly one SYSTEM"),
        (["mutate", "counter", "--mutant", "remove_lock:Nope.f"], "no mutant 'remove_lock:Nope.f'"),
    ],
)
def test_user_errors_are_one_line(args: list[str], message: str) -> None:
    res = racekit(*args, timeout=60)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and message in res.stderr


def test_list_json_gives_each_mutant_with_its_diff() -> None:
    res = racekit("mutate", "counter", "--variant", "locked", "--list", "--json", timeout=60)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert {r["operator"] for r in rows} >= {"remove_lock", "drop_assignment"}
    for r in rows:
        assert r["diff"].startswith("--- a/systems/counter.py") and r["where"].startswith("systems/counter.py:")


def test_check_variant_runs_only_that_variant() -> None:
    # the option racekit mutate relies on: one variant's check, nothing else
    res = racekit("check", "counter", "--variant", "locked", "--json", "--no-save", "-j", "1", "--profile", "smoke", timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(res.stdout)
    assert [(r["variant"], r["outcome"]) for r in rows] == [("locked", "clean")]
    bad = racekit("check", "counter", "--variant", "nope", timeout=60)
    assert bad.returncode == 2 and "has no variant 'nope'" in bad.stderr
