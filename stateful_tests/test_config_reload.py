"""Hot reload under the thread scheduler: two updater threads (push handler and
poller) installing versions while a request thread reads the configuration.

The history is checked against ``ConfigSpec`` (forward-only installs, whole
reads); a final ``read()`` after every operation returned observes the
installed version, so a version that went backwards is a violation too.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, System, Variant, every_schedule, search, variant_tests
from specs.config_reload import ConfigSpec
from systems import config_reload

VERSIONS = st.sampled_from([(2, "c2"), (3, "c3"), (4, "c1")])  # 4 = a rollback to c1's content


def apply(version: int, content: str) -> tuple[str, tuple[object, ...]]:
    return ("apply", (version, content))


READ = ("read", ())


class Machine(ConcurrentStateMachine):
    system = config_reload.SYSTEM
    spec = ConfigSpec()
    threads = 3
    max_ops = 5
    operations = {"apply": (st.integers(2, 4), st.sampled_from(["c1", "c2", "c3"])), "read": ()}
    final_calls = [READ]
    # a push and a poll racing, and a request thread reading meanwhile
    seed_scenario = [[apply(3, "c3")], [apply(2, "c2")], [READ, READ]]
    variant_seeds = {
        "in_place": [[apply(2, "c2")], [READ]],
        "unguarded_swap": [[apply(3, "c3")], [apply(2, "c2")]],
    }


test_config_reload = variant_tests(Machine)


def test_snapshot_is_whole_and_forward_only_in_every_schedule() -> None:
    """Every schedule (DPOR) of the two bugs' scenarios and of a rollback (v4,
    c1's content) racing a rollout (v3) with a read behind it."""
    for scenario in (
        [[apply(2, "c2")], [READ]],
        [[apply(3, "c3")], [apply(2, "c2")]],
        [[apply(4, "c1")], [apply(3, "c3"), READ]],
    ):
        result = every_schedule(Machine, "snapshot", scenario, runs=5_000)
        assert not result.failed, (result.kind, result.message)
        assert result.coverage is not None and result.coverage.exhaustive, result.stats


# ---------------------------------------------------------------------------
# Planted bugs: copies of the fixed variant with one realistic mistake each.
# ---------------------------------------------------------------------------
class TwoLoads(config_reload.SnapshotConfig):
    """The reader loads the reference once per field: a swap between loads tears it."""

    def read(self) -> tuple[int, int, int, str]:
        return (self.current.version, self.current.timeout_ms, self.current.retries, self.current.endpoint)


class CheckOutsideLock(config_reload.SnapshotConfig):
    """Double-checked install without the second check under the lock."""

    def apply(self, version: int, content: str) -> None:
        if version > self.current.version:
            new = config_reload.snapshot_of(version, content)
            with self.lock:
                self.current = new


class NoVersionCheck(config_reload.SnapshotConfig):
    """Installs whatever arrives last (a rollback must then be a lower version...)."""

    def apply(self, version: int, content: str) -> None:
        new = config_reload.snapshot_of(version, content)
        with self.lock:
            self.current = new


PLANTED = {"two_loads": TwoLoads, "check_outside_lock": CheckOutsideLock, "no_version_check": NoVersionCheck}


class PlantedMachine(Machine):
    system = System(
        name="config_reload",
        summary="planted bugs in the fixed variant",
        kind="thr",
        variants=[
            *(Variant(name, cls, expect="violation", property="linearizability", bug=name) for name, cls in PLANTED.items()),
            Variant("snapshot", config_reload.SnapshotConfig, expect="correct"),
        ],
    )
    variant_seeds = {}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_planted_bug_is_caught(name: str) -> None:
    outcome = search(PlantedMachine, name, "ci")
    assert outcome.failed and outcome.property == "linearizability", outcome.message
