"""The racekit command: one-line errors, exit codes, JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from racekit.registry import catalogue_root
from racekit.cli import main

ROOT = catalogue_root(Path(__file__).parent)
SAVED = ROOT / "counterexamples" / "counter" / "naive--linearizability.json"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_list_json(run) -> None:
    res = run("list", "--json")
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    naive = next(r for r in rows if r["system"] == "counter" and r["variant"] == "naive")
    assert naive["expect"] == "violation" and naive["property"] == "linearizability"


def test_unknown_system_is_one_line(run) -> None:
    res = run("check", "no_such_system")
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0
    assert "unknown system 'no_such_system'" in res.output


def test_wrong_option_is_rejected(run) -> None:
    res = run("check", "--profile", "fast")
    assert res.exit_code == 2
    assert "Invalid value" in res.output


def test_check_counter_json(run) -> None:
    res = run("check", "counter", "--json", "--no-save", "-j", "1", "--profile", "smoke")
    assert res.exit_code == 0, res.stdout
    rows = json.loads(res.stdout)
    by = {r["variant"]: r for r in rows}
    assert by["naive"]["outcome"] == "violation" and by["naive"]["met"]
    assert by["naive"]["counterexample"] == "counterexamples/counter/naive--linearizability.json"
    for fixed in ("locked", "cas", "sharded"):
        assert by[fixed]["outcome"] == "clean" and by[fixed]["met"]
    for r in rows:
        assert {"system", "variant", "expect", "outcome", "property", "counterexample", "schedules", "seconds"} <= r.keys()


def test_explore_json(run) -> None:
    res = run("explore", "counter", "--variant", "naive", "--strategy", "dpor", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["violation"] is True and data["schedules"] <= 4
    assert isinstance(data["choices"], list) and isinstance(data["trace"], list)
    clean = json.loads(run("explore", "counter", "--variant", "locked", "--strategy", "dpor", "--json").stdout)
    assert clean["violation"] is False and clean["coverage"].startswith("exhaustively")


def test_replay_saved_file(run) -> None:
    assert SAVED.exists(), f"{SAVED} is missing: write it with `racekit check counter --variant naive`"
    assert run("replay", str(SAVED)).exit_code == 0
    res = run("replay", str(SAVED), "--variant", "locked", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["outcome"] == "clean"


def test_replay_bad_files(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "racekit-counterexample/2", "sys')
    res = run("replay", str(bad))
    assert res.exit_code == 2 and "not valid JSON" in res.output and "Traceback" not in res.output
    res = run("replay", str(tmp_path / "missing.json"))
    assert res.exit_code == 2 and "no such counterexample file" in res.output
    doc = json.loads(SAVED.read_text()) if SAVED.exists() else None
    if doc:
        doc["system"] = "nope"
        bad.write_text(json.dumps(doc))
        res = run("replay", str(bad))
        assert res.exit_code == 2 and "unknown system 'nope'" in res.output
        doc["system"], doc["variant"] = "counter", "nope"
        bad.write_text(json.dumps(doc))
        res = run("replay", str(bad))
        assert res.exit_code == 2 and "no variant 'nope'" in res.output
