"""``[tool.racekit]``: how a project is found, what a bad configuration says,
and how a file's ``machine`` reference is checked before anything is imported.

The whole loop in a real project outside the checkout is
tests/test_outside_project.py; these are the edges, fast and in-process
(plus a few ``racekit`` subprocesses for what a user sees on stderr).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from racekit import store
from racekit.commands.check import emit, log_line, next_steps, summary_table
from racekit.errors import CounterexampleError
from racekit.project import DEFAULTS, ConfigError, NoProject, find_project, project_at, project_for_file, project_of
from racekit.registry import machine_for, machine_ref, system_names

CHECKOUT = Path(__file__).resolve().parents[1]


def racekit(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RACEKIT_")}
    return subprocess.run([str(Path(sys.executable).with_name("racekit")), *args], cwd=cwd, capture_output=True,
                          text=True, env={**clean, **(env or {})}, timeout=300)


def pyproject(root: Path, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "p"\nversion = "0"\n\n{table}\n')
    return root


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RACEKIT_CATALOGUE", raising=False)


# --------------------------------------------------------------------------
# Finding the project


def test_the_checkouts_own_table_is_the_defaults() -> None:
    table = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["tool"]["racekit"]
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()} == DEFAULTS
    assert find_project(CHECKOUT / "docs").root == CHECKOUT


def test_the_table_moves_every_folder(tmp_path: Path) -> None:
    root = pyproject(tmp_path / "p", '[tool.racekit]\nsystems = "a/b"\nmachines = "m"\ncounterexamples = "out/cx"')
    (root / "deep" / "er").mkdir(parents=True)
    p = find_project(root / "deep" / "er")
    assert p.root == root.resolve()
    assert (p.systems, p.machines, p.counterexamples) == (root / "a" / "b", (root / "m",), root / "out" / "cx")
    assert p.systems_package == "a.b" and p.specs == root / "specs"


def test_the_nearest_pyproject_bounds_the_search(tmp_path: Path) -> None:
    outer = pyproject(tmp_path, '[tool.racekit]\nsystems = "systems"')
    inner = pyproject(outer / "sub", "")  # a project of its own, no table: the defaults, not the outer one
    assert find_project(inner).root == inner.resolve()
    (inner / "sub2" / "systems").mkdir(parents=True)
    (inner / "sub2" / "systems" / "__init__.py").write_text("")
    assert find_project(inner / "sub2").root == (inner / "sub2").resolve()  # the default layout, nearer


def test_a_nested_systems_folder_does_not_hide_the_configured_root(tmp_path: Path) -> None:
    root = pyproject(tmp_path, '[tool.racekit]\nsystems = "checks/systems"')
    (root / "checks" / "systems").mkdir(parents=True)
    (root / "checks" / "systems" / "__init__.py").write_text("")
    assert find_project(root / "checks").root == root.resolve()


def test_no_project_at_all_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NoProject, match=r"add a \[tool.racekit\] table .* `racekit new NAME`"):
        find_project(tmp_path)


def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = pyproject(tmp_path / "other", '[tool.racekit]\ncounterexamples = "cx"')
    monkeypatch.setenv("RACEKIT_CATALOGUE", str(other))
    assert find_project(CHECKOUT).counterexamples == other.resolve() / "cx"
    monkeypatch.setenv("RACEKIT_CATALOGUE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="is not a directory"):
        find_project()


def test_a_machine_finds_its_project_from_its_own_module(tmp_path: Path) -> None:
    """pytest started anywhere: the machine's file decides (here: the checkout's catalogue)."""
    from stateful_tests.test_counter import Machine

    assert project_of(Machine).root == CHECKOUT
    assert machine_ref(project_of(Machine), Machine) is None  # registered: files name it by system only


# --------------------------------------------------------------------------
# Bad configuration: one line naming the problem


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[tool.racekit]\nsystems = "/etc"', "systems = '/etc' must be relative to the project root"),
        ('[tool.racekit]\ncounterexamples = "../elsewhere"', "must name a folder inside the project root"),
        ('[tool.racekit]\nsystems = "my-systems"', "'my-systems' is not a Python package name"),
        ('[tool.racekit]\nsystem = "systems"', "unknown key [tool.racekit] system (known: systems, machines"),
        ('[tool.racekit]\nmachines = 3', "machines must be a path or a list of paths"),
        ('[tool.racekit]\nsystems = ""', "systems must be a path (a non-empty string)"),
        ('[tool]\nracekit = "systems"', "tool.racekit must be a table"),
        ('[tool.racekit\nsystems = "x"', "not valid TOML"),
    ],
)
def test_bad_configuration_is_one_line(tmp_path: Path, table: str, message: str) -> None:
    root = pyproject(tmp_path, table)
    with pytest.raises(ConfigError) as info:
        find_project(root)
    assert message in str(info.value) and "\n" not in str(info.value)
    res = racekit(root, "check")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and message in res.stderr and "pyproject.toml" in res.stderr


def test_a_project_without_systems_says_how_to_start(tmp_path: Path) -> None:
    root = pyproject(tmp_path, "[tool.racekit]")
    res = racekit(root, "check")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "no systems package at" in res.stderr and "racekit new NAME" in res.stderr


def test_a_same_named_package_from_elsewhere_is_refused(tmp_path: Path) -> None:
    """The checkout's ``systems`` is imported in this process: a project whose systems
    package has the same name must not silently get the checkout's modules."""
    import systems  # noqa: F401  - the checkout's catalogue, as under the dev install

    root = pyproject(tmp_path, "[tool.racekit]")
    (root / "systems").mkdir()
    (root / "systems" / "__init__.py").write_text("")
    (root / "systems" / "mine.py").write_text("raise SystemExit('imported')\n")
    with pytest.raises(ConfigError, match="'systems' is already imported from .* not from"):
        from racekit.registry import load_system

        load_system("mine", project_at(root))


