"""Knossos's test histories (Jepsen EDN): every verdict in expected.json.

Files and rules come from ``../shared/knossos`` (see its FORMAT.md): :fail
means "did not happen", :info and calls open at the end are indeterminate,
nemesis events are ignored, and a nil read matches anything.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from racekit.formats import load
from racekit.formats.edn import Keyword
from racekit.linearizability import check
from racekit.models import CasRegisterSpec, MultiRegisterSpec, MutexSpec
from racekit.spec import Spec
from tests.brute_force import check_explanation, check_witness

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "knossos"
DATA = SHARED / "data"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"Knossos test data not found at {SHARED}")


def _expected() -> dict[str, Any]:
    if not SHARED.is_dir():
        return {}
    return {k: v for k, v in json.loads((SHARED / "expected.json").read_text()).items() if not k.startswith("_")}


EXPECTED = _expected()


def _spec(entry: dict[str, Any], initial: Any = ...) -> Spec:
    model = entry["model"]
    if model == "cas-register":
        return CasRegisterSpec(entry["initial"] if initial is ... else initial)
    if model == "multi-register":
        return MultiRegisterSpec({Keyword(k): v for k, v in entry["initial"].items()})
    assert model == "mutex"
    return MutexSpec()


@needs_data
def test_inventory() -> None:
    assert len(EXPECTED) == 122
    assert Counter((v["model"], v["linearizable"]) for v in EXPECTED.values()) == {
        ("cas-register", True): 113, ("cas-register", False): 7,
        ("multi-register", True): 1, ("mutex", False): 1,
    }


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED) or ["(no data)"])
def test_verdict_matches_knossos(name: str) -> None:
    entry = EXPECTED[name]
    history = load(DATA / name, "jepsen-edn")
    spec = _spec(entry)
    result = check(history, spec, timeout=30)
    expected = "linearizable" if entry["linearizable"] else "violation"
    assert result.verdict == expected, result.message
    if result.ok:
        check_witness(history, spec, result)
    else:
        check_explanation(history, spec, result)
    if entry["model"] == "cas-register":  # FORMAT.md: initial nil gives the same verdicts
        assert check(history, CasRegisterSpec(None), timeout=30).verdict == expected


@needs_data
def test_rethink_fail_and_smaller_are_the_same_history() -> None:
    a = load(DATA / "cas-register-bad-rethink-fail.edn", "jepsen-edn")
    b = load(DATA / "cas-register-bad-rethink-fail-smaller.edn", "jepsen-edn")
    assert a.to_json() == b.to_json()
    assert len(a) > 100


@needs_data
def test_nemesis_only_history_is_empty() -> None:
    assert len(load(DATA / "cas-register-good-mongodb-v0-ack-rollback-.edn", "jepsen-edn")) == 0


@needs_data
def test_effective_values() -> None:
    """:ok carries the value read; :info keeps the call's value; :fail stays as fail."""
    history = load(DATA / "cas-register-bad-bad-analysis.edn", "jepsen-edn")
    reads = [o for o in history if o.name == "read" and o.status == "ok"]
    assert reads and all(isinstance(o.result, int) for o in reads)
    history = load(DATA / "cas-register-bad-immediate-failure.edn", "jepsen-edn")
    assert [(o.name, o.status, o.result) for o in history] == [("read", "ok", 3), ("write", "fail", None)]
    mutex = load(DATA / "mutex-bad-etcd.edn", "jepsen-edn")
    open_at_end = [o for o in mutex if o.status == "info" and o.ret is None]
    assert len(open_at_end) >= 3


@needs_data
def test_multi_register_txn_values() -> None:
    history = load(DATA / "multi-register-good-multi-register.edn", "jepsen-edn")
    txn = history.operations[0]
    assert txn.name == "txn"
    (micro,) = txn.args
    assert micro[0][0] == Keyword("read") and micro[0][1] == Keyword("x")


@needs_data
def test_strict_nil_reads_break_good_files() -> None:
    """FORMAT.md: reading nil as "holds nil" turns 89 good files bad; check a few."""

    class Strict(CasRegisterSpec):
        def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
            return bool(expected == observed)

    broken = 0
    for name in sorted(EXPECTED)[:40]:
        if EXPECTED[name]["linearizable"]:
            broken += check(load(DATA / name, "jepsen-edn"), Strict(0), timeout=30).verdict == "violation"
    assert broken > 10
