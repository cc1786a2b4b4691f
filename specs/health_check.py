"""What a health checker promises, as checks over what happened.

The inputs are ghost facts, not the checker's own counters: the outcome of
every probe (``probe``: node, ok), every change of rotation (``enable`` /
``disable``), and the ground truth of each backend's health (the
scenario's sick intervals plus the crash downtime the simulator logged).

* ``keeps_k_enabled`` - never fewer than ``keep`` nodes in rotation (the
  catalogue's "never all disabled", with the floor ``k`` the fix keeps).
* ``hysteresis``     - fewer than ``fall`` consecutive failed probes never
  take a node out; fewer than ``rise`` consecutive successes never bring it
  back.
* ``flaps_bounded``  - at most :func:`max_transitions` changes of one node's
  rotation in any ``flap_window_ms``: the bound the fix's thresholds and
  cooldown imply, whatever the node does.
* ``one_outcome_per_probe`` - every probe gets at most one outcome (its
  reply or its timeout, never both, never a duplicate counted twice); a
  checker that mixes up its probes counts stale or repeated answers.
* ``out_within`` (liveness) - a node that fails every probe from ``s`` on is
  out of rotation by ``s + out_bound`` unless the floor forbade it: only
  ``keep`` nodes in rotation at some moment of the last probe period
  before the deadline (a node the floor held goes out at its next failure).
* ``back_within`` (liveness) - a node healthy from ``s`` on, with no network
  fault touching its probes in ``[u, u + back_bound]`` (``u >= s``), is in
  rotation by ``u + back_bound``.

The bounds are derived from the policy and the world (drift at most
``drift``; any event at most ``window`` ms late; ``latency`` per message).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from racekit.sim import Node

Interval = tuple[int, int]


# ---------------------------------------------------------------------------
# The fleet the checker is judged in (harness, not the system under test)
# ---------------------------------------------------------------------------
Sickness = tuple[tuple[int, int], ...]
"""Intervals ``[start, end)`` of true time (ms) in which a backend is sick."""


def sick_at(sickness: Sickness, t: int) -> bool:
    return any(start <= t < end for start, end in sickness)


class Backend(Node):
    """A service instance with a health endpoint.  It answers every probe; the
    answer is False while it is sick.  Its clock is not skewed, so its
    monotonic time is true time and ``sickness`` reads as the scenario says."""

    def __init__(self, sickness: Sickness) -> None:
        self.sickness = sickness

    def on_start(self) -> None:
        if self.ctx.incarnation == 1:  # the ground truth, for the properties (a ghost fact)
            self.note("sickness", intervals=self.sickness)

    def on_message(self, src: str, msg: Any) -> None:
        if msg[0] == "probe":
            self.send(src, ("health", msg[1], not sick_at(self.sickness, self.monotonic())))



@dataclass(frozen=True)
class Bounds:
    """The numbers the properties use, derived from a policy (see :func:`bounds`)."""

    out_ms: int
    hold_ms: int  # how long the rotation must have allowed a disable before ``out_ms`` counts
    back_ms: int
    flap_window_ms: int
    max_flaps: int


def max_transitions(window_ms: int, out_to_in_ms: float, in_to_out_ms: float) -> int:
    """The most rotation changes of one node inside ``window_ms``.

    Changes alternate (out, in, out ...); an out-to-in gap lasts at least
    ``out_to_in_ms`` and an in-to-out gap at least ``in_to_out_ms``.  ``n``
    changes span at least the ``n - 1`` shortest alternating gaps.
    """
    pair = out_to_in_ms + in_to_out_ms
    shortest = min(out_to_in_ms, in_to_out_ms)
    n = 1
    while True:
        gaps = n  # n + 1 changes have n gaps
        span = (gaps // 2) * pair + (gaps % 2) * shortest
        if span > window_ms:
            return n
        n += 1


def bounds(
    probe_ms: int,
    timeout_ms: int,
    fall: int,
    rise: int,
    cooldown_ms: int,
    *,
    drift: float,
    window: int,
    latency: int,
    flap_window_ms: int,
) -> Bounds:
    """Worst cases of the fixed policy.  A local delay ``x`` lasts between
    ``x / (1 + drift)`` and ``x / (1 - drift)`` true ms, and fires up to
    ``window`` ms late.

    * out: the first probe the sick node answers sick is sent within one
      period of ``s``; ``fall`` of them, the last one's timeout, lateness;
      if the floor held it, its next failure after the floor allows it
      (one period and a timeout: ``hold``).
    * back: a failure already under way at ``u`` (a timeout), the cooldown,
      the half-open probe and ``rise - 1`` more periods, two round trips.
    * flaps: out-to-in takes at least the cooldown and ``rise - 1`` periods
      (the half-open probe is the first of ``rise``); in-to-out at least
      ``fall - 1`` periods and a round trip.
    """
    slow = 1 / (1 - drift)
    fast = 1 / (1 + drift)
    period = probe_ms * slow + window
    timeout = timeout_ms * slow + window
    out_ms = fall * period + timeout + window + 2 * latency + 20
    hold_ms = period + timeout + 2 * latency + 10
    back_ms = timeout + cooldown_ms * slow + window + (rise - 1) * period + 2 * (2 * latency + window) + 20
    flaps = max_transitions(flap_window_ms, (cooldown_ms + (rise - 1) * probe_ms) * fast, (fall - 1) * probe_ms * fast + 2 * latency)
    return Bounds(int(out_ms), int(hold_ms), int(back_ms), flap_window_ms, flaps)


# ---------------------------------------------------------------------------
# Safety
# ---------------------------------------------------------------------------
def below_floor(in_rotation: int, total: int, keep: int) -> str | None:
    if in_rotation < keep:
        return f"only {in_rotation} of {total} nodes in rotation (the floor is {keep})"
    return None


Event = tuple[int, str, str, bool]
"""(time, kind, node, ok): kind is "probe" (ok = its outcome), "enable" or "disable"."""


class HysteresisWatch:
    """Fed the events in order: a node taken out after fewer than ``fall``
    consecutive failures, or put back after fewer than ``rise`` consecutive
    successes, is reported (incremental: each event costs O(1))."""

    def __init__(self, fall: int, rise: int) -> None:
        self.fall, self.rise = fall, rise
        self.fails: dict[str, int] = {}
        self.oks: dict[str, int] = {}

    def feed(self, event: Event) -> str | None:
        t, kind, node, ok = event
        if kind == "probe":
            self.fails[node] = 0 if ok else self.fails.get(node, 0) + 1
            self.oks[node] = self.oks.get(node, 0) + 1 if ok else 0
        elif kind == "disable" and self.fails.get(node, 0) < self.fall:
            return f"{node} taken out at t={t} after {self.fails.get(node, 0)} consecutive failed probe(s) (fall = {self.fall})"
        elif kind == "enable" and self.oks.get(node, 0) < self.rise:
            return f"{node} put back at t={t} after {self.oks.get(node, 0)} consecutive successful probe(s) (rise = {self.rise})"
        return None


class OutcomeWatch:
    """Fed probe outcomes in order: a probe (node, id) with a second outcome is reported."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()

    def feed(self, t: int, node: str, probe: int) -> str | None:
        if (node, probe) in self.seen:
            return f"probe {probe} of {node} got a second outcome at t={t} (a late or duplicated answer counted again)"
        self.seen.add((node, probe))
        return None


