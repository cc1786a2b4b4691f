"""The checker: worked examples, explanations, and a differential test against brute force.

The differential test simulates random concurrent executions of each model
(processes invoke, the op takes effect at some point, then returns; some
crash and may still take effect later; blocked ops wait or fail), mutates
some results, and demands the checker's verdict equal the brute-force one,
with and without the info-op pruning.  Every explanation is replayed:
longest prefixes must be legal linearizations of precedence-closed sets and
the stuck op must not fit after the first of them.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from racekit.history import History, HistoryRecorder, Operation
from racekit.linearizability import check
from racekit.models import (
    BlockingQueueSpec,
    CasRegisterSpec,
    CounterSpec,
    KVSpec,
    MapSpec,
    MultiRegisterSpec,
    MutexSpec,
    QueueSpec,
    RegisterSpec,
    SetSpec,
    queue_dequeue,
)
from racekit.spec import BLOCKED, Outcomes, Spec
from tests.brute_force import brute_force, check_explanation, check_witness

Draw = Callable[[st.SearchStrategy[Any]], Any]


def op(i: int, name: str, args: tuple[Any, ...], invoke: int, ret: int | None, result: Any = None,
       status: str = "ok", process: int | None = None) -> Operation:
    return Operation(i, i if process is None else process, name, args, invoke, ret, result, status)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Worked examples
# ---------------------------------------------------------------------------


def test_sequential_counter_is_linearizable() -> None:
    rec = HistoryRecorder()
    a = rec.invoke(0, "inc")
    rec.ok(a)
    b = rec.invoke(1, "get")
    rec.ok(b, 1)
    result = check(rec.history(), CounterSpec())
    assert result.verdict == "linearizable"
    assert result.witness == [[a, b]]


def test_lost_update_is_explained() -> None:
    h = History([
        op(0, "inc", (), 0, 1),
        op(1, "inc", (), 2, 3),
        op(2, "get", (), 4, 5, 1),
    ])
    result = check(h, CounterSpec())
    assert result.verdict == "violation"
    assert result.longest_prefixes == [[0, 1]]
    assert result.stuck_op == 2
    assert result.message == (
        "get() returned 1 but after the longest linearizable prefix [inc#0, inc#1] the counter is 2"
    )
    assert "\n" not in result.message


def test_concurrent_ops_may_be_reordered() -> None:
    # get overlaps the second inc, so it may come before it
    h = History([op(0, "inc", (), 0, 1), op(1, "inc", (), 2, 5), op(2, "get", (), 3, 4, 1)])
    assert check(h, CounterSpec()).verdict == "linearizable"


def test_info_op_may_take_effect_late_or_never() -> None:
    write = op(0, "write", (1,), 0, None, status="info")
    assert check(History([write, op(1, "read", (), 5, 6, 1)]), RegisterSpec(0)).ok
    assert check(History([write, op(1, "read", (), 5, 6, 0)]), RegisterSpec(0)).ok
    # ...but not before it was invoked
    early = History([op(1, "read", (), 0, 1, 1), op(0, "write", (1,), 2, None, status="info")])
    assert check(early, RegisterSpec(0)).verdict == "violation"


def test_info_op_takes_effect_at_most_once() -> None:
    h = History([
        op(0, "inc", (), 0, None, status="info"),
        op(1, "get", (), 1, 2, 1),
        op(2, "get", (), 3, 4, 2),
    ])
    assert check(h, CounterSpec()).verdict == "violation"


def test_failed_ops_are_dropped_or_kept_as_results() -> None:
    # Knossos: a :fail write did not happen
    h = History([op(0, "write", (3,), 0, 1, status="fail"), op(1, "read", (), 2, 3, 3)])
    assert check(h, CasRegisterSpec(0)).verdict == "violation"
    assert check(History([op(0, "write", (3,), 0, 1, status="fail"), op(1, "read", (), 2, 3, 0)]),
                 CasRegisterSpec(0)).ok
    # Porcupine etcd: a failed cas is a definite result "False"
    cas = op(0, "cas", (1, 2), 0, 1, False, status="fail")
    assert RegisterSpec.fail_is_result
    assert check(History([cas]), RegisterSpec(1)).verdict == "violation"
    assert check(History([cas]), RegisterSpec(0)).ok
    assert check(History([cas]), RegisterSpec(1), fail_is_result=False).ok


def test_blocked_ops_wait_for_their_turn() -> None:
    h = History([
        op(0, "take", (), 0, 10, "x"),  # invoked on an empty queue, returns after the put
        op(1, "put", ("x",), 2, 3),
    ])
    assert check(h, BlockingQueueSpec()).ok
    early = History([op(0, "take", (), 0, 1, "x"), op(1, "put", ("x",), 2, 3)])
    result = check(early, BlockingQueueSpec())
    assert result.verdict == "violation"
    assert "cannot take effect" in result.message


def test_partitions_are_checked_separately() -> None:
    h = History([
        op(0, "put", ("a", "1"), 0, 1),
        op(1, "put", ("b", "2"), 2, 3),
        op(2, "get", ("a",), 4, 5, "1"),
        op(3, "get", ("b",), 6, 7, "1"),
    ])
    result = check(h, KVSpec())
    assert result.verdict == "violation"
    assert result.partition == "b"
    assert result.stuck_op == 3
    assert result.longest_prefixes == [[1]]
    assert "(partition 'b')" in result.message


def test_nondeterministic_spec() -> None:
    class Coin(Spec):
        name = "coin"

        def init(self) -> Hashable:
            return None

        def step(self, state: Hashable, name: str, args: tuple[Any, ...]) -> Any:
            if name == "flip":
                return Outcomes(((0, 0), (1, 1))) if state is None else (state, state)
            return (state, state) if state is not None else BLOCKED

    h = History([op(0, "flip", (), 0, 1, 1), op(1, "read", (), 2, 3, 1)])
    assert check(h, Coin()).ok
    h = History([op(0, "flip", (), 0, 1, 1), op(1, "read", (), 2, 3, 0)])
    assert check(h, Coin()).verdict == "violation"


def test_timeout_gives_unknown() -> None:
    # 20 concurrent adds and a read nobody can explain: 2**20 states to exhaust
    h = History([op(i, "add", (2**i,), 0, 100) for i in range(20)] + [op(20, "get", (), 101, 102, -1)])
    result = check(h, CounterSpec(), timeout=0.05)
    assert result.verdict == "unknown"
    assert result.seconds < 2
    assert "gave up" in result.message


def test_proven_violation_survives_the_timeout() -> None:
    # A read of 9, which nobody writes, is refuted at once (rule 12); finding
    # a long prefix for the explanation is hard (20 concurrent writes, then
    # too many alternating reads) and runs out of time: still a violation.
    ops = [op(i, "write", (1 + i % 2,), 0, 100) for i in range(20)]
    ops += [op(20 + k, "read", (), 101 + 2 * k, 102 + 2 * k, 1 + k % 2) for k in range(22)]
    ops.append(op(42, "read", (), 200, 201, 9))
    result = check(History(ops), RegisterSpec(0), timeout=0.05)
    assert result.verdict == "violation"
    assert result.stuck_op == 42
    assert result.message.startswith("read() returned 9 but after the longest linearizable prefix")


def test_empty_history() -> None:
    assert check(History([]), RegisterSpec()).ok


def test_read_only_and_unobservable_info_ops_are_dropped() -> None:
    h = History([
        op(0, "read", (), 0, None, status="info"),
        op(1, "write", (7,), 1, None, status="info"),  # 7 is never read
        op(2, "write", (1,), 2, 3),
        op(3, "read", (), 4, 5, 1),
    ])
    result = check(h, RegisterSpec(0))
    assert result.ok
    assert result.dropped == [0, 1]
    assert check(h, RegisterSpec(0), prune=False).dropped == []


def test_failed_cas_blocks_dropping_an_unobserved_write() -> None:
    # The crashed write(5) is never read, but the failed cas(0, 1) needs the
    # register to differ from 0, and only write(5) can make it so.
    h = History([
        op(0, "write", (5,), 0, None, status="info"),
        op(1, "cas", (0, 1), 2, 3, False),
    ])
    result = check(h, RegisterSpec(0))
    assert result.ok
    assert result.dropped == []


def test_cas_observes_a_crashed_write() -> None:
    # Nobody reads 1, but the cas compares with it: write(1) must not be dropped.
    h = History([
        op(0, "write", (1,), 0, None, status="info"),
        op(1, "cas", (1, 2), 2, 3, True),
        op(2, "read", (), 4, 5, 2),
    ])
    result = check(h, RegisterSpec(None))
    assert result.ok
    assert result.dropped == []


def test_crashed_ops_never_return() -> None:
    """Parsers give crashed (:info) ops no return position: they may take effect any time later."""
    from racekit.formats import parse_etcd_log, parse_jepsen_edn

    edn = parse_jepsen_edn("[{:process 0 :type :invoke :f :write :value 1}\n {:process 0 :type :info :f :write :value 1}]")
    etcd = parse_etcd_log("INFO  jepsen.util - 3\t:invoke\t:write\t1\nINFO  jepsen.util - 3\t:info\t:write\t:timed-out\n")
    for history in (edn, etcd):
        (crashed,) = history.operations
        assert (crashed.status, crashed.ret, crashed.args) == ("info", None, (1,))


def test_equal_times_mean_concurrent() -> None:
    # precedes is strict: a return at 5 and an invoke at 5 overlap
    h = History([op(0, "write", (1,), 0, 5), op(1, "read", (), 5, 6, 0)])
    assert check(h, RegisterSpec(0)).ok
    h = History([op(0, "write", (1,), 0, 4), op(1, "read", (), 5, 6, 0)])
    assert check(h, RegisterSpec(0)).verdict == "violation"


def test_concurrent_reads_do_not_multiply_states() -> None:
    # 16 concurrent reads and 2 writes: forced read placement (rule 9) keeps
    # the search linear instead of trying 2**16 subsets of reads.
    ops = [op(0, "write", (1,), 0, 100), op(1, "write", (2,), 0, 100)]
    ops += [op(2 + i, "read", (), 1, 99, 1 if i % 2 else 2) for i in range(16)]
    # then 1, 2, 1 in sequence: a violation, so every placement must be exhausted
    ops += [op(18, "read", (), 101, 102, 1), op(19, "read", (), 103, 104, 2), op(20, "read", (), 105, 106, 1)]
    result = check(History(ops), RegisterSpec(0), timeout=10)
    assert result.verdict == "violation"
    assert result.states < 500


@pytest.mark.parametrize(
    "ops",
    [
        [
            op(0, "write", (1,), 9, None, status="info"),
            op(1, "read", (), 10, 15, 1),
            op(2, "write", (0,), 0, None, status="info"),
            op(3, "read", (), 8, 9, 0),
            op(4, "cas", (0, 2), 1, 3, True),
            op(5, "write", (1,), 2, 4),
        ],
        [
            op(0, "write", (1,), 4, None, status="info"),
            op(1, "read", (), 9, 11, 0),
            op(2, "cas", (0, 2), 0, 6, True),
            op(3, "write", (0,), 5, None, status="info"),
            op(4, "write", (1,), 4, 5),
        ],
    ],
)
def test_memo_keeps_states_with_more_info_ops_left(ops: list[Operation]) -> None:
    """Found by a random search against a mutant that pruned the dominating
    state instead of the dominated one (rule 7 the wrong way round)."""
    assert brute_force(History(ops), RegisterSpec(0))
    assert check(History(ops), RegisterSpec(0), prune=False).ok


def test_many_identical_crashed_writes_settle_fast() -> None:
    ops = [op(i, "write", (i % 3,), i, None, status="info") for i in range(40)]
    ops += [op(40 + i, "read", (), 100 + 2 * i, 101 + 2 * i, (i * 7) % 3) for i in range(30)]
    result = check(History(ops), RegisterSpec(None), timeout=10)
    assert result.ok


def test_phantom_value_is_a_violation_with_an_explanation() -> None:
    ops = [op(i, "write", (i % 3,), i, None, status="info") for i in range(30)]
    ops += [op(30, "write", (1,), 40, 41), op(31, "read", (), 42, 43, 9)]
    result = check(History(ops), RegisterSpec(None), timeout=10)
    assert result.verdict == "violation"
    assert result.stuck_op == 31
    assert result.message.startswith("read() returned 9 but after the longest linearizable prefix")
    check_explanation(History(ops), RegisterSpec(None), result)


# ---------------------------------------------------------------------------
# Differential test against brute force
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A model, how to draw calls on it, and wrong results to inject."""

    name: str
    make: Callable[[], Spec]
    call: Callable[[Draw], tuple[str, tuple[Any, ...]]]
    wrong: Callable[[Draw, str], Any]
    blocked_may_fail: bool = False  # a BLOCKED op may complete as :fail (did not happen)
    rename: dict[str, str] | None = None  # mutate a call's name instead of its result
    failed_cas_as_fail: bool = False  # record some cas -> False as status fail (a definite result)


