"""State machine for the read-mostly map: gets, puts, removes and snapshots on 3 threads.

After every operation has returned, a final ``items()`` observes the whole
map, so a lost write is a linearizability violation of that snapshot.
"""

from __future__ import annotations

from hypothesis import strategies as st

from racekit import ConcurrentStateMachine, variant_tests
from specs.read_mostly_map import SnapshotMapSpec
from systems import read_mostly_map

KEY = st.sampled_from(["a", "b"])


class Machine(ConcurrentStateMachine):
    system = read_mostly_map.SYSTEM
    spec = SnapshotMapSpec()
    threads = 3
    max_ops = 5
    operations = {"get": (KEY,), "put": (KEY, st.integers(1, 3)), "remove": (KEY,), "items": ()}
    final_calls = [("items", ())]
    seed_scenario = [[("put", ("a", 1)), ("items", ())], [("put", ("b", 2))], [("get", ("a",)), ("remove", ("b",))]]
    variant_seeds = {
        "cow_unlocked": [[("put", ("a", 1))], [("put", ("b", 2))]],
        "rwlock_upgrade": [[("put", ("a", 1))]],
    }


test_read_mostly_map = variant_tests(Machine)
