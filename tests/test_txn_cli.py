"""``racekit txncheck``: verdicts, exit codes, JSON, options, stdin, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from racekit.commands.txncheck import txncheck

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HISTORIES = SHARED / "elle" / "histories"
needs_data = pytest.mark.skipif(not HISTORIES.is_dir(), reason=f"Elle's histories not found at {HISTORIES}")

G2 = ("{:index 0, :type :ok, :process 0, :f :txn, :value [[:append :x 1] [:r :y nil]]}\n"
      "{:index 1, :type :ok, :process 1, :f :txn, :value [[:append :y 1] [:r :x nil]]}\n")
LOST = ("{:index 0, :type :ok, :process 0, :value [[:r :x 0] [:w :x 1]]}\n"
        "{:index 1, :type :ok, :process 1, :value [[:r :x 0] [:w :x 2]]}\n")


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(txncheck, [str(a) for a in args], input=stdin)


def assert_one_line_error(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


def test_write_skew_is_invalid_under_serializable(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(G2)
    result = run(path, "--consistency-models", "serializable")
    assert result.exit_code == 1
    first, second, third = result.stdout.splitlines()
    assert first.startswith("invalid (list-append, 2 operations, 2 transactions, checked in ")
    assert second.startswith("  G2-item: T1 read :y = [], its initial empty state, and T2 appended 1")
    assert second.endswith("a G2-item cycle T1 →rw T2 →rw T1")
    assert third == "  ruled out: repeatable-read (and the stronger serializable, strong-serializable, " \
                    "strong-session-serializable)"


def test_the_same_history_is_valid_under_snapshot_isolation(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(G2)
    result = run(path, "--consistency-models", "snapshot-isolation")
    assert result.exit_code == 0 and result.stdout.startswith("valid (list-append")


def test_json_and_elle_option_map(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(LOST)
    result = run(path, "--workload", "rw-register", "--options", "{:consistency-models nil :anomalies [:lost-update]}",
                 "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    # nobody wrote 0, so no dependency edge exists: the graph is empty as well
    assert data["valid"] is False and data["anomalies"] == ["empty-transaction-graph", "lost-update"]
    assert data["not"] == ["cursor-stability", "update-atomic"]
    assert data["details"]["lost-update"][0]["txns"] == [0, 1]
    assert set(data) >= {"valid", "anomalies", "not", "cycles"}


def test_workload_is_guessed_from_the_micro_ops(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(LOST)
    assert json.loads(run(path, "--json").stdout)["workload"] == "rw-register"
    reads = tmp_path / "reads.edn"
    reads.write_text("{:type :ok, :process 0, :value [[:r :x nil]]}\n")
    assert_one_line_error(run(reads), "cannot tell the workload", "--workload")


def test_stdin_and_unknown_verdict() -> None:
    result = run("-", "--workload", "list-append", stdin="{:index 0, :type :fail, :process 0, :value [[:append :x 1]]}\n")
    assert result.exit_code == 3
    assert result.stdout.splitlines()[0].startswith("unknown (")
    assert "empty-transaction-graph" in result.stdout


def test_cycles_in_json_carry_steps(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(G2)
    data = json.loads(run(path, "--consistency-models", "serializable", "--json").stdout)
    (cycle,) = data["cycles"]
    assert cycle["type"] == "G2-item" and cycle["cycle"] == [0, 1, 0]
    assert [s["type"] for s in cycle["steps"]] == ["rw", "rw"]
    assert cycle["steps"][0]["key"] == ":y" and cycle["steps"][0]["value'"] == "1"


def test_html_page(tmp_path: Path) -> None:
    path, page = tmp_path / "h.edn", tmp_path / "out.html"
    path.write_text(G2)
    assert run(path, "--consistency-models", "serializable", "--html", page).exit_code == 1
    html = page.read_text()
    assert "<svg" in html and "G2-item" in html and "<script" not in html


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), ["missing FILE"]),
        (("nope.edn", "--workload", "list-append"), ["no such file", "nope.edn"]),
        (("h.edn", "--consistency-models", "serialisable"), ["unknown consistency model 'serialisable'",
                                                              "did you mean serializable"]),
        (("h.edn", "--anomalies", "G3"), ["unknown anomaly 'G3'"]),
        (("h.edn", "--options", "{:consistency-models"), ["--options", "never closed"]),
        (("h.edn", "--options", "[1 2]"), ["--options must be an EDN map"]),
        (("h.edn", "--options", "{:directory \"out\"}"), ["unknown option 'directory'"]),
        (("h.edn", "--options", "{:wfr-keys? 3}"), ["wfr-keys? must be true or false"]),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: tuple[str, ...], words: list[str]) -> None:
    (tmp_path / "h.edn").write_text(G2)
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert_one_line_error(run(*args), *words)
    finally:
        os.chdir(cwd)


def test_duplicate_appends_make_the_verdict_unknown(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("{:type :ok, :process 0, :value [[:append :x 1]]}\n{:type :ok, :process 1, :value [[:append :x 1]]}\n")
    result = run(path)
    assert result.exit_code == 3 and "duplicate-appends" in result.stdout


@needs_data
def test_the_command_is_registered_and_runs_on_elle_files() -> None:
    proc = subprocess.run([sys.executable, "-c", "from racekit.cli import main; main()", "txncheck",
                           str(HISTORIES / "si-without-g-single.edn"),
                           "--consistency-models", "snapshot-isolation,repeatable-read"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "G2-item" in proc.stdout and "ruled out: repeatable-read" in proc.stdout
