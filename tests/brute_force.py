"""A deliberately dumb linearizability checker, the reference for differential tests.

It shares no code with ``racekit.linearizability``: for every subset of the
``info`` operations it tries every permutation of (completed ops + subset),
keeps those that respect real time, and replays them on the spec.  No
memoization, no pruning, no partitioning by search: a partitioned spec is
replayed as one map from partition key to sub-state, which also checks
P-compositionality independently.  Only for tiny histories (7 ops or so).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from racekit.history import History, Operation
from racekit.spec import Spec


def must_precede(a: Operation, b: Operation) -> bool:
    """A must come before B: A completed (not info) and returned before B was invoked."""
    return a.status != "info" and a.ret is not None and a.ret < b.invoke


def respects_real_time(order: Sequence[Operation]) -> bool:
    for i, later in enumerate(order):
        for earlier in order[i + 1 :]:
            if must_precede(earlier, later):
                return False
    return True


def replay(order: Iterable[Operation], spec: Spec) -> list[dict[Hashable, Any]]:
    """All worlds (partition key -> state) the order can end in; empty if illegal."""
    worlds: list[dict[Hashable, Any]] = [{}]
    for op in order:
        key = spec.partition_key(op.name, op.args)
        new_worlds = []
        for world in worlds:
            state = world[key] if key in world else spec.init()
            for new_state, result in spec.outcomes(state, op.name, op.args):
                if op.status == "info" or spec.result_matches(op.name, op.args, result, op.result):
                    new_world = dict(world)
                    new_world[key] = new_state
                    new_worlds.append(new_world)
        worlds = new_worlds
        if not worlds:
            return []
    return worlds


def is_legal(order: Sequence[Operation], spec: Spec) -> bool:
    return respects_real_time(order) and bool(replay(order, spec))


def relevant_ops(history: History | Sequence[Operation], spec: Spec, fail_is_result: bool | None = None) -> list[Operation]:
    keep_fail = spec.fail_is_result if fail_is_result is None else fail_is_result
    return [op for op in history if op.status != "fail" or keep_fail]


def brute_force(history: History | Sequence[Operation], spec: Spec, fail_is_result: bool | None = None) -> bool:
    """True iff the history is linearizable, by exhaustive enumeration."""
    ops = relevant_ops(history, spec, fail_is_result)
    done = [op for op in ops if op.status != "info"]
    info = [op for op in ops if op.status == "info"]
    for size in range(len(info) + 1):
        for subset in itertools.combinations(info, size):
            for order in itertools.permutations(done + list(subset)):
                if is_legal(order, spec):
                    return True
    return False


def check_explanation(history: History, spec: Spec, result: Any) -> None:
    """Replay a violation's explanation: legal, precedence-closed prefixes; the stuck op does not fit."""
    ops = relevant_ops(history, spec)
    by_id = {o.id: o for o in ops}
    key = result.partition
    part = [o for o in ops if spec.partition_key(o.name, o.args) == key]
    assert result.longest_prefixes, "a violation needs at least one (maybe empty) prefix"
    assert result.message and "\n" not in result.message
    for prefix in result.longest_prefixes:
        order = [by_id[i] for i in prefix]
        assert len(set(prefix)) == len(prefix)
        assert all(spec.partition_key(o.name, o.args) == key for o in order)
        assert respects_real_time(order)
        worlds = replay(order, spec)
        assert worlds, f"prefix {prefix} is not a legal run of the spec"
        chosen = set(prefix)
        for o in order:  # closed under real-time precedence
            assert all(q.id in chosen for q in part if must_precede(q, o)), f"prefix {prefix} is not closed"
    stuck = by_id[result.stuck_op]
    assert stuck.status != "info" and stuck.id not in result.longest_prefixes[0]
    assert spec.partition_key(stuck.name, stuck.args) == key
    first = [by_id[i] for i in result.longest_prefixes[0]]
    assert not replay([*first, stuck], spec), "the stuck op fits after the longest prefix"


def check_witness(history: History, spec: Spec, result: Any) -> None:
    """Replay a linearizable result's witness: legal orders covering every completed op."""
    ops = relevant_ops(history, spec)
    by_id = {o.id: o for o in ops}
    placed: set[int] = set()
    for order_ids in result.witness:
        order = [by_id[i] for i in order_ids]
        assert respects_real_time(order) and replay(order, spec)
        placed.update(order_ids)
    assert {o.id for o in ops if o.status != "info"} <= placed
