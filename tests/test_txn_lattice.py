"""The consistency-model lattice: what each model forbids, and which models anomalies rule out."""

from __future__ import annotations

import pytest

from racekit.txn import lattice as L


def forbids(model: str) -> set[str]:
    return {a for a in L.forbidden_by([model]) if not a.endswith("-cycle-exists")}


def test_read_committed_forbids_exactly_what_upstream_asserts() -> None:
    assert forbids("read-committed") == {"G0", "duplicate-elements", "cyclic-versions", "G1", "G1a", "G1b", "G1c",
                                         "dirty-update", "incompatible-order", "future-read"}
    assert forbids("read-uncommitted") == {"G0", "duplicate-elements", "cyclic-versions"}


def test_repeatable_read_and_snapshot_isolation_differ_by_g2_item_and_g_single() -> None:
    rr, si = forbids("repeatable-read"), forbids("snapshot-isolation")
    assert rr - forbids("read-committed") == {"G2-item", "G-single-item", "G-nonadjacent-item", "lost-update",
                                              "G-cursor"}
    assert "G2-item" not in si and {"G-single", "G-nonadjacent", "internal", "lost-update"} <= si
    assert forbids("serializable") >= rr | si | {"G2", "write-skew", "G-update", "predicate-read-miss"}


def test_strict_serializable_forbids_every_process_and_realtime_cycle() -> None:
    ss = forbids("strict-serializable")
    for base in ("G0", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item"):
        assert {f"{base}-process", f"{base}-realtime"} <= ss
    assert not {t for t in forbids("snapshot-isolation") if t.endswith(("-process", "-realtime"))}


@pytest.mark.parametrize(
    ("anomalies", "weakest"),
    [
        (["G1c"], ["read-committed"]),
        (["G0"], ["read-uncommitted"]),
        (["internal"], ["read-atomic"]),
        (["lost-update"], ["cursor-stability", "update-atomic"]),
        (["G-single-item"], ["consistent-view", "repeatable-read"]),
        (["G-nonadjacent-item"], ["repeatable-read", "snapshot-isolation"]),
        (["G2-item"], ["repeatable-read"]),
        (["G-single-item-realtime"], ["strong-snapshot-isolation"]),
        (["G-single-item-process"], ["strong-session-snapshot-isolation"]),
        (["G1c-process"], ["strong-session-read-committed"]),
        (["empty-transaction-graph"], []),
    ],
)
def test_weakest_models_ruled_out(anomalies: list[str], weakest: list[str]) -> None:
    assert L.boundary(anomalies)[0] == weakest


def test_the_readme_g1c_rules_out_every_model_above_read_committed() -> None:
    weak, strong = L.boundary(["G1c"])
    assert "strong-serializable" in strong and "snapshot-isolation" in strong
    assert "view-serializable" not in strong and "linearizable" not in strong  # not implied by read committed


def test_aliases() -> None:
    assert L.check_models(["strict-serializable", "PL-2", "PL-SI", "conflict-serializable"]) == [
        "strong-serializable", "read-committed", "snapshot-isolation", "serializable"]
    assert L.prohibited(["strict-serializable"]) == L.prohibited(["strong-serializable"])


def test_unknown_names_get_a_suggestion() -> None:
    with pytest.raises(ValueError, match="did you mean serializable"):
        L.check_models(["serialisable"])
    with pytest.raises(ValueError, match="unknown anomaly 'G3'"):
        L.check_anomalies(["G3"])


def test_anomaly_options_widen_to_everything_implying_them() -> None:
    assert L.prohibited(None, ["G1"]) >= {"G1", "G1a", "G1b", "G1c", "G0", "dirty-update", "incompatible-order",
                                          "future-read"}
    assert "G2-item" not in L.prohibited(None, ["G1"])
    assert L.prohibited(None) == set()
