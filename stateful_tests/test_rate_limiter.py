"""Simulated rate limiter: 3 instances, bursty clients hitting any instance, skew, drops, crashes.

Properties: ``window_limit`` (<= limit admissions per user in every sliding
window, strong variants), ``approx_limit`` (<= approx_bound, approximate
variant), ``linearizable`` (strong: hits answered within the first window
are linearizable against ``WindowSpec``).  The fixed variants must also not
refuse for nothing: ``justified_deny`` (every 429 deserved: exact for the
strong owner, within the gossip lag for the approximate one in a run
without crash/drop/partition) and ``all_answered`` (strong: without such
faults every hit gets a decision, never ``unavailable`` or silence).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar

from racekit import PROFILES, check_history, History, Operation, Result, search, System, Variant, variant_tests
from racekit.sim import (
    ClientOp,
    ClientScript,
    Draw,
    FaultBudget,
    Node,
    Property,
    SimMachine,
    World,
    WorldConfig,
    make_scenario_json,
)
from specs.rate_limiter import WindowSpec, over_limit, unanswered, unjustified_deny
from systems import rate_limiter
from systems.rate_limiter import UNAVAILABLE, Limits, approx_bound

INSTANCES = ("i1", "i2", "i3")
LIMITS = Limits()
WINDOW = 10  # the world's reorder window: the most any event is late
MAX_DELAY = 1 + WINDOW


def admissions(world: World) -> list[tuple[str, int]]:
    return [(n.data["user"], n.t) for n in world.notes_of("admit")]


def denials(world: World) -> list[tuple[str, int, str]]:
    return [(n.data["user"], n.t, n.node) for n in world.notes_of("deny")]


def admissions_at(world: World) -> list[tuple[str, int, str]]:
    return [(n.data["user"], n.t, n.node) for n in world.notes_of("admit")]


def disruptive_faults(world: World) -> int:
    """Faults that may justify a refusal; a skew jump moves only the wall clock, which neither variant reads."""
    return sum(n for kind, n in world.faults_used.items() if kind != "skew")


def strong_deny_justified(world: World) -> str | None:
    """The owner's log is exact on its monotonic clock (no drift here): a 429 needs `limit` real admissions."""
    return unjustified_deny(denials(world), admissions_at(world), LIMITS.window_ms, LIMITS.limit)


def approx_deny_justified(world: World) -> str | None:
    """Peer counts lag by at most a report period plus the network delay; the burst cap is per report period."""
    if disruptive_faults(world):
        return None  # a stale peer or a restart sends the instance to its (deliberately stingy) fallback
    lag = LIMITS.window_ms + 2 * LIMITS.gossip_ms + MAX_DELAY
    return unjustified_deny(denials(world), admissions_at(world), lag, LIMITS.limit, burst_ms=2 * LIMITS.gossip_ms)


def client_message_dropped(world: World) -> bool:
    """A drop of a request or reply on a client's link (``c0->i1 ...``): that hit may stay unanswered."""
    for e in world.trace:
        if e["what"] == "drop":
            ends = e["detail"].split(" ", 1)[0].split("->")
            if any(end not in INSTANCES for end in ends):
                return True
    return False


def strong_all_answered(world: World) -> str | None:
    """No faults: every hit gets a decision.  Only drops between instances: every hit gets an answer
    (``unavailable`` when the forwarded decision was lost - fail closed, but never silent)."""
    if not disruptive_faults(world):
        return unanswered(world.recorder.history(), UNAVAILABLE)
    if world.faults_used["drop"] == disruptive_faults(world) and not client_message_dropped(world):
        return unanswered(world.recorder.history(), object())
    return None


def first_window_linearizable(world: World) -> str | None:
    """Hits invoked in the first window; those answered after it count as unknown (info)."""
    time_of = {e["step"]: e["t"] for e in world.trace}
    ops = []
    for op in world.recorder.history():
        if time_of.get(op.invoke, 0) >= LIMITS.window_ms:
            continue
        answered = op.ret is not None and time_of.get(op.ret, LIMITS.window_ms) < LIMITS.window_ms
        if op.status == "ok" and answered and op.result != UNAVAILABLE:
            ops.append(op)
        else:
            ops.append(Operation(op.id, op.process, op.name, op.args, op.invoke, None, None, "info"))
    result = check_history(History(ops), WindowSpec(LIMITS.limit), timeout=5.0)
    return result.message if result.verdict == "violation" else None