# --------------------------------------------------------------------------
# A file names its machine: checked against the configuration before any import

SENTINEL = "import pathlib; pathlib.Path(__file__).with_suffix('.ran').write_text('x')\n"


def _doc(ref: str, system: str = "ticket_pool") -> dict[str, object]:
    return {"system": system, "variant": "v", "machine": ref}


def test_a_machine_outside_the_configured_folders_is_never_imported(tmp_path: Path) -> None:
    root = pyproject(tmp_path, '[tool.racekit]\nmachines = ["checks"]')
    (root / "scripts").mkdir()
    evil = root / "scripts" / "evil.py"
    evil.write_text(SENTINEL + "class Machine: pass\n")
    with pytest.raises(CounterexampleError, match=r"not in a folder .* allows machines in \(checks, systems\)"):
        machine_for(_doc("scripts/evil.py:Machine"), project_at(root), source="x.json")
    with pytest.raises(CounterexampleError, match="leaves the project"):
        machine_for(_doc("checks/../scripts/evil.py:Machine"), project_at(root))
    assert not evil.with_suffix(".ran").exists()


def test_a_named_machine_must_be_an_engine_of_the_files_system(tmp_path: Path) -> None:
    root = pyproject(tmp_path, '[tool.racekit]\nmachines = ["tests_named_machine"]')
    folder = root / "tests_named_machine"
    folder.mkdir()
    (folder / "test_shapes.py").write_text(
        "from stateful_tests.test_counter import Machine as CounterMachine\n"
        "class NotAnEngine: pass\n"
    )
    proj = project_at(root)
    with pytest.raises(CounterexampleError, match="defines no engine class NotAnEngine"):
        machine_for(_doc("tests_named_machine/test_shapes.py:NotAnEngine"), proj)
    with pytest.raises(CounterexampleError, match="runs system 'counter', but the file is a counterexample of 'ticket_pool'"):
        machine_for(_doc("tests_named_machine/test_shapes.py:CounterMachine"), proj)
    assert machine_for(_doc("tests_named_machine/test_shapes.py:CounterMachine", "counter"), proj).system.name == "counter"


def test_the_machine_field_is_validated_on_load(tmp_path: Path) -> None:
    doc = store.load(CHECKOUT / "counterexamples" / "counter" / "naive--linearizability.json")
    for bad in ("/etc/passwd.py:X", "x.py", "x.py:1abc", 7, "a.py:B; import os"):
        with pytest.raises(CounterexampleError, match="is not PATH.py:CLASS"):
            store.validate({**doc, "machine": bad})
    assert store.validate({**doc, "machine": "tests/test_pool.py:PoolMachine"})["machine"]


def test_replay_of_a_file_naming_an_unconfigured_module_is_one_line(tmp_path: Path) -> None:
    root = pyproject(tmp_path, '[tool.racekit]\nmachines = ["checks"]')
    (root / "scripts").mkdir()
    (root / "scripts" / "evil.py").write_text(SENTINEL)
    doc = store.load(CHECKOUT / "counterexamples" / "counter" / "naive--linearizability.json")
    path = root / "counterexamples" / "counter" / "naive.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**doc, "machine": "scripts/evil.py:Machine"}))
    res = racekit(tmp_path, "replay", str(path))
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "add its folder to [tool.racekit] machines" in res.stderr
    assert not (root / "scripts" / "evil.ran").exists()
    assert project_for_file(path).root == root.resolve()


# --------------------------------------------------------------------------
# What the user sees


