"""racekit's pytest plugin: profiles, saving counterexamples, a summary.

Loaded through the ``pytest11`` entry point, so it must stay cheap to import:
nothing from the engine is imported at module level.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("racekit")
    group.addoption(
        "--racekit-profile",
        default="ci",
        choices=("smoke", "ci", "deep"),
        help="how hard to search: smoke (seconds), ci (the default) or deep (long exploration)",
    )
    group.addoption(
        "--racekit-save",
        action="store_true",
        default=False,
        help="write minimized counterexamples of broken variants to the project's counterexample folder "
        "([tool.racekit] counterexamples in pyproject.toml; default counterexamples/)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "deep: runs only with --racekit-profile=deep")
    config._racekit_reports = []  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--racekit-profile") == "deep":
        return
    skip = pytest.mark.skip(reason="deep exploration: run with --racekit-profile=deep")
    for item in items:
        if "deep" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def racekit_profile(request: pytest.FixtureRequest) -> Any:
    from racekit.profiles import profile

    return profile(request.config.getoption("--racekit-profile"))


@pytest.fixture
def racekit_save(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--racekit-save"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Runs in the controller under xdist too: user_properties travel with reports.
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == "racekit" and isinstance(value, dict):
            _REPORTS.append(value)


_REPORTS: list[dict[str, Any]] = []


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _REPORTS:
        return
    caught = sum(1 for r in _REPORTS if r["expect"] == "violation" and r["outcome"] == "violation" and r["met"])
    clean = sum(1 for r in _REPORTS if r["expect"] == "correct" and r["met"])
    missed = [r for r in _REPORTS if not r["met"]]
    tr = terminalreporter
    tr.section("racekit")
    tr.write_line(
        f"profile {config.getoption('--racekit-profile')}: {caught} broken variants caught, "
        f"{clean} fixed variants clean, {len(missed)} expectations missed"
    )
    for r in missed:
        tr.write_line(f"  MISSED {r['system']}/{r['variant']} (expect {r['expect']}): {'; '.join(r['problems'])}")
