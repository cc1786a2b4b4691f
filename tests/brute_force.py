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
