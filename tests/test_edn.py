"""The EDN reader: the subset in knossos/FORMAT.md, plus errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from racekit.errors import HistoryFormatError, RacekitError
from racekit.formats.edn import FrozenMap, Keyword, Symbol, Tagged, loads, read_all, read_records

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def test_scalars() -> None:
    assert loads("nil") is None
    assert loads("true") is True and loads("false") is False
    assert loads("113352526949") == 113352526949
    assert loads("-7") == -7 and loads("42N") == 42
    assert loads("1.5") == 1.5
    assert loads(":read") == Keyword("read")
    assert loads(":temporarily-unavailable") == Keyword("temporarily-unavailable")
    assert loads("foo") == Symbol("foo")
    assert loads("\\a") == "a" and loads("\\newline") == "\n"


def test_strings_are_single_tokens() -> None:
    assert loads('"a \\"quoted\\" {[#{ :x, ; not a comment"') == 'a "quoted" {[#{ :x, ; not a comment'
    assert loads('"tab\\tnewline\\n"') == "tab\tnewline\n"
    assert loads('"\\u00e9"') == "é"


def test_collections() -> None:
    assert loads("[1 [2 [3]]]") == (1, (2, (3,)))
    assert loads("(1 2)") == (1, 2)  # lists and vectors compare equal, as in Clojure
    assert loads("#{1 2}") == frozenset({1, 2})
    m = loads("{:process 22  :type :invoke, :f :read}")  # commas optional
    assert isinstance(m, FrozenMap)
    assert m == {Keyword("process"): 22, Keyword("type"): Keyword("invoke"), Keyword("f"): Keyword("read")}
    assert hash(m) == hash(loads("{:f :read :type :invoke :process 22}"))
    assert loads("[[:read :x nil] [:write :y 2]]") == ((Keyword("read"), Keyword("x"), None),
                                                        (Keyword("write"), Keyword("y"), 2))


def test_comments_discard_and_tags() -> None:
    assert loads("; leading comment\n[1 ; trailing\n 2 #_ 3 4]") == (1, 2, 4)
    assert loads('#inst "2020-01-01"') == Tagged("inst", "2020-01-01")


def test_read_records_both_layouts() -> None:
    vector = read_records("; header\n[{:a 1}\n {:a 2}\n\n {:a 3}]\n")
    assert [line for line, _ in vector] == [2, 3, 5]
    per_line = read_records("{:a 1}\n{:a 2}\n")
    assert [(line, r[Keyword("a")]) for line, r in per_line] == [(1, 1), (2, 2)]
    assert read_all("") == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[1 2", 1, "never closed"),
        ("[1\n 2)", 2, "expected ']'"),
        ("{:a}", 1, "odd number"),
        ('\n\n"abc', 3, "string is never closed"),
        ("\n)", 2, "unexpected ')'"),
        ("12abc", 1, "not a number"),
        ('"\\q"', 1, "unknown string escape"),
        ("{[1] 2 #{3} 4 {:a 1} 5}", None, None),  # hashable keys are fine
    ],
)
def test_errors_name_the_line(text: str, line: int | None, words: str | None) -> None:
    if line is None:
        loads(text)
        return
    with pytest.raises(HistoryFormatError) as info:
        loads(text, "h.edn")
    assert isinstance(info.value, RacekitError)
    assert str(info.value).startswith(f"h.edn:{line}: ")
    assert words is not None and words in str(info.value)


def test_loads_wants_one_form() -> None:
    with pytest.raises(HistoryFormatError, match="expected one EDN form, found 2"):
        loads("1 2")


edn_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.from_regex(r"[a-z][a-z\-]{0,6}", fullmatch=True).map(Keyword),
    lambda inner: st.lists(inner, max_size=4).map(tuple)
    | st.frozensets(inner, max_size=3)
    | st.dictionaries(st.integers() | st.text(max_size=4), inner, max_size=3).map(FrozenMap),
    max_leaves=12,
)


def dumps(value: object) -> str:
    """A tiny EDN writer, only for the round-trip test."""
    if value is None:
        return "nil"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, Keyword):
        return f":{value.name}"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return '"' + escaped.replace("\r", "\\r") + '"'
    if isinstance(value, tuple):
        return "[" + " ".join(dumps(v) for v in value) + "]"
    if isinstance(value, frozenset):
        return "#{" + ", ".join(dumps(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(v)}" for k, v in value.items()) + "}"
    return str(value)


@settings(max_examples=300, deadline=None)
@given(edn_values)
def test_round_trip(value: object) -> None:
    assert loads(dumps(value)) == value


@pytest.mark.skipif(not (SHARED / "knossos").is_dir(), reason=f"Knossos data not found at {SHARED / 'knossos'}")
def test_reads_every_knossos_file() -> None:
    total = 0
    for path in sorted((SHARED / "knossos" / "data").glob("*.edn")):
        records = read_records(path.read_text(), str(path))
        assert all(isinstance(r, dict) for _, r in records)
        total += len(records)
    assert total > 10000
