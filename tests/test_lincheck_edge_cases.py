"""``racekit lincheck`` edge cases from issue 13: each failed before the fix."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from racekit.commands.lincheck import lincheck

REGISTER = "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value 3}\n"


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(lincheck, [str(a) for a in args], input=stdin)


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_kv_model_on_a_register_history_says_what_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(REGISTER)
    line = one_line_error(run(path, "--model", "kv"))
    assert "IndexError" not in line
    assert "read() does not fit the kv model" in line and "get(k)" in line
    assert "--model cas-register" in line


def test_dash_reads_standard_input() -> None:
    result = run("-", stdin=REGISTER)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("violation (1 operations")
    etcd = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n"
    assert run("-", stdin=etcd).stdout.startswith("linearizable (1 operations")
    assert "cannot tell the format of standard input" in one_line_error(run("-", stdin="hello\n"))


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_bytes("\ufeff".encode() + REGISTER.encode())
    assert run(path).exit_code == 1
    log = tmp_path / "h.log"
    log.write_bytes("\ufeffINFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil\n".encode())
    assert run(log).exit_code == 0


def test_an_empty_history_says_it_holds_no_operations(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text("")
    assert "holds no operations" in one_line_error(run(path))
    nemesis = tmp_path / "n.edn"
    nemesis.write_text("{:process :nemesis, :type :info, :f :start, :value nil}\n")
    assert "holds no operations" in one_line_error(run(nemesis))


def test_messages_print_values_as_the_input_wrote_them(tmp_path: Path) -> None:
    path = tmp_path / "h.edn"
    path.write_text(REGISTER)
    result = run(path, "--model", "register")
    assert result.exit_code == 1
    assert "the register is nil" in result.stdout and "None" not in result.stdout
    txn = tmp_path / "t.edn"
    txn.write_text("{:process 0, :type :invoke, :f :txn, :value [[:read :x nil]]}\n"
                   "{:process 0, :type :ok, :f :txn, :value [[:read :x 5]]}\n")
    out = run(txn, "--model", "multi-register", "--initial", "{:x 0}", "--json")
    message = json.loads(out.stdout)["message"]
    assert "txn([[:read :x 5]])" in message and "(:read" not in message
    kv = tmp_path / "k.txt"
    kv.write_text('{:process 1, :type :invoke, :f :get, :key "k", :value nil}\n'
                  '{:process 1, :type :ok, :f :get, :key "k", :value "x"}\n')
    message = run(kv).stdout
    assert 'get("k") returned "x"' in message and "the kv is \"\"" in message and "'" not in message


def test_edn_words_leaves_quoted_text_alone() -> None:
    from racekit.commands.lincheck import edn_words

    assert edn_words('read() returned None; "None" stays') == 'read() returned nil; "None" stays'
    assert edn_words("is {x=None, y=True}") == "is {x=nil, y=true}"
    assert edn_words("the kv is 'a\"b'") == 'the kv is "a\\"b"'
