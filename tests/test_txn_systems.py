"""The anomalies behind the catalogue's database bugs, as txncheck names them (docs/txncheck.md)."""

from __future__ import annotations

from racekit.txn import check, parse

OVERSELL = """\
{:index 0, :type :invoke, :process 9, :value [[:w :stock 1]]}
{:index 1, :type :ok, :process 9, :value [[:w :stock 1]]}
{:index 2, :type :invoke, :process 0, :value [[:r :stock nil] [:w :stock 0]]}
{:index 3, :type :invoke, :process 1, :value [[:r :stock nil] [:w :stock 100]]}
{:index 4, :type :ok, :process 1, :value [[:r :stock 1] [:w :stock 100]]}
{:index 5, :type :ok, :process 0, :value [[:r :stock 1] [:w :stock 0]]}
{:index 6, :type :invoke, :process 2, :value [[:r :stock nil]]}
{:index 7, :type :ok, :process 2, :value [[:r :stock 0]]}
"""


def test_the_inventory_oversell_is_a_lost_update() -> None:
    history = parse(OVERSELL, "rw-register")
    plain = check(history)
    assert "lost-update" in plain.anomaly_types
    assert plain.not_ == ["cursor-stability", "update-atomic"]
    assert {"repeatable-read", "snapshot-isolation", "serializable"} <= set(plain.also_not)
    ordered = check(history, {"linearizable-keys?": True, "wfr-keys?": True})
    (cycle,) = ordered.anomalies["G-single-item"]
    assert [s.rel for s in cycle.steps] == ["rw", "ww"] and cycle.ops == [5, 4, 5]
    # read committed allows it: that is why the READ COMMITTED strategies oversell
    assert check(history, {"linearizable-keys?": True, "wfr-keys?": True,
                           "consistency-models": ["read-committed"]}).valid is True


def test_the_same_mistake_on_two_rows_is_write_skew() -> None:
    text = ("{:index 0, :type :ok, :process 0, :value [[:r :a nil] [:append :b 1]]}\n"
            "{:index 1, :type :ok, :process 1, :value [[:r :b nil] [:append :a 1]]}\n")
    history = parse(text, "list-append")
    assert check(history, {"consistency-models": ["serializable"]}).anomaly_types == ["G2-item"]
    assert check(history, {"consistency-models": ["snapshot-isolation"]}).valid is True