def test_counterexamples_are_written_with_the_ordinary_file_mode(tmp_path: Path) -> None:
    """What ``open()`` would give (0666 less the umask, read each time), not mkstemp's 0600."""
    doc = store.load(CHECKOUT / "counterexamples" / "counter" / "naive--linearizability.json")
    for mask, mode in ((0o022, 0o644), (0o002, 0o664), (0o022, 0o644)):
        old = os.umask(mask)
        try:
            store.save(tmp_path / "cx" / "a.json", doc)
            assert os.umask(mask) == mask  # reading it left it alone
        finally:
            os.umask(old)
        for name in ("a.json", "a.md"):
            assert stat.S_IMODE((tmp_path / "cx" / name).stat().st_mode) == mode, (oct(mask), name)


def _row(system: str, variant: str, prop: str | None, met: bool = True, outcome: str = "violation",
         counterexample: str | None = None) -> dict[str, object]:
    return {"system": system, "variant": variant, "expect": "violation" if prop else "correct", "outcome": outcome,
            "property": prop, "met": met, "message": "", "counterexample": counterexample, "schedules": 100000,
            "length": 12, "seconds": 123.4, "problems": [] if met else ["expected a violation; none found"]}


def test_the_check_table_fits_100_columns_without_cutting_names() -> None:
    longest = [
        _row("background_rebuild_cache", "stale_while_revalidate",
             "every job processed exactly once or rejected to its caller"),
        _row("background_rebuild_cache", "stale_while_revalidate", None, met=False, outcome="clean"),
    ]
    for width in (100, 80):
        text = summary_table(longest, width)
        lines = text.splitlines()
        assert max(len(line.rstrip()) for line in lines) <= width, text
        body = [line for line in lines if "background_rebuild_cache" in line]
        assert len(body) == 2 and all("stale_while_revalidate" in line for line in body), text
        assert "MISSED" in text and "1/2 expectations met" in text


def test_the_check_of_the_whole_catalogue_fits_100_columns() -> None:
    from racekit.registry import load_system

    rows = [_row(name, v.name, v.property) for name in system_names(CHECKOUT)
            for v in load_system(name, CHECKOUT).variants]
    text = summary_table(rows, 100)
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
    for r in rows:
        assert any(str(r["system"]) in line and str(r["variant"]) in line for line in text.splitlines())


def test_log_lines_are_one_short_line_each(tmp_path: Path) -> None:
    assert log_line(_row("counter", "naive", "linearizability")) == \
        "ok      123.4s  counter/naive: violation of linearizability"
    root = pyproject(tmp_path, "[tool.racekit]")
    assert racekit(root, "new", "tally").returncode == 0
    res = racekit(root, "check", "--profile", "smoke", "-j", "1", env={"COLUMNS": "40"})
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    # not a terminal (a CI log): whole lines, not wrapped at COLUMNS, no time stamp or source location
    assert len(lines) == 2, res.stderr
    assert re.fullmatch(r"ok +\d+\.\ds  tally/broken: violation of linearizability", lines[0]), lines
    assert not any(".py:" in line or line.startswith("[") for line in lines)


def test_log_lines_are_cut_to_a_terminal_not_wrapped() -> None:
    import io

    from rich.console import Console

    row = _row("background_rebuild_cache", "stale_while_revalidate", "every job processed exactly once")
    for terminal in (True, False):
        out = io.StringIO()
        emit(Console(file=out, width=50, force_terminal=terminal, color_system=None), row)
        text = out.getvalue()
        assert text.count("\n") == 1 and text.startswith("ok      123.4s  background_rebuild_cache"), text
        assert (len(text) == 51 and text.endswith("…\n")) if terminal else text == log_line(row) + "\n"


def test_check_says_where_counterexamples_went_and_what_to_run_next(tmp_path: Path) -> None:
    proj = project_at(pyproject(tmp_path, '[tool.racekit]\ncounterexamples = "cx"'))
    ok = [_row("a", "broken", "p", counterexample="cx/a/broken--p.json"), _row("a", "fixed", None, outcome="clean")]
    cwd = os.getcwd()
    os.chdir(proj.root)
    try:
        assert next_steps(ok, proj, save=True) == [
            "counterexamples: 1 written to cx/ (JSON + Markdown, to commit)",
            "next: racekit show cx/a/broken--p.json",
            "      racekit gallery -o site/   (all of them as HTML)",
        ]
        missed = [ok[0], _row("a", "other", "p", met=False, outcome="clean")]
        assert next_steps(missed, proj, save=False)[-1] == "next: racekit explore a --variant other"
        (proj.root / "sub").mkdir()
        os.chdir(proj.root / "sub")
        assert next_steps(ok, proj, save=True)[1] == "next: racekit show ../cx/a/broken--p.json"
    finally:
        os.chdir(cwd)


