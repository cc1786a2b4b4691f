"""Counterexample files: deterministic bytes, atomic writes, strict loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racekit import store
from racekit.choice import Result as Outcome
from racekit.registry import catalogue_root, load_system
from racekit.errors import CounterexampleError

ROOT = catalogue_root(Path(__file__).parent)
SAVED = ROOT / "counterexamples" / "counter" / "naive--linearizability.json"


def _doc() -> dict:
    system = load_system("counter", ROOT)
    out = Outcome(True, "linearizability", "linearizability", "msg <b>", engine="threads",
                  scenario={"threads": [[["increment", []]]]}, choices=[0, 1], trace=[{"step": 0}],
                  stats={"operations": 1, "preemptions": 1, "seconds": 9.9})
    return store.document(system, system.variant("naive"), out, {"locked": Outcome(False)})


def test_same_counterexample_same_bytes() -> None:
    assert store.dumps(_doc()) == store.dumps(_doc())
    assert "seconds" not in store.dumps(_doc())  # no wall-clock values in files


def test_round_trip_and_markdown_escapes(tmp_path: Path) -> None:
    path = tmp_path / "counter" / "naive--linearizability.json"
    store.save(path, _doc())
    assert store.load(path) == json.loads(store.dumps(_doc()))
    assert "&lt;b&gt;" in path.with_suffix(".md").read_text()
    assert not list(tmp_path.rglob(".*.json.*")), "temporary files left behind"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"format": "racekit-counterexample/2", "system": "counter"', "not valid JSON"),
        ("[]", "JSON object"),
        ('{"format": "racekit-counterexample/999"}', "unsupported format"),
        ('{"format": "racekit-counterexample/2"}', "missing field"),
    ],
)
def test_bad_files_give_one_line_errors(text: str, fragment: str) -> None:
    with pytest.raises(CounterexampleError) as info:
        store.loads(text, "x.json")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_wrong_types_and_names_rejected() -> None:
    doc = _doc()
    doc["choices"] = [0, -1]
    with pytest.raises(CounterexampleError, match="non-negative"):
        store.validate(json.loads(store.dumps(doc)))
    doc = _doc()
    doc["system"] = "../../etc/passwd"
    with pytest.raises(CounterexampleError, match="not a valid name"):
        store.validate(json.loads(store.dumps(doc)))


def test_saved_counter_counterexample_is_valid_and_stable() -> None:
    assert SAVED.exists(), f"{SAVED} is missing: write it with `racekit check counter --variant naive`"
    doc = store.load(SAVED)
    assert store.dumps(doc) == SAVED.read_text(encoding="utf-8"), "saved file is not in canonical form"


def test_an_old_format_file_names_the_command_that_rewrites_it(tmp_path: Path) -> None:
    old = json.loads(store.dumps(_doc()))
    old["format"] = "racekit-counterexample/1"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    with pytest.raises(CounterexampleError, match=r"racekit-counterexample/1.*racekit check counter --variant naive"):
        store.load(path)
