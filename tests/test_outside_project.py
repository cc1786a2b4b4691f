"""A project of one's own, outside the checkout: the whole loop a user runs.

A throwaway project in ``tmp_path`` with its own pyproject.toml and a
``[tool.racekit]`` table that moves every folder away from racekit's own
layout, then, as a user types them: ``racekit new`` (each kind) ->
``racekit check`` (which saves) -> ``pytest`` without ``--racekit-save``
(the failure names that flag) -> ``pytest -n 2 --racekit-save`` ->
``racekit replay`` of every file -> ``racekit show`` -> ``racekit gallery``.
One state machine lives in the user's own test module, not in the
registry, so its file must name that module for ``replay`` to work.

How racekit is installed here, and why: ``pip install`` of the checkout into
a fresh venv needs hatchling from the network (build isolation) and takes
tens of seconds.  racekit's wheel is only the ``racekit/`` package plus its
dist-info (entry points: the ``racekit`` command and the pytest plugin), so
the test lays exactly that out in a fresh venv (``venv`` without pip, well
under a second): ``racekit/`` copied into site-packages, the dist-info
copied from the dev install, the console script pip would write, and the
other packages linked from the dev venv.  Unlike the dev venv's editable
install, this puts nothing of the checkout on ``sys.path`` - the test
checks that - so a project that only works because the checkout's
``systems`` package is importable fails here.  The catalogue extra's
packages (starlette, uvicorn, httpx, psycopg, redis) are left out too: the
loop must work with ``pip install racekit`` alone, as the README says.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
CATALOGUE_EXTRA = ("starlette", "uvicorn", "httpx", "psycopg", "redis")  # pyproject's [catalogue], not the core
TIMEOUT = 300  # seconds per command: a hang fails the test instead of stalling CI

PYPROJECT = """\
[project]
name = "shopfloor"
version = "0.1.0"

