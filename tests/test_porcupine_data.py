"""Porcupine's own test data: every asserted verdict, and the parsers on real logs.

Files and verdicts come from ``../shared/porcupine`` (see its FORMAT.md):
103 Jepsen etcd register logs and 6 kv logs.  Each violation's explanation
is replayed independently.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from racekit.formats import load
from racekit.history import History
from racekit.linearizability import LinResult, check
from racekit.models import KVSpec, RegisterSpec
from racekit.spec import Spec
from tests.brute_force import check_explanation, check_witness

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "porcupine"
DATA = SHARED / "data"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"Porcupine test data not found at {SHARED}")


def _expected() -> dict[str, Any]:
    if not SHARED.is_dir():
        return {}
    return {k: v for k, v in json.loads((SHARED / "expected.json").read_text()).items() if not k.startswith("_")}


EXPECTED = _expected()


def _load(name: str) -> tuple[History, Spec]:
    if EXPECTED[name]["model"] == "etcd":
        return load(DATA / name, "jepsen-etcd"), RegisterSpec(None)
    return load(DATA / name, "porcupine-kv"), KVSpec()


@needs_data
def test_all_asserted_files_are_present() -> None:
    assert len(EXPECTED) == 108
    assert Counter((v["model"], v["linearizable"]) for v in EXPECTED.values()) == {
        ("etcd", True): 23, ("etcd", False): 79, ("kv", True): 3, ("kv", False): 3,
    }


@needs_data
@pytest.mark.parametrize("name", sorted(EXPECTED) or ["(no data)"])
def test_verdict_matches_porcupine(name: str) -> None:
    history, spec = _load(name)
    result: LinResult = check(history, spec, timeout=30)
    expected = "linearizable" if EXPECTED[name]["linearizable"] else "violation"
    assert result.verdict == expected, result.message
    if result.ok:
        check_witness(history, spec, result)
    else:
        check_explanation(history, spec, result)


@needs_data
def test_empty_log_is_linearizable() -> None:
    history = load(DATA / "etcd_095.log", "jepsen-etcd")
    assert len(history) == 0
    assert check(history, RegisterSpec(None)).ok


@needs_data
def test_etcd_parser_reads_every_line_shape() -> None:
    """The line counts of porcupine/FORMAT.md §2.1, as operations."""
    kinds: Counter[tuple[str, str]] = Counter()
    for path in sorted(DATA.glob("etcd_*.log")):
        for o in load(path, "jepsen-etcd"):
            ret = "open" if o.ret is None else "closed"
            kinds[(f"{o.status} {o.name} {type(o.result).__name__}", ret)] += 1
    assert kinds[("info write NoneType", "open")] == 626  # :info :write :timed-out
    assert kinds[("info cas NoneType", "open")] == 657
    assert kinds[("info read NoneType", "closed")] == 17  # :fail :read :timed-out
    assert kinds[("ok cas bool", "closed")] == 431 + 1748  # :ok and :fail :cas
    assert kinds[("ok read NoneType", "closed")] == 203  # read nil
    assert kinds[("ok read int", "closed")] == 2719
    assert kinds[("ok write NoneType", "closed")] == 2122


@needs_data
def test_etcd_parser_space_aligned_files() -> None:
    history = load(DATA / "etcd_100.log", "jepsen-etcd")
    first = history.operations[0]
    assert (first.process, first.name, first.args) == (1, "write", (3,))
    assert any(o.name == "cas" and o.args == (1, 2) for o in history)


@needs_data
def test_kv_parser() -> None:
    history = load(DATA / "c01-ok.txt", "porcupine-kv")
    names = Counter(o.name for o in history)
    assert set(names) <= {"get", "put", "append"}
    assert all(o.status == "ok" and o.ret is not None for o in history)
    get = next(o for o in history if o.name == "get" and o.result)
    assert len(get.args) == 1 and isinstance(get.result, str)


class _WholeMapKV(KVSpec):
    """Porcupine's unpartitioned kv model: one map of all keys, no partitioning."""

    name = "kv-map"

    def init(self) -> Any:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        values = dict(state)
        new, result = super().step(values.get(args[0], ""), name, args)
        values[args[0]] = new
        return frozenset(values.items()), result

    def partition_key(self, name: str, args: tuple[Any, ...]) -> Any:
        return None


@needs_data
@pytest.mark.parametrize(
    "name",
    [
        "c01-ok.txt",
        "c01-bad.txt",
        pytest.param("c10-ok.txt", marks=pytest.mark.deep),  # a few seconds each
        pytest.param("c10-bad.txt", marks=pytest.mark.deep),
    ],
)
def test_unpartitioned_kv_gives_the_same_verdict(name: str) -> None:
    """P-compositionality on real data: one big map agrees with per-key checks."""
    history = load(DATA / name, "porcupine-kv")
    whole = check(history, _WholeMapKV(), timeout=30)
    assert whole.verdict == check(history, KVSpec()).verdict
    assert whole.partition is None