def test_the_pytest_hint_names_the_real_flag(tmp_path: Path) -> None:
    from racekit.checking import check_variant
    from racekit.profiles import profile
    from stateful_tests.test_counter import Machine

    proj = project_at(pyproject(tmp_path, "[tool.racekit]"))  # an empty counterexample folder
    report = check_variant(Machine, Machine.system, Machine.system.variant("naive"), profile("smoke"), proj)
    assert "write it with `racekit check counter --variant naive`" in report.problems[-1]
    report = check_variant(Machine, Machine.system, Machine.system.variant("naive"), profile("smoke"), proj,
                           how_to_save="`pytest --racekit-save`")
    assert "write it with `pytest --racekit-save`" in report.problems[-1]
    assert "counterexamples/counter/naive--linearizability.json" in report.problems[-1]


def test_a_bad_table_fails_a_variant_test_with_its_one_line(tmp_path: Path) -> None:
    from tests.test_outside_project import OWN_TEST

    root = pyproject(tmp_path, '[tool.racekit]\ncounterexample = "cx"')
    (root / "tests").mkdir()
    (root / "tests" / "test_pool.py").write_text(OWN_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACEKIT_", "PYTEST_"))}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_pool.py"],
                         cwd=root, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 1, res.stdout
    assert "unknown key [tool.racekit] counterexample (known: systems" in res.stdout
    assert "Traceback" not in res.stdout and "raise ConfigError" not in res.stdout


# --------------------------------------------------------------------------
# Projects with no pyproject.toml: a conftest.py's folder, or one test file's


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACEKIT_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--racekit-profile", "smoke",
                           *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_a_conftest_folder_is_the_project_for_every_command(tmp_path: Path) -> None:
    """No pyproject.toml: the conftest.py's folder is where pytest saves, and where
    replay, show and gallery look - from the root or a folder below it."""
    from tests.test_outside_project import OWN_TEST

    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "conftest.py").write_text("")
    (root / "tests" / "test_pool.py").write_text(OWN_TEST)
    res = _pytest(root, "--racekit-save", "tests/test_pool.py")
    assert res.returncode == 0, res.stdout
    saved = root / "counterexamples" / "ticket_pool" / "check_then_act--linearizability.json"
    assert json.loads(saved.read_text())["machine"] == "tests/test_pool.py:PoolMachine"
    res = racekit(root / "tests", "replay", "../counterexamples/ticket_pool/check_then_act--linearizability.json")
    assert res.returncode == 0 and "matches the file" in res.stdout, res.stderr
    res = racekit(root, "show", "--plain", str(saved.relative_to(root)))
    assert res.returncode == 0 and "ticket_pool / check_then_act" in res.stdout, res.stderr
    res = racekit(root / "tests", "gallery", "-o", str(tmp_path / "site"))
    assert res.returncode == 0 and "1 counterexample page(s), 0 unreadable" in res.stdout, res.stderr
    assert find_project(root / "tests").origin.endswith("(its conftest.py, no pyproject.toml)")


def test_a_project_of_one_test_file(tmp_path: Path) -> None:
    """No pyproject.toml, no conftest.py: the test file's folder. Messages give the path
    from where pytest was started; the saved file replays from there too."""
    from tests.test_outside_project import OWN_TEST

    here = tmp_path / "work"
    (here / "checks").mkdir(parents=True)
    (here / "checks" / "test_pool.py").write_text(OWN_TEST)
    res = _pytest(here, "checks/test_pool.py")
    assert res.returncode == 1, res.stdout
    assert "no saved counterexample at checks/counterexamples/ticket_pool/check_then_act--" in res.stdout
    res = _pytest(here, "--racekit-save", "checks/test_pool.py")
    assert res.returncode == 0, res.stdout
    saved = here / "checks" / "counterexamples" / "ticket_pool" / "check_then_act--linearizability.json"
    doc = json.loads(saved.read_text())
    assert doc["machine"] == "test_pool.py:PoolMachine"
    res = racekit(here, "replay", str(saved.relative_to(here)))
    assert res.returncode == 0 and "matches the file" in res.stdout, res.stderr
    res = racekit(here / "checks", "gallery", "-o", str(tmp_path / "site"))
    assert res.returncode == 0 and "1 counterexample page(s), 0 unreadable" in res.stdout, res.stderr

    # Only test_*.py modules of that folder itself (what pytest would import there) may be named.
    (here / "checks" / "helper.py").write_text(SENTINEL)
    (here / "checks" / "lib").mkdir()
    (here / "checks" / "lib" / "test_deep.py").write_text(SENTINEL)
    for ref in ("helper.py:PoolMachine", "lib/test_deep.py:PoolMachine"):
        path = saved.with_name("forged.json")
        path.write_text(json.dumps({**doc, "machine": ref}))
        res = racekit(here, "replay", str(path))
        assert res.returncode == 2 and res.stderr.count("\n") == 1, (ref, res.stderr)
        assert "test_*.py in" in res.stderr or "must be a test_*.py" in res.stderr, res.stderr
    assert not list(here.rglob("*.ran"))