[tool.racekit]
systems = "checks/catalogue"
machines = ["checks/machines", "tests"]
specs = "checks/specs"
counterexamples = "found"
notes = "notes"
"""

# The extending guide's first example, kept where a user keeps tests: one
# module with the system, its spec and its machine - nothing in the registry.
OWN_TEST = '''
from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, Spec, System, Variant, sync, variant_tests


class CheckThenActPool:
    def __init__(self) -> None:
        self.left = 3

    def reserve(self, n: int) -> bool:
        if self.left >= n:
            self.left -= n
            return True
        return False

    def available(self) -> int:
        return self.left


class LockedPool(CheckThenActPool):
    def __init__(self) -> None:
        super().__init__()
        self.lock = sync.Lock()

    def reserve(self, n: int) -> bool:
        with self.lock:
            return super().reserve(n)


POOL = System(
    name="ticket_pool",
    summary="A pool of tickets reserved by several threads",
    kind="thr",
    variants=[
        Variant("check_then_act", CheckThenActPool, expect="violation", property="linearizability",
                bug="two threads both see enough tickets"),
        Variant("locked", LockedPool, expect="correct"),
    ],
)


class PoolSpec(Spec):
    name = "ticket pool"

    def init(self):
        return 3

    def step(self, state, name, args):
        if name == "reserve":
            return (state - args[0], True) if state >= args[0] else (state, False)
        return state, state


class PoolMachine(ConcurrentStateMachine):
    system = POOL
    spec = PoolSpec()
    threads = 2
    max_ops = 3
    operations = {"reserve": (st.integers(1, 3),), "available": ()}
    final_calls = [("available", ())]
    seed_scenario = [[("reserve", (2,))], [("reserve", (2,))]]


test_pool = variant_tests(PoolMachine)
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with racekit laid out as its wheel installs it; returns its bin/."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))
    dev_site = Path(sysconfig.get_path("purelib"))
    for entry in dev_site.iterdir():
        if "racekit" in entry.name.lower() or entry.name == "__pycache__" or (site / entry.name).exists():
            continue  # racekit itself (the editable .pth puts the whole checkout on sys.path) is installed below
        if entry.name.lower().startswith(CATALOGUE_EXTRA):
            continue  # the core install has none of the catalogue's server clients
        (site / entry.name).symlink_to(entry)
    shutil.copytree(CHECKOUT / "racekit", site / "racekit", ignore=shutil.ignore_patterns("__pycache__"))
    dist = next(dev_site.glob("racekit-*.dist-info"))
    shutil.copytree(dist, site / dist.name, ignore=shutil.ignore_patterns("RECORD", "direct_url.json"))
    script = env_dir / "bin" / "racekit"
    script.write_text(f"#!{env_dir / 'bin' / 'python'}\nimport sys\nfrom racekit.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return env_dir / "bin"


def _env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACEKIT_", "PYTEST_", "PYTHON"))}
    env.update({"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "100", "NO_COLOR": "1"})
    return env


def _run(bin_dir: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / argv[0]), *argv[1:]], cwd=cwd, env=_env(bin_dir), capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_the_installed_racekit_sees_nothing_of_the_checkout(installed: Path, tmp_path: Path) -> None:
    probe = ("import importlib.util, racekit, sys; print(racekit.__file__); "
             "print(importlib.util.find_spec('systems'), importlib.util.find_spec('stateful_tests')); "
             f"print([m for m in {CATALOGUE_EXTRA!r} if importlib.util.find_spec(m)])")
    res = _run(installed, tmp_path, "python", "-c", probe)
    assert res.returncode == 0, res.stderr
    where, specs, extra = res.stdout.splitlines()
    assert not Path(where).resolve().is_relative_to(CHECKOUT), where
    assert specs == "None None", "the checkout's catalogue is importable from the fresh venv"
    assert extra == "[]", "the catalogue extra's packages are importable from the core install"


def test_the_whole_loop_in_a_project_of_ones_own(installed: Path, tmp_path: Path) -> None:
    proj = tmp_path / "shopfloor"
    (proj / "tests").mkdir(parents=True)
    (proj / "pyproject.toml").write_text(PYPROJECT)
    (proj / "tests" / "test_pool.py").write_text(OWN_TEST)

    def racekit(*args: str, cwd: Path = proj) -> subprocess.CompletedProcess[str]:
        return _run(installed, cwd, "racekit", *args)

    # -- new: each kind, into the configured folders (run from a subfolder: still the project's)
    for name, kind in (("shop", "thr"), ("relay", "sim"), ("ledger", "proc")):
        res = racekit("new", name, "--kind", kind, cwd=proj / "tests")
        assert res.returncode == 0, res.stderr
        assert (proj / "checks" / "catalogue" / f"{name}.py").is_file()
        assert (proj / "checks" / "machines" / f"test_{name}.py").is_file()
        assert (proj / "notes" / f"{name}.md").is_file()
        assert f"next: racekit check {name}" in res.stdout
    assert (proj / "checks" / "specs" / "shop.py").is_file()
    assert not (proj / "systems").exists() and not (proj / "stateful_tests").exists()

    # -- check: every registered variant, counterexamples saved in the project's folder
    res = racekit("check", "--profile", "smoke", "-j", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6/6 expectations met" in res.stdout
    assert "counterexamples: 3 written to found/" in res.stdout
    assert "next: racekit show found/" in res.stdout
    assert all(len(line) <= 100 for line in res.stdout.splitlines()), res.stdout
    saved = sorted((proj / "found").glob("*/*.json"))
    assert [p.parent.name for p in saved] == ["ledger", "relay", "shop"]
    for p in saved:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~_umask(), f"{p} has mode {oct(p.stat().st_mode)}"
    assert not (CHECKOUT / "counterexamples" / "shop").exists()

    # -- pytest, no --racekit-save: the user's own machine has no counterexample yet; the message says how
    res = _run(installed, proj, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--racekit-profile", "smoke",
               "tests/test_pool.py")
    assert res.returncode == 1, res.stdout
    assert "--racekit-save" in res.stdout and "found/ticket_pool/check_then_act--linearizability.json" in res.stdout
    assert "racekit check ticket_pool" not in res.stdout  # not a registered system: that command cannot help

    # -- pytest -n 2 --racekit-save: everything passes, the own machine's counterexample is written
    res = _run(installed, proj, "python", "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider", "--racekit-profile", "smoke",
               "--racekit-save")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "8 passed" in res.stdout
    own = proj / "found" / "ticket_pool" / "check_then_act--linearizability.json"
    doc = json.loads(own.read_text())
    assert doc["machine"] == "tests/test_pool.py:PoolMachine"
    assert doc["replay_command"] == "racekit replay found/ticket_pool/check_then_act--linearizability.json"
    assert "machine" not in json.loads(saved[-1].read_text())  # registered: found by name

    # -- replay: every file, the own one through the module it names
    for p in [*saved, own]:
        res = racekit("replay", str(p.relative_to(proj)))
        assert res.returncode == 0 and "matches the file" in res.stdout, (p, res.stdout, res.stderr)
    res = racekit("replay", str(own), "--variant", "locked", cwd=tmp_path)  # from outside: the file's project
    assert res.returncode == 0 and "ticket_pool/locked: clean" in res.stdout, res.stdout + res.stderr

    # -- show: the user's own source lines are read from the project
    res = racekit("show", "--plain", "--width", "100", str(own.relative_to(proj)))
    assert res.returncode == 0, res.stderr
    assert "ticket_pool / check_then_act" in res.stdout and "self.left" in res.stdout

    # -- gallery: the registered systems, the own machine's file among the others, nothing unreadable
    res = racekit("gallery", "-o", "site")
    assert res.returncode == 0, res.stderr
    assert "4 counterexample page(s), 0 unreadable" in res.stdout
    index = (proj / "site" / "index.html").read_text()
    for name in ("shop", "relay", "ledger", "ticket_pool", "notes/shop.md"):
        assert name in index


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
