"""The merge laws of eventual_consistency's data types, apart from any network.

A state-based CRDT converges whatever the order, grouping and repetition of
gossip because its merge is a join: commutative, associative, idempotent.
Checked two ways:

* Hypothesis, on states a replica can actually reach (three replicas run a
  random program of writes and merges; the laws are checked on any three of
  the states it went through) - for every data type, the broken variants'
  too: their merges are joins as well, which is the point (the laws are
  necessary, not sufficient: ``max_counter`` obeys them and loses increments);
* CrossHair, symbolically, on the G-counter and vector clock merges over
  3-slot tuples (``specs.eventual_consistency.*_laws``), kept to one second
  per condition; the OR-set (sets of tuples, slower to solve) runs in the
  deep profile.

Negative controls: a counter merged by *adding* breaks idempotence, and both
tools say so.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from systems.eventual_consistency import (
    LWWTypes,
    MaxCounterTypes,
    TwoPhaseSetTypes,
    Types,
    gcounter_merge,
)

REPO = Path(__file__).resolve().parents[1]
WIDTH = 3
ALL_TYPES = (Types, LWWTypes, MaxCounterTypes, TwoPhaseSetTypes)

Step = tuple[str, int, Any]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, WIDTH - 1), st.sampled_from("abc")),
        st.tuples(st.just("inc"), st.integers(0, WIDTH - 1), st.none()),
        st.tuples(st.just("add"), st.integers(0, WIDTH - 1), st.sampled_from("xy")),
        st.tuples(st.just("remove"), st.integers(0, WIDTH - 1), st.sampled_from("xy")),
        st.tuples(st.just("merge"), st.integers(0, WIDTH - 1), st.integers(0, WIDTH - 1)),
    ),
    max_size=12,
)


def reachable(types_cls: type[Types], program: list[Step]) -> list[tuple[Any, Any, Any]]:
    """Every (register, counter, set) state the replicas pass through."""
    replicas = [types_cls(i, WIDTH) for i in range(WIDTH)]
    states = [(t.reg_initial(), t.cnt_initial(), t.set_initial()) for t in replicas]
    seq = [1] * WIDTH
    seen = list(states)
    for clock, (op, i, arg) in enumerate(program):
        t = replicas[i]
        reg, cnt, members = states[i]
        if op == "put":
            states[i] = (t.reg_write(reg, arg, clock), cnt, members)
        elif op == "inc":
            states[i] = (reg, t.cnt_inc(cnt), members)
        elif op == "add":
            states[i] = (reg, cnt, t.set_add(members, arg, seq[i]))
            seq[i] += 1
        elif op == "remove":
            states[i] = (reg, cnt, t.set_remove(members, arg))
        else:
            other = states[arg]
            states[i] = (t.reg_merge(reg, other[0]), t.cnt_merge(cnt, other[1]), t.set_merge(members, other[2]))
        seen.append(states[i])
    return seen


def law_violation(merge: Callable[[Any, Any], Any], a: Any, b: Any, c: Any) -> str | None:
    if merge(a, b) != merge(b, a):
        return "not commutative"
    if merge(merge(a, b), c) != merge(a, merge(b, c)):
        return "not associative"
    if merge(a, a) != a:
        return "not idempotent"
    return None


@pytest.mark.parametrize("types_cls", ALL_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(program=steps, picks=st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)))
def test_every_merge_is_a_join_on_reachable_states(types_cls: type[Types], program: list[Step], picks: tuple[int, int, int]) -> None:
    seen = reachable(types_cls, program)
    a, b, c = (seen[p % len(seen)] for p in picks)
    t = types_cls(0, WIDTH)
    for part, merge in enumerate((t.reg_merge, t.cnt_merge, t.set_merge)):
        problem = law_violation(merge, a[part], b[part], c[part])
        assert problem is None, f"{types_cls.__name__} part {part}: {problem} on {a[part]!r}, {b[part]!r}, {c[part]!r}"


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(program=steps)
def test_any_gossip_order_converges(program: list[Step]) -> None:
    """Merging all replicas' final states in any order gives one state (fixed types)."""
    seen = reachable(Types, program)
    finals = seen[-WIDTH:]
    t = Types(0, WIDTH)

    def join(order: list[int]) -> tuple[Any, Any, Any]:
        acc = finals[order[0]]
        for i in order[1:]:
            other = finals[i]
            acc = (t.reg_merge(acc[0], other[0]), t.cnt_merge(acc[1], other[1]), t.set_merge(acc[2], other[2]))
        return acc

    orders = [list(range(len(finals))), list(reversed(range(len(finals)))), [*range(len(finals)), 0]]
    first = join(orders[0])
    assert all(join(o) == first for o in orders[1:])


def summing_merge(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def test_hypothesis_catches_a_merge_that_is_not_idempotent() -> None:
    counters = st.tuples(*(st.integers(0, 3) for _ in range(WIDTH)))
    found = find(
        st.tuples(counters, counters, counters),
        lambda abc: law_violation(summing_merge, *abc) is not None,
        settings=settings(database=None, derandomize=True),
    )
    assert law_violation(summing_merge, *found) == "not idempotent"
    assert law_violation(gcounter_merge, *found) is None


# ---------------------------------------------------------------------------
# CrossHair
# ---------------------------------------------------------------------------
def crosshair(*targets: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("crosshair") is None:
        pytest.skip("crosshair-tool is not installed (a dev dependency)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), str(REPO)])}
    cmd = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316", f"--per_condition_timeout={timeout}"]
    return subprocess.run([*cmd, *targets], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.crosshair
def test_crosshair_finds_no_counterexample_to_the_counter_and_clock_laws() -> None:
    done = crosshair("specs.eventual_consistency.gcounter_laws", "specs.eventual_consistency.vclock_laws", cwd=REPO, timeout=1)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.crosshair
def test_crosshair_catches_a_summing_counter_merge(tmp_path: Path) -> None:
    """Negative control: the same laws over a merge that adds instead of taking the max."""
    for package in ("systems", "specs"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    source = (REPO / "systems" / "eventual_consistency.py").read_text()
    broken = source.replace(
        "return tuple(max(x, y) for x, y in zip(a, b, strict=True))",
        "return tuple(x + y for x, y in zip(a, b, strict=True))",
    )
    assert broken != source
    (tmp_path / "systems" / "eventual_consistency.py").write_text(broken)
    (tmp_path / "specs" / "eventual_consistency.py").write_text((REPO / "specs" / "eventual_consistency.py").read_text())
    done = crosshair("specs.eventual_consistency.gcounter_laws", cwd=tmp_path, timeout=2)
    assert done.returncode != 0 and "gcounter_laws" in done.stdout, done.stdout + done.stderr


@pytest.mark.crosshair
@pytest.mark.deep
def test_crosshair_finds_no_counterexample_to_the_orset_laws() -> None:
    done = crosshair("specs.eventual_consistency.orset_laws", cwd=REPO, timeout=20)
    assert done.returncode == 0, done.stdout + done.stderr
