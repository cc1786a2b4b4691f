"""State machine for the counter: increments and reads on 2-3 logical threads."""

from __future__ import annotations

from racekit import ConcurrentStateMachine, variant_tests
from specs.counter import CounterSpec
from systems import counter


class Machine(ConcurrentStateMachine):
    system = counter.SYSTEM
    spec = CounterSpec()
    threads = 3
    max_ops = 5
    operations = {"increment": (), "get": ()}
    final_calls = [("get", ())]  # exact total at quiescence, checked by the spec
    seed_scenario = [[("increment", ())], [("increment", ())]]


test_counter = variant_tests(Machine)
