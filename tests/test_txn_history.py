"""Reading transactional histories: client ops, pairing, and one-line errors naming the line."""

from __future__ import annotations

import pytest

from racekit.errors import HistoryFormatError
from racekit.txn import check, parse


def test_nemesis_and_processless_ops_are_dropped() -> None:
    h = parse(
        "{:index 0, :type :info, :process :nemesis, :f :kill, :value :all}\n"
        "{:index 1, :type :ok, :value [[:append :x 1]]}\n"
        "{:index 2, :type :ok, :process 3, :value [[:append :x 2] [:r :x [2]]]}\n",
        "list-append",
    )
    assert h.dropped == 2 and [op.index for op in h.ops] == [2]
    assert h.ops[0].value == (("append", h.ops[0].value[0][1], 2), ("r", h.ops[0].value[1][1], (2,)))


def test_pairing_is_per_process_and_first_in_first_out() -> None:
    h = parse(
        "{:index 0, :type :invoke, :process 0, :value [[:append :x 1]]}\n"
        "{:index 1, :type :invoke, :process 1, :value [[:r :x nil]]}\n"
        "{:index 2, :type :invoke, :process 0, :value [[:append :x 2]]}\n"
        "{:index 3, :type :ok, :process 1, :value [[:r :x [1]]]}\n"
        "{:index 4, :type :ok, :process 0, :value [[:append :x 1]]}\n"
        "{:index 5, :type :ok, :process 0, :value [[:append :x 2]]}\n",
        "list-append",
    )
    assert [(op.index, op.invoke_position) for op in h.completions] == [(3, 1), (4, 0), (5, 2)]


def test_an_invocation_never_completed_counts_as_info() -> None:
    h = parse(
        "{:index 0, :type :invoke, :process 0, :value [[:append :x 1]]}\n"
        "{:index 1, :type :ok, :process 1, :value [[:r :x [1]]]}\n",
        "list-append",
    )
    crashed = h.completions[-1]
    assert crashed.type == "info" and crashed.synthetic and crashed.index == 2
    # its append may have happened: the read of [1] has a writer, so there is a dependency
    assert check(h, {"consistency-models": ["serializable"]}).valid is True
    assert not check(h, {"consistency-models": ["serializable"]}).graph.empty()  # type: ignore[union-attr]


def test_indices_default_to_positions_and_must_be_unique() -> None:
    h = parse("{:type :ok, :process 0, :value []}\n{:type :ok, :process 0, :value []}\n", "rw-register")
    assert [op.index for op in h.ops] == [0, 1]
    with pytest.raises(HistoryFormatError, match=r":2: :index 4 appears twice"):
        parse("{:index 4, :type :ok, :process 0, :value []}\n{:index 4, :type :ok, :process 0, :value []}\n",
              "rw-register")


def test_bom_and_vector_layout_are_accepted() -> None:
    h = parse("\ufeff[{:index 0, :type :ok, :process 0, :value [[:w :x 1]]}]", "rw-register")
    assert len(h.ops) == 1


@pytest.mark.parametrize(
    ("workload", "text", "words"),
    [
        ("list-append", "{:type :ok, :process 0, :value [[:w :x 1]]}", [":1:", "not a list-append micro-op",
                                                                         "--workload rw-register"]),
        ("rw-register", "\n{:type :ok, :process 0, :value [[:append :x 1]]}", [":2:", "--workload list-append"]),
        ("list-append", "{:type :ok, :process 0, :value [[:r :x 3]]}", [":1:", "returns a vector or nil"]),
        ("list-append", "{:type :ok, :process 0, :value [[:r :x]]}", [":1:", "micro-op is a vector [f k v]"]),
        ("list-append", "{:type :done, :process 0, :value []}", [":1:", ":type must be"]),
        ("list-append", "{:type :ok, :process 0, :value 3}", [":1:", ":value must be a vector"]),
        ("list-append", "[1 2]", [":1:", "expected an op map"]),
        ("list-append", '{:type :ok, :process 0, :value [[:append :x "a]]}', ["string is never closed"]),
    ],
)
def test_bad_input_names_the_line(workload: str, text: str, words: list[str]) -> None:
    with pytest.raises(HistoryFormatError) as info:
        parse(text, workload, "h.edn")  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_to_edn_round_trips() -> None:
    text = ("{:index 0, :time 5, :type :invoke, :process 0, :f :txn, :value [[:append :x 1] [:r :y nil]]}\n"
            "{:index 1, :time 9, :type :ok, :process 0, :f :txn, :value [[:append :x 1] [:r :y [1 2]]]}\n")
    h = parse(text, "list-append")
    assert h.to_edn() == text
    again = parse(h.to_edn(), "list-append")
    assert [(o.index, o.type, o.value) for o in again.ops] == [(o.index, o.type, o.value) for o in h.ops]
