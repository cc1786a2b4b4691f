"""``racekit explore SYSTEM --variant BROKEN --json`` finds the bug for the
first broken variant of every system, of every kind, with no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from racekit.cli import main
from racekit.registry import catalogue_root, load_system, system_names

ROOT = catalogue_root(Path(__file__).parent)


def first_broken(name: str) -> tuple[str, str]:
    system = load_system(name, ROOT)
    variant = system.broken[0]
    return variant.name, variant.property or ""


@pytest.mark.parametrize("system", system_names(ROOT))
def test_explore_finds_the_first_broken_variant(system: str) -> None:
    variant, prop = first_broken(system)
    res = CliRunner().invoke(main, ["explore", system, "--variant", variant, "--json"])
    assert "Traceback" not in res.output
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["violation"] is True and data["property"] == prop, data["message"]
    assert data["trace"] and data["replay"].startswith("racekit explore")


def test_explore_one_strategy_on_a_simulated_system_and_bad_input() -> None:
    res = CliRunner().invoke(main, ["explore", "id_generator", "--variant", "snowflake_unguarded", "--strategy", "bounded", "--json"])
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["violation"] and data["property"] == "monotonic"
    for args, needle in (
        (["explore", "nope", "--variant", "x"], "unknown system 'nope'"),
        (["explore", "counter", "--variant", "x"], "has no variant 'x'"),
        (["explore", "counter", "--variant", "naive", "--strategy", "bogus"], "unknown strategy 'bogus'"),
        (["explore", "id_generator", "--variant", "timestamp_only", "--strategy", "dpor"], "only thread systems"),
    ):
        bad = CliRunner().invoke(main, args)
        assert bad.exit_code == 2 and needle in bad.output and "Traceback" not in bad.output, bad.output