def _values(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def _register_call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
    name = draw(st.sampled_from(["read", "write", "cas"]))
    if name == "read":
        return name, ()
    if name == "write":
        return name, (draw(_values(3)),)
    return name, (draw(_values(3)), draw(_values(3)))


def _register_wrong(draw: Draw, name: str) -> Any:
    return draw(st.sampled_from([None, 0, 1, 2])) if name == "read" else draw(st.booleans())


def _counter_call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
    name = draw(st.sampled_from(["inc", "add", "get", "inc_get"]))
    return (name, (draw(st.integers(1, 2)),)) if name == "add" else (name, ())


def _queue_call(put: str, take: str) -> Callable[[Draw], tuple[str, tuple[Any, ...]]]:
    def call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
        return (put, (draw(_values(3)),)) if draw(st.booleans()) else (take, ())

    return call


def _set_call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
    name = draw(st.sampled_from(["add", "remove", "contains", "read"]))
    return (name, ()) if name == "read" else (name, (draw(_values(2)),))


def _set_wrong(draw: Draw, name: str) -> Any:
    if name == "read":
        return frozenset(draw(st.sets(_values(2))))
    return draw(st.booleans())


def _kv_call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
    name = draw(st.sampled_from(["get", "put", "append"]))
    key = draw(st.sampled_from(["a", "b"]))
    return (name, (key,)) if name == "get" else (name, (key, draw(st.sampled_from(["x", "y"]))))


def _map_call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
    name = draw(st.sampled_from(["put", "get", "remove", "size"]))
    if name == "size":
        return name, ()
    if name == "put":
        return name, (draw(_values(2)), draw(_values(2)))
    return name, (draw(_values(2)),)


def _txn_call(draw: Draw) -> tuple[str, tuple[Any, ...]]:
    micro = draw(st.lists(st.tuples(st.sampled_from(["read", "write"]), st.sampled_from(["x", "y"]), _values(2)),
                          min_size=1, max_size=2))
    return "txn", (tuple((f, k, None if f == "read" else v) for f, k, v in micro),)


def _txn_wrong(draw: Draw, name: str) -> Any:
    return tuple(draw(st.lists(st.tuples(st.just("read"), st.sampled_from(["x", "y"]), _values(2)),
                               min_size=1, max_size=2)))


CASES = [
    Case("register", lambda: RegisterSpec(None), _register_call, _register_wrong, failed_cas_as_fail=True),
    Case("cas-register", lambda: CasRegisterSpec(0), _register_call, _register_wrong, blocked_may_fail=True),
    Case("counter", CounterSpec, _counter_call, lambda d, n: d(st.integers(0, 4))),
    Case("queue", QueueSpec, _queue_call("enqueue", "dequeue"), lambda d, n: d(st.sampled_from([None, 0, 1, 2]))),
    Case("blocking-queue", BlockingQueueSpec, _queue_call("put", "take"), lambda d, n: d(_values(3))),
    Case("set", SetSpec, _set_call, _set_wrong),
    Case("mutex", MutexSpec, lambda d: (d(st.sampled_from(["acquire", "release"])), ()),
         lambda d, n: None, blocked_may_fail=True, rename={"acquire": "release", "release": "acquire"}),
    Case("kv", KVSpec, _kv_call, lambda d, n: d(st.sampled_from(["", "x", "y", "xy", "yx"]))),
    Case("map", MapSpec, _map_call, lambda d, n: d(st.sampled_from([None, 0, 1, 2]))),
    Case("multi-register", lambda: MultiRegisterSpec({"x": 0}), _txn_call, _txn_wrong),
]


@dataclass
class _Open:
    id: int
    name: str
    args: tuple[Any, ...]
    invoke: int
    applied: bool = False
    result: Any = None


@st.composite
def executions(draw: Draw, case: Case, max_ops: int = 6) -> History:
    """A random concurrent run of the model, crashes and some wrong results included."""
    spec = case.make()
    worlds: dict[Hashable, Any] = {}
    procs = list(range(draw(st.integers(1, 3))))
    n_ops = draw(st.integers(1, max_ops))
    open_: dict[int, _Open] = {}
    zombies: list[_Open] = []  # crashed, not yet applied: may still take effect
    ops: list[Operation] = []
    issued = clock = 0

    def apply(o: _Open) -> bool:
        key = spec.partition_key(o.name, o.args)
        outcomes = list(spec.outcomes(worlds.get(key, spec.init()) if key in worlds else spec.init(), o.name, o.args))
        if not outcomes:
            return False
        worlds[key], o.result = outcomes[draw(st.integers(0, len(outcomes) - 1))]
        o.applied = True
        return True

    while (issued < n_ops or open_) and clock < 40:
        clock += 1
        if zombies and draw(st.integers(0, 3)) == 0:
            z = zombies[draw(st.integers(0, len(zombies) - 1))]
            if apply(z):
                zombies.remove(z)
        busy = [p for p in procs if p in open_]
        choices = busy + ([p for p in procs if p not in open_] if issued < n_ops else [])
        p = choices[draw(st.integers(0, len(choices) - 1))]
        o = open_.get(p)
        if o is None:
            name, args = case.call(draw)
            open_[p] = _Open(issued, name, args, clock)
            issued += 1
            continue
        action = draw(st.integers(0, 9))
        if action == 0:  # crash: the op may still take effect later
            if not o.applied:
                zombies.append(o)
            ops.append(Operation(o.id, p, o.name, o.args, o.invoke, None, None, "info"))
            del open_[p]
            procs[procs.index(p)] = max(procs) + 1
        elif not o.applied:
            if not apply(o) and case.blocked_may_fail and action < 4:
                ops.append(Operation(o.id, p, o.name, o.args, o.invoke, clock, None, "fail"))
                del open_[p]
        else:
            failed = case.failed_cas_as_fail and o.result is False and action < 5
            ops.append(Operation(o.id, p, o.name, o.args, o.invoke, clock, o.result, "fail" if failed else "ok"))
            del open_[p]
    for p, o in open_.items():  # still open: never returned
        ops.append(Operation(o.id, p, o.name, o.args, o.invoke, None, None, "info"))
    ops.sort(key=lambda o: o.id)
    # mutate some results, so that violations are common
    done = [i for i, o in enumerate(ops) if o.status == "ok"]
    if done and draw(st.integers(0, 2)) == 0:
        i = done[draw(st.integers(0, len(done) - 1))]
        o = ops[i]
        if case.rename:
            ops[i] = Operation(o.id, o.process, case.rename[o.name], o.args, o.invoke, o.ret, o.result, "ok")
        else:
            ops[i] = Operation(o.id, o.process, o.name, o.args, o.invoke, o.ret, case.wrong(draw, o.name), "ok")
    return History(ops)


def _differential(case: Case, history: History) -> None:
    spec = case.make()
    expected = brute_force(history, spec)
    result = check(history, spec)
    verdict = "linearizable" if expected else "violation"
    assert result.verdict == verdict, f"{case.name}: checker says {result.verdict}, brute force {verdict}"
    assert check(history, spec, prune=False).verdict == verdict
    if expected:
        check_witness(history, spec, result)
    else:
        check_explanation(history, spec, result)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_agrees_with_brute_force(case: Case, data: st.DataObject) -> None:
    _differential(case, data.draw(executions(case)))


@pytest.mark.deep
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_agrees_with_brute_force_deep(case: Case, data: st.DataObject) -> None:
    _differential(case, data.draw(executions(case, max_ops=7)))


# ---------------------------------------------------------------------------
# CrossHair: the models' pure step functions against their PEP 316 contracts
# ---------------------------------------------------------------------------

_REPO = Path(__file__).resolve().parents[1]


def _crosshair(*targets: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("crosshair") is None:
        pytest.skip("crosshair-tool is not installed")
    env = {**os.environ, "PYTHONPATH": f"{_REPO}{os.pathsep}{cwd}"}
    cmd = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316", "--per_condition_timeout=1"]
    return subprocess.run([*cmd, *targets], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.crosshair
def test_model_contracts_hold() -> None:
    targets = ["racekit.models.queue_dequeue", "racekit.models.mutex_step", "racekit.models.counter_add"]
    done = _crosshair(*targets, cwd=_REPO)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.crosshair
def test_crosshair_catches_a_broken_step(tmp_path: Path) -> None:
    """Negative control: the same contract on a dequeue that skips an item fails."""
    source = inspect.getsource(queue_dequeue).replace("return items[1:], items[0]", "return items[2:], items[0]")
    (tmp_path / "broken_queue.py").write_text(source)
    done = _crosshair("broken_queue", cwd=tmp_path)
    assert done.returncode != 0
    assert "queue_dequeue" in done.stdout and "error" in done.stdout
