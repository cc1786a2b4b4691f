"""Nothing in a search depends on wall-clock time: the same ``racekit check``
writes byte-identical counterexample files on an idle machine and beside a
CPU hog, and the same bytes as the committed ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [("counter", "naive"), ("id_generator", "timestamp_only")]


def _project(dst: Path) -> Path:
    for package in ("systems", "specs", "stateful_tests"):
        shutil.copytree(ROOT / package, dst / package, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _check(root: Path) -> dict[str, bytes]:
    exe = Path(sys.executable).with_name("racekit")
    env = {**os.environ, "RACEKIT_CATALOGUE": str(root)}
    for system, variant in CASES:
        res = subprocess.run([str(exe), "check", system, "--variant", variant, "--json", "-j", "1"],
                             cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "counterexamples").rglob("*.json"))}


def test_same_command_same_bytes_idle_and_beside_a_cpu_hog(tmp_path: Path) -> None:
    idle = _check(_project(tmp_path / "idle"))
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = _check(_project(tmp_path / "loaded"))
    finally:
        hog.kill()
        hog.wait()
    assert idle and idle == loaded
    for name, data in idle.items():
        assert (ROOT / name).read_bytes() == data, f"{name} differs from the committed file"
