"""What a circuit breaker promises, checked on the calls made to it.

The sequential model is ``racekit.models.CircuitBreakerSpec`` (in the
library, so ``racekit lincheck --model circuit-breaker`` checks recorded
files too): a run's ``acquire``/``release`` calls, with a ``tick`` whenever
the clock moved, must be a legal run of it - ``matches_spec``.  That one
property covers everything; the three below say the parts that matter most
in words of their own, so a counterexample names what went wrong:

* ``at_most_k_probes`` (safety): while half-open, at most ``probes``
  probe permits of that epoch are out at once;
* ``opens_after_threshold`` (safety): after ``threshold`` consecutive
  failures in one closed epoch, no further call is admitted as closed;
* ``closes_when_healthy`` (liveness, a bound): once the dependency is
  healthy from ``R`` on, every call outstanding at ``R`` is over by
  ``R + timeout``, a reopening then ends by ``R + timeout + cooldown``, the
  first request after that is admitted as a probe (or closed) and succeeds
  within the healthy latency - so every ``acquire`` after ``t1 + 2 x
  latency`` (``t1``: the first request at or after ``R + timeout +
  cooldown``) must be admitted as closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from racekit import CircuitBreakerSpec, History, Operation, check_history


@dataclass(frozen=True)
class Call:
    """One call made to the breaker: at ``t`` ms, ``acquire`` -> ``result``, or ``release(arg)``."""

    t: int
    name: str
    arg: Any = None
    result: Any = None


def history_of(calls: Sequence[Call]) -> History:
    """The calls as a history for the checker, a ``tick`` before each call whose time moved.

    Calls to a synchronous breaker on one event loop never overlap: each
    is invoked and returns in one step, so positions are consecutive.
    """
    ops: list[Operation] = []
    now = 0

    def add(name: str, args: tuple[Any, ...], result: Any) -> None:
        pos = 2 * len(ops)
        ops.append(Operation(len(ops), "breaker", name, args, pos, pos + 1, result))

    for c in calls:
        if c.t != now:
            now = c.t
            add("tick", (c.t,), None)
        if c.name == "acquire":
            add("acquire", (), c.result)
        else:
            add("release", (c.arg,), None)
    return History(ops)


def matches_spec(calls: Sequence[Call], spec: CircuitBreakerSpec) -> str | None:
    result = check_history(history_of(calls), spec)
    return result.message if result.verdict != "linearizable" else None


def at_most_k_probes(calls: Sequence[Call], probes: int) -> str | None:
    out: dict[int, int] = {}
    for c in calls:
        if c.name == "acquire" and isinstance(c.result, tuple) and c.result[0] == "probe":
            epoch = c.result[1]
            out[epoch] = out.get(epoch, 0) + 1
            if out[epoch] > probes:
                return (f"{out[epoch]} probes out at once at t={c.t}ms (half-open epoch {epoch}); "
                        f"at most {probes} may be")
        elif c.name == "release" and c.arg[0] == "probe":
            out[c.arg[1]] -= 1
    return None


def opens_after_threshold(calls: Sequence[Call], threshold: int) -> str | None:
    streak: dict[int, int] = {}
    for c in calls:
        if c.name == "release" and c.arg[0] == "closed":
            epoch, ok = c.arg[1], c.arg[2]
            streak[epoch] = 0 if ok else streak.get(epoch, 0) + 1
        elif (c.name == "acquire" and isinstance(c.result, tuple) and c.result[0] == "closed"
              and streak.get(c.result[1], 0) >= threshold):
            return (f"a call was admitted as closed at t={c.t}ms after {streak[c.result[1]]} consecutive "
                    f"failures; the breaker opens after {threshold}")
    return None


def healthy_bound(recovered: int, timeout: int, cooldown: int, latency: int, requests: Sequence[int]) -> int | None:
    """The time (ms) after which every ``acquire`` must be admitted as closed; None if no request comes late enough."""
    ready = recovered + timeout + cooldown
    later = [t for t in requests if t >= ready]
    return min(later) + 2 * latency if later else None


def closes_when_healthy(calls: Sequence[Call], bound: int | None, recovered: int) -> str | None:
    if bound is None:
        return None
    for c in calls:
        if c.name == "acquire" and c.t > bound and not (isinstance(c.result, tuple) and c.result[0] == "closed"):
            got = "rejected" if c.result == "rejected" else f"admitted as a {c.result[0]}"
            return (f"the dependency is healthy since t={recovered}ms, yet a call at t={c.t}ms was {got}; "
                    f"the breaker should be closed from t={bound}ms on")
    return None


def _edn(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f":{value}"
    if isinstance(value, tuple):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    if value is None:
        return "nil"
    return str(int(value))


def to_edn(calls: Sequence[Call]) -> str:
    """The calls as a Jepsen EDN history, for ``racekit lincheck --model circuit-breaker``."""
    lines = []
    for op in history_of(calls):
        invoke = op.args[0] if op.args else None
        done = op.args[0] if op.args else op.result
        lines.append(f"{{:process 0, :type :invoke, :f :{op.name}, :value {_edn(invoke)}}}")
        lines.append(f"{{:process 0, :type :ok, :f :{op.name}, :value {_edn(done)}}}")
    return "\n".join(lines) + "\n"
