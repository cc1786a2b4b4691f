"""A Hypothesis ``RuleBasedStateMachine`` over a simulated world.

The choice-sequence design (``machine.py``) is the engine; this wrapper is
for users who think in rules, or want to add their own (a new client
operation, an operator action).  Every rule is one world decision:

* ``deliver(i)``  - fire the i-th pending event (0 = oldest due);
* ``fault(i, j)`` - inject the i-th available fault, sized by ``j``;
  drop / dup / delay / crash / partition / skew / pause, within the budget;
* ``advance_time(ms)`` - fire events in the boring order for ``ms``;
* ``client_op`` - when the machine defines ``client_op(variant, draw)``,
  submit one more operation.

"Always" properties are Hypothesis invariants; "end" properties run at
teardown.  Hypothesis shrinks the rule sequence.  Subclass the returned
class to add rules.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from racekit.choice import HypothesisDraw
from racekit.declarations import Variant
from racekit.sim.machine import SimMachine
from racekit.sim.world import World


class _Fixed:
    """Answers every sub-choice (a fault's size) with ``index`` folded into range."""

    def __init__(self, index: int) -> None:
        self.index = index

    def choose(self, options: Sequence[Hashable], kind: str, view: object = None) -> int:
        return self.index % len(options)


def rule_based(
    machine: type[SimMachine], variant: Variant, scenario: dict[str, Any] | None = None
) -> type[RuleBasedStateMachine]:
    """A RuleBasedStateMachine class driving ``machine``'s world for ``variant``."""
    fixed_scenario = scenario if scenario is not None else machine.default_scenario(variant)
    props = machine.checked_properties(variant)
    always = [p for p in props if p.when == "always"]
    end = [p for p in props if p.when == "end"]

    class SimRules(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.world: World = machine.build_world(variant, fixed_scenario)
            self.world.start()

        @rule(i=st.integers(0, 7))
        def deliver(self, i: int) -> None:
            options = self.world.candidates()
            if options:
                self.world.fire(options[i % len(options)])

        @rule(i=st.integers(0, 63), j=st.integers(0, 7))
        def fault(self, i: int, j: int) -> None:
            options = self.world.fault_options()
            if options:
                self.world.inject(options[i % len(options)], _Fixed(j))

        @rule(ms=st.sampled_from([10, 100, 1000]))
        def advance_time(self, ms: int) -> None:
            until = self.world.now + ms
            while self.world.now < until:
                options = self.world.candidates()
                if not options:
                    break
                self.world.fire(options[0])

        @rule(data=st.data())
        def client_op(self, data: Any) -> None:
            make = getattr(machine, "client_op", None)
            if make is not None:
                client_id, op = make(variant, HypothesisDraw(data))
                self.world.submit(client_id, op)

        @invariant()
        def safety(self) -> None:
            for prop in always:
                message = prop.check(self.world)
                assert message is None, f"{prop.name}: {message}"

        def teardown(self) -> None:
            for prop in end:
                message = prop.check(self.world)
                assert message is None, f"{prop.name}: {message}"

    SimRules.__name__ = f"{machine.__name__}Rules"
    SimRules.__qualname__ = SimRules.__name__
    return SimRules
