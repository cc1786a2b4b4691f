"""``CircuitBreakerSpec``: the transitions one by one, the checker over it, and ``racekit lincheck``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from racekit import CircuitBreakerSpec, History, Operation, check_history
from racekit.commands.lincheck import lincheck
from racekit.models import MODELS, Breaker, breaker_acquire, breaker_release
from racekit.spec import BLOCKED


def run(spec: CircuitBreakerSpec, *calls: tuple[str, Any]) -> list[Any]:
    """Step the spec through ``calls`` ((name, arg)); the results, BLOCKED where not enabled."""
    state, out = spec.init(), []
    for name, arg in calls:
        args = () if name == "acquire" else (arg,)
        step = spec.step(state, name, args)
        if step is BLOCKED:
            out.append(BLOCKED)
            continue
        state, result = step
        out.append(result)
    return out


def test_closed_admits_and_opens_after_threshold_consecutive_failures() -> None:
    spec = CircuitBreakerSpec({"threshold": 2})
    got = run(spec, ("acquire", None), ("release", ("closed", 0, False)), ("acquire", None),
              ("release", ("closed", 0, True)),  # a success resets the streak
              ("release", ("closed", 0, False)), ("acquire", None), ("release", ("closed", 0, False)),
              ("acquire", None))
    assert got == [("closed", 0), None, ("closed", 0), None, None, ("closed", 0), None, "rejected"]


def test_open_rejects_until_the_cooldown_then_half_opens_with_k_probes() -> None:
    spec = CircuitBreakerSpec({"threshold": 1, "cooldown": 100, "probes": 2})
    got = run(spec, ("tick", 50), ("release", ("closed", 0, False)),  # opens at t=50, epoch 1
              ("tick", 149), ("acquire", None),  # 99 ms: still open
              ("tick", 150), ("acquire", None), ("acquire", None), ("acquire", None))  # exactly 100 ms
    assert got == [None, None, None, "rejected", None, ("probe", 2), ("probe", 2), "rejected"]


def test_a_probe_success_closes_a_failure_reopens_and_late_results_are_ignored() -> None:
    spec = CircuitBreakerSpec({"threshold": 1, "cooldown": 0, "probes": 2})
    got = run(spec, ("release", ("closed", 0, False)),  # open, epoch 1
              ("acquire", None), ("acquire", None),  # half-open, epoch 2, two probes
              ("release", ("probe", 2, False)),  # reopens: epoch 3
              ("release", ("probe", 2, True)),  # the other probe's late success: ignored
              ("acquire", None),  # half-open again, epoch 4
              ("release", ("probe", 4, True)), ("acquire", None))  # closed, epoch 5
    assert got == [None, ("probe", 2), ("probe", 2), None, None, ("probe", 4), None, ("closed", 5)]


def test_steps_that_cannot_happen_are_not_enabled() -> None:
    spec = CircuitBreakerSpec()
    assert run(spec, ("tick", 10), ("tick", 5)) == [None, BLOCKED]  # the clock never runs backwards
    assert run(spec, ("release", ("probe", 0, True))) == [BLOCKED]  # closed never hands out probes
    opened = Breaker(mode="open", epoch=1, opened_at=0, now=0)
    assert breaker_release(opened, "closed", 1, True, 3) is None  # open hands out no permits at all


@given(st.lists(st.tuples(st.sampled_from(["acquire", "ok", "fail", "tick"]), st.integers(0, 400)), max_size=40),
       st.integers(1, 3), st.integers(0, 300), st.integers(1, 3))
def test_invariants_hold_on_any_sequence(steps: list[tuple[str, int]], threshold: int, cooldown: int, k: int) -> None:
    """Whatever happens: at most k probes out, epochs only grow, closed never has a failure streak >= threshold."""
    b, out = Breaker(), []
    for what, n in steps:
        if what == "tick":
            b = b._replace(now=b.now + n)
        elif what == "acquire":
            before = b.epoch
            b, permit = breaker_acquire(b, cooldown, k)
            assert b.epoch >= before
            if permit != "rejected":
                out.append(permit)
        elif out:
            kind, epoch = out.pop(n % len(out))
            new = breaker_release(b, kind, epoch, what == "ok", threshold)
            assert new is not None, (b, kind, epoch)
            b = new
        assert b.probes <= k and b.failures < threshold
        assert (b.mode == "half_open") or b.probes == 0


def history(*ops: tuple[str, tuple[Any, ...], Any]) -> History:
    return History([Operation(i, 0, name, args, 2 * i, 2 * i + 1, result) for i, (name, args, result) in enumerate(ops)])


def test_the_checker_finds_a_second_probe_and_accepts_the_spec_run() -> None:
    spec = CircuitBreakerSpec({"threshold": 1, "cooldown": 100})
    good = history(("release", (("closed", 0, False),), None), ("tick", (100,), None), ("acquire", (), ("probe", 2)),
                   ("acquire", (), "rejected"), ("release", (("probe", 2, True),), None), ("acquire", (), ("closed", 3)))
    assert check_history(good, spec).verdict == "linearizable"
    racy = history(("release", (("closed", 0, False),), None), ("tick", (100,), None), ("acquire", (), ("probe", 2)),
                   ("acquire", (), ("probe", 2)))
    result = check_history(racy, spec)
    assert result.verdict == "violation" and "half_open (1 probe(s) out)" in result.message


def edn(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "breaker.edn"
    path.write_text(text)
    return path


OPENS_THEN_PROBES = (
    "{:process 0, :type :invoke, :f :release, :value [:closed 0 false]}",
    "{:process 0, :type :ok, :f :release, :value [:closed 0 false]}",
    "{:process 0, :type :invoke, :f :tick, :value 1000}",
    "{:process 0, :type :ok, :f :tick, :value 1000}",
    "{:process 0, :type :invoke, :f :acquire, :value nil}",
    "{:process 0, :type :ok, :f :acquire, :value [:probe 2]}",
    "{:process 1, :type :invoke, :f :acquire, :value nil}",
)


def test_lincheck_reads_an_edn_breaker_history(tmp_path: Path) -> None:
    assert MODELS["circuit-breaker"] is CircuitBreakerSpec
    ok = write(tmp_path, edn(*OPENS_THEN_PROBES, "{:process 1, :type :ok, :f :acquire, :value :rejected}"))
    res = CliRunner().invoke(lincheck, [str(ok), "--model", "circuit-breaker", "--initial", "{:threshold 1}"])
    assert res.exit_code == 0 and res.output.startswith("linearizable"), res.output
    racy = write(tmp_path, edn(*OPENS_THEN_PROBES, "{:process 1, :type :ok, :f :acquire, :value [:probe 2]}"))
    res = CliRunner().invoke(lincheck, [str(racy), "--model", "circuit-breaker", "--initial", "{:threshold 1}"])
    assert res.exit_code == 1 and res.output.startswith("violation"), res.output
    # with the default threshold (3) one failure does not open it: the probe itself is the violation
    res = CliRunner().invoke(lincheck, [str(ok), "--model", "circuit-breaker"])
    assert res.exit_code == 1 and "acquire() returned [:probe 2]" in res.output, res.output


@pytest.mark.parametrize("initial, needle", [
    ("{:treshold 1}", "unknown setting(s) treshold"),
    ("{:probes 0}", "probes >= 1"),
    ("3", "must be a map"),
])
def test_lincheck_rejects_bad_breaker_settings_in_one_line(tmp_path: Path, initial: str, needle: str) -> None:
    path = write(tmp_path, edn(*OPENS_THEN_PROBES[:2]))
    res = CliRunner().invoke(lincheck, [str(path), "--model", "circuit-breaker", "--initial", initial])
    assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output, res.output


def test_lincheck_says_when_a_breaker_op_does_not_fit(tmp_path: Path) -> None:
    path = write(tmp_path, edn("{:process 0, :type :invoke, :f :release, :value [:closed 0]}",
                               "{:process 0, :type :ok, :f :release, :value [:closed 0]}"))
    res = CliRunner().invoke(lincheck, [str(path), "--model", "circuit-breaker"])
    assert res.exit_code == 2 and "does not fit the circuit-breaker model" in res.output, res.output
