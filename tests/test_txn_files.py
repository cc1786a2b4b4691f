"""Elle's history files (``../shared/elle/histories``) against what upstream asserts in expected.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from racekit.txn import check, load

ELLE = Path(__file__).resolve().parents[1].parent / "shared" / "elle"
needs_data = pytest.mark.skipif(not (ELLE / "expected.json").is_file(), reason=f"Elle's data not found at {ELLE}")


@needs_data
def test_si_without_g_single_is_g2_item_only() -> None:
    """Upstream's regression: snapshot isolation must not be ruled out here, repeatable read must."""
    asserted = json.loads((ELLE / "expected.json").read_text())["files"]["si-without-g-single.edn"]["asserted_by"][0]
    result = check(load(ELLE / "histories" / "si-without-g-single.edn", "list-append"), asserted["options"])
    assert result.anomaly_types == asserted["anomalies"] == ["G2-item"]
    assert result.not_ == asserted["not"] == ["repeatable-read"]
    assert "snapshot-isolation" not in result.also_not
    # the file's comments name its six edges; the checker infers exactly those
    assert result.graph is not None
    names = {11: "T1", 21: "T2", 31: "T3", 41: "T4"}
    ops = result.history.completions  # type: ignore[union-attr]
    edges = {(names[ops[a].index], {1: "ww", 2: "wr", 4: "rw"}[m]) + (names[ops[b].index],)
             for a, b, m in result.graph.edges()}
    stated = json.loads((ELLE / "expected.json").read_text())["files"]["si-without-g-single.edn"]["stated_in_file"]
    assert edges == {(a, rel, b) for a, rel, b, _ in stated["edges"]}


@needs_data
def test_huge_scc_rules_out_strong_snapshot_isolation() -> None:
    """Upstream: not valid, ruling out strong snapshot isolation.  Its anomaly list depends on Elle's
    1 s search timeout; racekit's search has none and names a specific realtime cycle instead."""
    shape = json.loads((ELLE / "expected.json").read_text())["files"]["huge-scc.edn"]
    history = load(ELLE / "histories" / "huge-scc.edn", "list-append")
    assert len(history.ops) == shape["shape"]["txn_ops"] and history.dropped == shape["shape"]["nemesis_ops"]
    assert sum(op.type == "fail" for op in history.completions) == shape["shape"]["failed"]
    result = check(history)
    assert result.valid is False
    assert result.not_ == shape["asserted_by"][0]["not"] == ["strong-snapshot-isolation"]
    assert all(t.endswith("-realtime") or t.endswith("-cycle-exists") for t in result.anomaly_types)
    assert "cycle-search-timeout" not in result.found


@needs_data
def test_paper_example_has_no_client_ops() -> None:
    """Its ops have no :process, so (as in Elle) no transaction is left to check."""
    result = check(load(ELLE / "histories" / "paper-example.edn", "list-append"))
    assert result.valid == "unknown" and result.anomaly_types == ["empty-transaction-graph"]