class FlapWatch:
    """Fed rotation changes in order: a node whose rotation changed more than
    ``most`` times within ``window_ms`` is reported."""

    def __init__(self, window_ms: int, most: int) -> None:
        self.window_ms, self.most = window_ms, most
        self.times: dict[str, list[int]] = {}

    def feed(self, t: int, node: str) -> str | None:
        times = self.times.setdefault(node, [])
        times.append(t)
        recent = [x for x in times if x > t - self.window_ms]
        if len(recent) > self.most:
            return (
                f"{node} changed rotation {len(recent)} times in the {self.window_ms} ms up to t={t} "
                f"(at most {self.most})"
            )
        return None


# ---------------------------------------------------------------------------
# Liveness, judged on the whole run
# ---------------------------------------------------------------------------
def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, overlapping and touching intervals joined."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def complement(intervals: Sequence[Interval], horizon: int) -> list[Interval]:
    out, at = [], 0
    for start, end in intervals:
        if start > at:
            out.append((at, start))
        at = max(at, end)
    if at < horizon:
        out.append((at, horizon))
    return out


class Rotation:
    """Who was in rotation when: built from the enable/disable events in order."""

    def __init__(self, nodes: Sequence[str], changes: Iterable[tuple[int, str, bool]]) -> None:
        self.nodes = tuple(nodes)
        self.changes = list(changes)  # (time, node, in rotation after)

    def at(self, t: int) -> dict[str, bool]:
        state = dict.fromkeys(self.nodes, True)
        for when, node, on in self.changes:
            if when > t:
                break
            state[node] = on
        return state


def late_out(
    unhealthy: dict[str, list[Interval]], rotation: Rotation, bound: int, hold: int, keep: int
) -> str | None:
    """A node failing since ``s`` still in rotation at ``s + bound`` while more
    than ``keep`` were in throughout the ``hold`` ms before."""
    for node in sorted(unhealthy):
        for start, end in unhealthy[node]:
            deadline = start + bound
            if end <= deadline:
                continue
            state = rotation.at(deadline)
            if not state[node]:
                continue
            moments = [deadline - hold] + [t for t, _, _ in rotation.changes if deadline - hold <= t <= deadline]
            if all(sum(rotation.at(t).values()) > keep for t in moments):
                return (
                    f"{node} failed every probe from t={start} but was still in rotation at t={deadline} "
                    f"with {sum(state.values())} nodes in (bound {bound} ms, floor {keep})"
                )
    return None


def late_back(
    healthy: dict[str, list[Interval]], disturbed: dict[str, list[int]], rotation: Rotation, bound: int
) -> str | None:
    """A node healthy and undisturbed over ``[u, u + bound]`` still out of rotation at ``u + bound``."""
    for node in sorted(healthy):
        marks = sorted(disturbed.get(node, []))
        for start, end in healthy[node]:
            starts = [start] + [m for m in marks if start < m < end]
            for i, u in enumerate(starts):
                quiet_until = starts[i + 1] if i + 1 < len(starts) else end
                deadline = u + bound
                if quiet_until <= deadline:
                    continue
                if not rotation.at(deadline)[node]:
                    return (
                        f"{node} healthy and reachable from t={u} but still out of rotation at t={deadline} "
                        f"(bound {bound} ms)"
                    )
    return None
