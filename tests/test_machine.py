"""The ConcurrentStateMachine and the variant checks, end to end.

* The canary: a planted bug that the harness must catch, so a harness that
  silently explores nothing fails CI.
* Minimality: the saved counter counterexample is as short (operations +
  preemptions) as the shortest one exhaustive search finds.
* Replay determinism across the JSON round trip.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import strategies as st

from racekit import PROFILES, ConcurrentStateMachine, Spec, System, Variant, portfolio, run_scenario, search, store
from racekit.checking import check_variant
from racekit.registry import catalogue_root
from stateful_tests.test_counter import Machine as CounterMachine

ROOT = catalogue_root(Path(__file__).parent)


# ------------------------------------------------------------------ canary
class PlantedBug:
    """A dict-backed set whose add is check-then-insert with a counter: lost adds."""

    def __init__(self) -> None:
        self.items: dict[int, bool] = {}
        self.size = 0

    def add(self, x: int) -> bool:
        if x in self.items:
            return False
        self.items[x] = True
        self.size = self.size + 1
        return True

    def count(self) -> int:
        return self.size


class SetSpec(Spec):
    name = "set"

    def init(self):
        return (frozenset(), 0)

    def step(self, state, name, args):
        items, size = state
        if name == "add":
            (x,) = args
            return ((items, size), False) if x in items else ((items | {x}, size + 1), True)
        return state, size


CANARY = System(
    name="canary",
    summary="planted bug",
    kind="thr",
    variants=[
        Variant("planted", PlantedBug, expect="violation", property="linearizability", bug="check-then-insert"),
        Variant("clean", PlantedBug, expect="correct", options={"trace_files": []}),
    ],
)


class CanaryMachine(ConcurrentStateMachine):
    system = CANARY
    spec = SetSpec()
    threads = 2
    max_ops = 3
    operations = {"add": (st.integers(0, 1),), "count": ()}
    final_calls = [("count", ())]


def test_canary_is_caught_by_hypothesis_alone() -> None:
    """No seed scenario: Hypothesis must find the planted race by itself."""
    outcome = search(CanaryMachine, "planted")
    assert outcome.failed, f"harness missed a planted bug: {outcome.stats}"
    assert outcome.property == "linearizability"
    assert outcome.stats["found_by"] == "hypothesis/drawn"


def test_untraced_canary_explores_but_cannot_see_the_race() -> None:
    """Without opcode tracing the same code has no switch points inside add:
    the search still runs (examples > 0) and honestly finds nothing."""
    outcome = search(CanaryMachine, "clean")
    assert not outcome.failed
    assert outcome.stats["phases"]["hypothesis/drawn"]["runs"] > 0


# -------------------------------------------------------------- minimality
def _shortest_counter_counterexample() -> int:
    """Exhaustive: every scenario of up to 3 operations over 2 threads, every
    schedule (DPOR), then the fewest preemptions.  Length = ops + preemptions."""
    naive = CounterMachine.system.variant("naive")
    plan = CounterMachine.plan(naive, PROFILES["ci"])
    best = None
    ops = [("increment", ()), ("get", ())]
    for total in range(1, 4):
        for split in range(0, total + 1):
            for left in itertools.product(ops, repeat=split):
                for right in itertools.product(ops, repeat=total - split):
                    scenario = [list(t) for t in (left, right) if t]
                    with CounterMachine.session(naive) as session:
                        knobs = portfolio.knobs_for(CounterMachine, plan)
                        rep = portfolio.run_phase(CounterMachine, naive, session, "dpor", 10_000, knobs, seeds=[scenario])
                        if rep.found is None:
                            continue
                        _, choices, _ = portfolio.minimize(CounterMachine, naive, session, plan, rep.found)
                    pre = run_scenario(CounterMachine, naive, scenario, choices).stats["preemptions"]
                    length = total + pre
                    best = length if best is None else min(best, length)
        if best is not None:
            return best
    raise AssertionError("exhaustive search found no counter bug")


def test_saved_counter_counterexample_is_minimal() -> None:
    path = ROOT / "counterexamples" / "counter" / "naive--linearizability.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: write it with `racekit check counter --variant naive`")
    doc = store.load(path)
    saved_length = doc["stats"]["operations"] + doc["stats"]["preemptions"]
    assert saved_length == _shortest_counter_counterexample() == 3


def test_search_finds_the_minimal_one_too() -> None:
    outcome = search(CounterMachine, "naive")
    assert outcome.stats["operations"] == 2 and outcome.stats["preemptions"] == 1


# ------------------------------------------------------- replay round trip
def test_counterexample_replays_identically_after_json_round_trip() -> None:
    v = CounterMachine.system.variant("naive")
    outcome = search(CounterMachine, v)
    doc = store.loads(store.dumps(store.document(CounterMachine.system, v, outcome, {})))
    again = run_scenario(CounterMachine, v, doc["scenario"], doc["choices"])
    assert again.failed and again.trace == outcome.trace and again.history == outcome.history


def test_check_variant_flags_a_wrong_expectation(tmp_path: Path) -> None:
    """A fixed variant that is actually broken must be reported as missed."""
    system = System("counter", "x", "thr", [
        Variant("naive", CounterMachine.system.variant("naive").factory, expect="correct"),
    ])
    report = check_variant(CounterMachine, system, system.variant("naive"), PROFILES["ci"], tmp_path)
    assert not report.met and "expected no violation" in report.problems[0]
