"""docs/extending.md is a program: its Python blocks must run, and its
project files must pass ``racekit check`` in a throwaway project.

Plain blocks are written, in order, to one module file and imported, as a
user would put them in their own code (opcode tracing needs real source
files).  Blocks marked ``file=PATH`` are written into a temporary project
(``systems/``, ``stateful_tests/``) and checked from the command line.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import os
import subprocess

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCKS = re.findall(r"```python( file=\S+)?\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_extending_guide_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = [code for marker, code in BLOCKS if not marker]
    assert len(blocks) >= 5
    module_path = tmp_path / "extending_example.py"
    module_path.write_text("\n\n".join(blocks), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("extending_example", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["extending_example"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("extending_example", None)
    out = capsys.readouterr().out
    assert "reserve" in out and "read .left" in out
    assert "exhaustively" in out and "acknowledged" in out


def racekit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The racekit command in a project of its own (a fresh process, as a user runs it)."""
    exe = Path(sys.executable).with_name("racekit")
    env = {**os.environ, "RACEKIT_CATALOGUE": str(root)}
    return subprocess.run([str(exe), *args], cwd=root, env=env, capture_output=True, text=True, timeout=600)


def write_project(root: Path) -> None:
    for package in ("systems", "specs", "stateful_tests"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    for marker, code in BLOCKS:
        if marker:
            path = root / marker.split("=", 1)[1]
            path.write_text("from __future__ import annotations\n\n" + code, encoding="utf-8")


def test_the_process_example_passes_racekit_check(tmp_path: Path) -> None:
    write_project(tmp_path)
    res = racekit(tmp_path, "check", "deposit_demo", "--json", "-j", "1")
    rows = {r["variant"]: r for r in json.loads(res.stdout)}
    assert res.returncode == 0, res.stdout + res.stderr
    assert rows["two_commits"]["outcome"] == "violation" and rows["two_commits"]["met"]
    assert rows["one_transaction"]["outcome"] == "clean" and rows["one_transaction"]["met"]
    saved = tmp_path / "counterexamples" / "deposit_demo" / "two_commits--ledger-matches-balance.json"
    doc = json.loads(saved.read_text())
    assert doc["stats"]["kills"] == 1 and "ledger says" in doc["message"]
    assert racekit(tmp_path, "replay", str(saved)).returncode == 0


@pytest.mark.parametrize("kind", ["thr", "sim", "proc"])
def test_racekit_new_scaffolds_a_system_that_checks(kind: str, tmp_path: Path) -> None:
    name = f"demo_{kind}"
    res = racekit(tmp_path, "new", name, "--kind", kind)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "stateful_tests" / f"test_{name}.py").is_file()
    res = racekit(tmp_path, "check", name, "--json", "-j", "1")
    rows = json.loads(res.stdout)
    assert res.returncode == 0, rows
    assert {r["outcome"] for r in rows} == {"violation", "clean"}
    again = racekit(tmp_path, "new", name, "--kind", kind)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