class Machine(SimMachine):
    system: ClassVar[System] = rate_limiter.SYSTEM

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        """Steady load on every instance at once, fault-free: the approximate variant's budget arithmetic.

        ``think=0``: each instance gets hits back to back - only the per-report
        burst cap stops all three from admitting the whole limit before the
        first report.  ``think=95``: about one hit per report period per
        instance for a whole window - only the gossiped peer counts stop each
        instance from admitting the limit on its own.  Random bursts are too
        short and too scattered to show either.
        """
        if not variant.params.get("approximate"):
            return []
        config = WorldConfig(nodes=INSTANCES, horizon=2000, faults=FaultBudget())  # no reordering: few choices
        seeds = []
        for hits, think in ((5, 0), (6, 95)):
            clients = [
                ClientScript(f"c{i}", tuple(ClientOp(node, "hit", ("u1",)) for _ in range(hits)), timeout=60, think=think)
                for i, node in enumerate(INSTANCES)
            ]
            seeds.append(make_scenario_json(config, clients))
        return seeds

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> dict[str, Any]:
        clients = []
        for c in range(3):
            # bursts start on a coarse grid so that clients overlap, often near window edges
            start, think = draw.integer(0, 8) * 250, draw.integer(0, 30)
            ops = tuple(ClientOp(draw.pick(INSTANCES), "hit", ("u1",), at=start) for _ in range(draw.integer(3, 10)))
            clients.append(ClientScript(f"c{c}", ops, timeout=60, think=think))
        offsets = tuple((i, draw.integer(-300, 300)) for i in INSTANCES)
        config = WorldConfig(
            nodes=INSTANCES,
            window=WINDOW,
            horizon=3000,
            faults=FaultBudget(drop=2, crash=1, partition=1, skew=2),
            crash_downtime=(50, 400),
            partition_duration=(300, 1500),
            skew_jumps=(-700, -100, 400),
            offsets=offsets,
        )
        return make_scenario_json(config, clients)

    @classmethod
    def node_factory(cls, variant: Variant, scenario: dict[str, Any]) -> Callable[[str], Node]:
        node_cls = variant.factory()
        return lambda nid: node_cls(INSTANCES, LIMITS)

    @classmethod
    def properties(cls, variant: Variant) -> list[Property]:
        if variant.params.get("approximate"):
            bound = approx_bound(LIMITS, len(INSTANCES), MAX_DELAY)
            return [
                Property("approx_limit", lambda w: over_limit(admissions(w), LIMITS.window_ms, bound), when="end"),
                Property("justified_deny", approx_deny_justified, when="end", kind="availability"),
            ]
        props = [Property("window_limit", lambda w: over_limit(admissions(w), LIMITS.window_ms, LIMITS.limit), when="end")]
        if variant.name == "strong":
            props.append(Property("linearizable", first_window_linearizable, when="end", kind="linearizability"))
            props.append(Property("justified_deny", strong_deny_justified, when="end", kind="availability"))
            props.append(Property("all_answered", strong_all_answered, when="end", kind="liveness"))
        return props


CI = PROFILES["ci"]
SYSTEM = rate_limiter.SYSTEM


@cache
def found(variant_name: str) -> Result:
    return search(Machine, variant_name, CI)


def test_local_buckets_over_admit() -> None:
    outcome = found("local_buckets")
    assert outcome.failed and outcome.property == "window_limit", outcome.message


def test_fixed_window_bursts_across_the_boundary() -> None:
    outcome = found("fixed_window")
    assert outcome.failed and outcome.property == "window_limit", outcome.message


# Every variant against its expectation; fixed variants replay the saved
# counterexamples of their broken siblings (counterexamples/rate_limiter/).
test_rate_limiter = variant_tests(Machine)
