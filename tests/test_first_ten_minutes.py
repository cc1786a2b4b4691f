"""What the README promises a newcomer stays true of pyproject.toml, the Makefile and the CLI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from racekit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SERVERS = ("starlette", "uvicorn", "httpx", "psycopg", "redis")


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_command_line_section_lists_every_command() -> None:
    section = README.split("## The command line", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\s+racekit ([a-z]+)", section, re.M))
    assert set(main.commands) <= listed, f"missing from the README's command list: {set(main.commands) - listed}"


def test_the_python_it_needs_is_the_one_pyproject_requires() -> None:
    need = PYPROJECT["project"]["requires-python"]
    version = re.fullmatch(r">=\s*(\d+\.\d+)", need)
    assert version, need
    assert f"Python {version[1]} or newer" in README


def test_the_library_installs_without_the_catalogues_servers() -> None:
    core = _names(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert not core & set(SERVERS), f"server clients in the core dependencies: {core & set(SERVERS)}"
    assert set(SERVERS) <= _names(extras["catalogue"])  # plus the catalogue's own libraries (ddsketch, ...)
    assert "racekit" in _names(extras["dev"]) and "racekit[catalogue]" in extras["dev"]
    assert "    pip install racekit\n" in README and "pip install 'racekit[catalogue]'" in README
    for name in core - {"pytest-xdist"}:
        assert name in README.lower(), f"the README's list of core dependencies misses {name}"


def test_the_setup_command_the_readme_quotes_is_the_makefiles() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q -e '.[dev]'" in makefile and "pip install -e '.[dev]'" in README
    assert "python3 -m venv $(VENV)" in makefile and "python3 -m venv .venv" in README
    assert re.search(r"^run:.*\n\t\$\(VENV\)/bin/racekit check\n", makefile, re.M)


def test_the_first_ten_minutes_are_spelled_out() -> None:
    assert "rewrites the counterexamples under `counterexamples/`" in README
    assert re.search(r"`make run` (about )?\d+ (s|min)", README), "make run's measured duration"
    assert re.search(r"`make test`\s+(about )?\d+ (s|min)", README), "make test's measured duration"
    assert "DURATION" not in README
    assert "racekit new" in README and "[tool.racekit]" in README
    guide = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    assert "racekit new NAME --kind" in guide and "[tool.racekit]" in guide
