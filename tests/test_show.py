"""racekit.show: the timeline model, the terminal and plain views, `racekit show`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from racekit import show, store
from racekit import timeline as model
from racekit.commands.show import show as show_command
from racekit.errors import CounterexampleError
from racekit.gallery import render_page

FIX = Path(__file__).parent / "fixtures" / "counterexamples"
COUNTER = FIX / "counter-naive.json"
HOSTILE = FIX / "hostile.json"
SIM = FIX / "sim-kvstore.json"
VALID = [COUNTER, HOSTILE, SIM]


def load(path: Path) -> dict[str, Any]:
    return store.load(path)


@pytest.fixture
def stub_root(tmp_path: Path) -> Path:
    """A catalogue root whose systems/counter.py has known lines 24 and 27."""
    lines = [f"# line {n}" for n in range(1, 31)]
    lines[23] = "        self.value += 1"
    lines[26] = "        return self.value"
    (tmp_path / "systems").mkdir()
    (tmp_path / "systems" / "__init__.py").write_text("")
    (tmp_path / "systems" / "counter.py").write_text("\n".join(lines) + "\n")
    return tmp_path


def rich_lines(doc: dict[str, Any], width: int, root: Path | None = None) -> list[str]:
    console = Console(width=width, record=True, force_terminal=True, color_system="truecolor")
    show.render_terminal(doc, console, root)
    return console.export_text(styles=False).splitlines()


# --------------------------------------------------------------------------
# The model


def test_counter_lanes_bars_and_verdict(stub_root: Path) -> None:
    tl = model.timeline(load(COUNTER), stub_root)
    assert [lane.name for lane in tl.lanes] == ["T0", "T1", "final"]
    ops = {op.id: op for op in tl.ops}
    # T0's increment runs from its invoke (step 0) to its return (step 7),
    # T1's is nested inside it (2..5): the lost update.
    assert (ops["0"].lane, ops["0"].start, ops["0"].end) == ("T0", 0, 7)
    assert (ops["1"].lane, ops["1"].start, ops["1"].end) == ("T1", 2, 5)
    # The final read has no invoke/return rows: it spans the steps its lane ran.
    assert (ops["2"].lane, ops["2"].start, ops["2"].end) == ("final", 8, 9)
    assert ops["2"].stuck and ops["2"].result == "-> 1"
    assert (ops["1"].order, ops["0"].order, ops["2"].order) == (1, 2, None)
    assert tl.preemptions == 1 and [s.step for s in tl.steps if s.preemption] == [2]
    assert tl.explanation.startswith("get() returned 1")
    sources = {s.where: s.source for s in tl.steps if s.where.startswith("systems/")}
    assert sources == {"systems/counter.py:24": "self.value += 1", "systems/counter.py:27": "return self.value"}
    assert [r.variant for r in tl.replay] == ["cas", "locked", "sharded"]
    assert all(r.outcome == "clean" and r.exhaustive for r in tl.replay)


def test_source_lines_from_the_real_catalogue() -> None:
    root = Path(__file__).resolve().parents[1]
    tl = model.timeline(load(COUNTER), root)
    assert any(s.source for s in tl.steps), "systems/counter.py lines should be shown"
    assert all(s.source is None for s in model.timeline(load(COUNTER), None).steps)


def test_source_is_read_only_from_py_files_inside_the_root(stub_root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.py"
    outside.write_text("TOKEN = 'do not show'\n")
    (stub_root / "notes.txt").write_text("private\n")
    assert model.source_line(stub_root, "systems/counter.py:24") == "self.value += 1"
    assert model.source_line(stub_root, f"{outside}:1") is None
    assert model.source_line(stub_root, f"../{outside.parent.name}/secret.py:1") is None
    assert model.source_line(stub_root, "notes.txt:1") is None
    assert model.source_line(stub_root, "systems/counter.py:999") is None
    assert model.source_line(stub_root, "systems/counter.py:0") is None
    assert model.source_line(None, "systems/counter.py:24") is None


def test_sim_counterexample_has_a_lane_per_node_and_client() -> None:
    tl = model.timeline(load(SIM))
    assert [lane.name for lane in tl.lanes] == ["n1", "n2", "c1", "c2", "world"]
    ops = {op.id: op for op in tl.ops}
    # Simulator histories are recorded in steps: placed as they are.
    assert (ops["0"].lane, ops["0"].start, ops["0"].end) == ("c1", 1, 4)
    assert (ops["1"].lane, ops["1"].start, ops["1"].end) == ("c2", 6, 8)
    assert ops["1"].stuck and ops["1"].result == "-> None"
    assert not tl.scheduled and not any(s.switch for s in tl.steps)
    assert tl.steps[1].where == "incarnation 1"


def test_history_without_trace_uses_event_order() -> None:
    doc = load(COUNTER)
    doc["trace"] = []
    tl = model.timeline(doc)
    spans = {op.id: (op.start, op.end) for op in tl.ops}
    assert spans == {"0": (0, 3), "1": (1, 2), "2": (4, 5)}


def test_failing_op_without_checker_explanation_is_last_op_of_failing_thread() -> None:
    doc = load(COUNTER)
    doc["explanation"] = None
    doc["trace"] = doc["trace"][:6]  # the run stopped in T1
    tl = model.timeline(doc)
    assert tl.stuck is not None and tl.stuck.lane == "T1"
    assert not any(op.order for op in tl.ops)


def test_overlapping_operations_in_one_lane_get_sub_rows() -> None:
    doc = load(SIM)
    doc["history"].append(
        {"id": 2, "process": "c1", "name": "put", "args": ["y", 2], "invoke": 2, "ret": None, "result": None, "status": "info"}
    )
    tl = model.timeline(doc)
    lane = next(lane for lane in tl.lanes if lane.name == "c1")
    assert lane.rows == 2
    late = next(op for op in tl.ops if op.id == "2")
    assert late.row == 1 and late.end is None and late.result == "never returned"


def test_many_unfinished_operations_are_capped_with_a_note() -> None:
    doc = load(SIM)
    doc["history"] += [
        {"id": 10 + k, "process": "c1", "name": "put", "args": ["k", k], "invoke": k % 9, "ret": None,
         "result": None, "status": "info"}
        for k in range(40)
    ]
    tl = model.timeline(doc)
    assert next(lane for lane in tl.lanes if lane.name == "c1").rows > show.MAX_ROWS
    lines = rich_lines(doc, 100)
    assert max(cell_len(line) for line in lines) <= 100
    assert any("more overlapping operation(s) not drawn" in line for line in lines)
    assert "more overlapping operation(s) not drawn" in render_page(doc)


def test_hang_highlights_the_operation_that_never_returns() -> None:
    doc = load(COUNTER)
    doc.update(kind="deadlock", property="deadlock", explanation=None,
               message="hang: T1 in increment() can never finish (T1 waits for Lock#1)")
    doc["history"][1].update(ret=None, status="info")
    tl = model.timeline(doc)
    assert tl.stuck is not None and (tl.stuck.lane, tl.stuck.end, tl.stuck.result) == ("T1", None, "never returned")
    assert tl.headline == "violation of deadlock, found by the threads engine"


def test_clean_escapes_control_characters() -> None:
    assert model.clean("a\x1b[31mb") == "a\\x1b[31mb"
    assert model.clean("x\u202ey") == "x\\u202ey"
    assert model.clean("two\nlines") == "two lines"
    assert model.clean("é ü 漢字") == "é ü 漢字"
    assert model.clean("z" * 50, 10) == "z" * 9 + "…"


# --------------------------------------------------------------------------
# Terminal and plain views


def test_terminal_view_reads_on_100_columns(stub_root: Path) -> None:
    lines = rich_lines(load(COUNTER), 100, stub_root)
    assert max(cell_len(line) for line in lines) <= 100
    text = "\n".join(lines)
    for expected in ("counter / naive", "T0", "T1", "final", "increment()", "get() -> 1", "▲",
                     "self.value += 1", "get() returned 1", "locked", "clean", "racekit replay"):
        assert expected in text, expected
    timeline_rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in ("T0", "T1", "final")}
    # The bars line up with the step ruler: T1's starts where step 2 is.
    ruler = next(line for line in lines if line.startswith("step "))
    assert timeline_rows["T1"].index("1:increment()") == ruler.index(" 2 ") + 1


@pytest.mark.parametrize("width", [40, 60, 80, 100, 132, 200])
@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_no_line_exceeds_the_width(path: Path, width: int) -> None:
    doc = load(path)
    assert max(cell_len(line) for line in rich_lines(doc, width)) <= width
    plain = show.render_plain(doc, width)
    assert max(len(line) for line in plain.splitlines()) <= width


def test_plain_view_is_ascii_with_the_same_content(stub_root: Path) -> None:
    text = show.render_plain(load(COUNTER), 100, stub_root)
    assert text.isascii()
    for expected in ("[2:increment()", "[1:increment()", "get() -> 1 x", "^", "self.value += 1"):
        assert expected in text, expected


def test_hostile_strings_are_shown_not_obeyed() -> None:
    doc = load(HOSTILE)
    console = Console(width=100, record=True, force_terminal=True, color_system="truecolor")
    show.render_terminal(doc, console)
    styled = console.export_text(styles=True, clear=False)
    text = console.export_text(styles=False)
    plain = show.render_plain(doc, 100)
    # rich markup in a file is printed, not interpreted
    assert "[bold red]rich markup[/]" in text
    # escape sequences and bidi overrides from the file never reach the terminal raw
    for out in (text, plain):
        assert "\x1b" not in out and "\u202e" not in out
        assert "\\x1b[31mANSI" in out
    assert "\x1b[31mANSI" not in styled
    assert "<script>alert(1)</script>" in text  # text in a terminal is inert: shown as is


# --------------------------------------------------------------------------
# Odd but schema-valid files never crash the view

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
row = st.fixed_dictionaries(
    {},
    optional={
        "step": json_values | st.integers(0, 30),
        "thread": json_values | st.integers(0, 3),
        "name": json_values,
        "node": json_values,
        "what": json_values | st.sampled_from(["invoke", "return", "invoke get()", "return from get"]),
        "where": json_values | st.just("systems/counter.py:24"),
        "detail": json_values,
        "preemption": json_values,
        "t": json_values,
    },
)
op = st.fixed_dictionaries(
    {"invoke": st.integers(0, 40) | json_values},
    optional={
        "id": json_values | st.integers(0, 5),
        "process": json_values | st.integers(0, 3),
        "name": json_values,
        "args": json_values,
        "ret": st.none() | st.integers(0, 40) | json_values,
        "result": json_values,
        "status": st.sampled_from(["ok", "fail", "info"]) | json_values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    trace=st.lists(row | json_values, max_size=12),
    history=st.none() | json_values | st.lists(op | json_values, max_size=8),
    explanation=st.none() | json_values | st.fixed_dictionaries(
        {}, optional={"longest_prefixes": json_values | st.lists(st.lists(st.integers(0, 5))),
                      "stuck_op": json_values, "message": json_values}),
    replay=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    extra=st.dictionaries(st.sampled_from(["bug", "stats", "replay_command", "scenario"]), json_values),
)
def test_any_valid_file_renders(trace: list[Any], history: Any, explanation: Any, replay: dict[str, Any],
                                extra: dict[str, Any]) -> None:
    doc = copy.deepcopy(BASE)
    doc.update(extra)
    doc.update(trace=trace, history=history, explanation=explanation, replay=replay)
    try:
        doc = store.validate(json.loads(json.dumps(doc)))
    except CounterexampleError:
        assume(False)  # store.load would refuse it: not this view's concern
    tl = model.timeline(doc)
    assert all(op.start >= 0 and (op.end is None or op.end >= op.start) for op in tl.ops)
    assert all(op.start < tl.length and (op.end is None or op.end < tl.length) for op in tl.ops)
    assert max(cell_len(line) for line in rich_lines(doc, 80)) <= 80
    assert max(len(line) for line in show.render_plain(doc, 80).splitlines()) <= 80
    html = render_page(doc)
    assert html.count('<g class="lane"') == len(tl.lanes) and "<script" not in html


BASE = json.loads(COUNTER.read_text())


# --------------------------------------------------------------------------
# racekit show


def run(*args: str) -> Any:
    return CliRunner().invoke(show_command, list(args))


def test_show_command_prints_the_timeline() -> None:
    result = run(str(COUNTER), "--width", "100")
    assert result.exit_code == 0, result.output
    assert "counter / naive" in result.stdout and "increment()" in result.stdout
    assert max(cell_len(line) for line in result.stdout.splitlines()) <= 100


def test_show_command_plain() -> None:
    result = run(str(SIM), "--plain", "--width", "72")
    assert result.exit_code == 0, result.output
    assert result.stdout.isascii() and "c2" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 72


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing.json", "no such counterexample file"),
        ("truncated.json", "not valid JSON"),
        ("wrong-format.json", "unsupported format"),
        ("", "is a directory"),
    ],
)
def test_show_command_bad_input_is_one_line_and_exit_2(name: str, reason: str) -> None:
    result = run(str(FIX / name) if name else str(FIX))
    assert result.exit_code == 2
    assert result.stdout == ""
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("racekit: error: ") and reason in err
    assert "Traceback" not in result.output


def test_show_command_deeply_nested_json(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000)
    result = run(str(deep))
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
