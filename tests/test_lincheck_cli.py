"""``racekit lincheck``: verdicts, JSON, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from racekit.commands.lincheck import lincheck

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared test data not found at {SHARED}")


def run(*args: str) -> Result:
    return CliRunner().invoke(lincheck, [str(a) for a in args])


def assert_one_line_error(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]


@needs_data
def test_jepsen_edn_violation_defaults_to_cas_register() -> None:
    result = run(SHARED / "knossos/data/cas-register-bad-cas-failure.edn")
    assert result.exit_code == 1
    first, second = result.stdout.splitlines()
    assert first.startswith("violation (291 operations, checked in ") and first.endswith(" s)")
    assert "after the longest linearizable prefix" in second and "cas-register" in second


@needs_data
def test_etcd_log_linearizable() -> None:
    result = run(SHARED / "porcupine/data/etcd_002.log", "--format", "jepsen-etcd")
    assert result.exit_code == 0
    assert result.stdout.startswith("linearizable (77 operations")


@needs_data
def test_json_output() -> None:
    result = run(SHARED / "porcupine/data/c10-bad.txt", "--format", "porcupine-kv", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["verdict"] == "violation"
    assert isinstance(data["seconds"], float) and data["seconds"] >= 0
    assert data["message"] and data["model"] == "kv" and data["operations"] == 405
    assert data["longest_prefixes"] and isinstance(data["stuck_op"], int)


@needs_data
def test_models_and_initial_values() -> None:
    multi = SHARED / "knossos/data/multi-register-good-multi-register.edn"
    assert run(multi, "--model", "multi-register", "--initial", "{:x 0 :y 0}").exit_code == 0
    assert run(multi, "--model", "multi-register").exit_code == 1  # x starts absent, reads 0
    mutex = SHARED / "knossos/data/mutex-bad-etcd.edn"
    result = run(mutex, "--model", "mutex", "--json")
    assert json.loads(result.stdout)["verdict"] == "violation"
    immediate = SHARED / "knossos/data/cas-register-bad-immediate-failure.edn"
    assert run(immediate, "--initial", "nil").exit_code == 1


def test_timeout_gives_unknown(tmp_path: Path) -> None:
    # 20 concurrent increments and a read nobody can explain: 2**20 states to exhaust
    lines = [f"{{:process {p}, :type :invoke, :f :add, :value {2 ** p}}}" for p in range(20)]
    lines += [f"{{:process {p}, :type :ok, :f :add, :value {2 ** p}}}" for p in range(20)]
    lines += ["{:process 99, :type :invoke, :f :read, :value nil}", "{:process 99, :type :ok, :f :read, :value -1}"]
    path = tmp_path / "history.edn"
    path.write_text("\n".join(lines) + "\n")
    result = run(path, "--model", "counter", "--timeout", "0.05", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["verdict"] == "unknown"


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run(tmp_path / "nope.edn"), "no such file", "nope.edn")


def test_missing_argument() -> None:
    assert_one_line_error(run(), "missing FILE")


def test_unknown_format_and_model(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("[]\n")
    assert_one_line_error(run(path, "--format", "xml"), "unknown format 'xml'", "jepsen-edn")
    assert_one_line_error(run(path, "--model", "stack"), "unknown model 'stack'", "cas-register")
    assert_one_line_error(run(tmp_path / "h.json"), "cannot tell the format")
    assert_one_line_error(run(path, "--timeout", "soon"), "--timeout")
    assert_one_line_error(run(path, "--model", "mutex", "--initial", "0"), "takes no --initial")
    assert_one_line_error(run(path, "--initial", "[1"), "--initial", "never closed")


@pytest.mark.parametrize(
    ("fmt", "text", "words"),
    [
        ("jepsen-etcd", "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nhello\n", [":2:", "not a Jepsen etcd log line"]),
        ("jepsen-etcd", "INFO  jepsen.util - 0\t:ok\t:read\t1\n", [":1:", "no open call"]),
        ("jepsen-etcd", "INFO  jepsen.util - 0\t:invoke\t:cas\t[1]\n", [":1:", "[old new]"]),
        ("porcupine-kv", '{:process 1, :type :invoke, :f :get, :key "1", :value nil}\n{:process 1 :type :ok}\n',
         [":2:", "not a Porcupine kv record"]),
        ("jepsen-edn", "[{:process 1, :type :invoke, :f :read}\n {:process 1, :type :ok, :f :read, :value \"x]\n",
         [":2:", "string is never closed"]),
        ("jepsen-edn", "[{:process 1, :type :invoke, :f :read}\n {:process 1, :type :wat, :f :read}]\n",
         [":2:", ":type must be"]),
        ("jepsen-edn", "[{:process 1, :type :invoke, :f :read}\n {:process 1, :f :read}]\n", [":2:", "lacks :type"]),
        ("jepsen-edn", "[{:process 1, :type :invoke, :f :cas, :value 3}]\n", [":1:", "cas value"]),
    ],
)
def test_malformed_input_names_the_line(tmp_path: Path, fmt: str, text: str, words: list[str]) -> None:
    path = tmp_path / "history"
    path.write_text(text)
    assert_one_line_error(run(path, "--format", fmt), *words)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line_error(run(path), "not a text file")


def test_history_that_does_not_fit_the_model(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("[{:process 1, :type :invoke, :f :fly, :value 1} {:process 1, :type :ok, :f :fly, :value 1}]\n")
    assert_one_line_error(run(path), "no operation 'fly'")


def test_registered_in_main_cli() -> None:
    cli = pytest.importorskip("racekit.cli", reason="racekit.cli is not there yet")
    assert "lincheck" in cli.main.commands
    result = CliRunner().invoke(cli.main, ["lincheck", "--help"])
    assert result.exit_code == 0 and "--format" in result.output
