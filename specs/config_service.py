"""What a config service with gradual rollout and rollback promises.

Inputs: the operator's and readers' client history (what was asked, what
was answered, when), ghost facts from the store - ``publish`` (version ->
content, never changed) and ``target`` (node, version, why: canary / wave
/ rollback) - and each service's ``apply`` notes.

* ``whole_version``        - every read answers the fields of exactly the
  version it names (the content published under that version).
* ``version_monotonic``    - the versions a service applies strictly
  increase, across restarts too (a service never goes back to an older
  version; a rollback arrives as a newer one).
* ``staged_rollout``       - a service applies a version only once the
  store has targeted that service with it; a forward version is targeted
  at a non-canary service no earlier than ``bake_ms`` after the canary.
* ``available``            - in a run without faults every operation is
  answered (the operator's and the readers').
* ``rollout_completes`` (liveness) - an acknowledged publish runs on every
  live service ``bake + bound`` ms after it (or after the last fault),
  unless another request may have taken effect meanwhile.
* ``rollback_reaches_all`` (liveness) - ``bound`` ms after an acknowledged
  rollback (or after the last fault) every live service runs the content
  the rollback had to restore: that of the last release fully rolled out
  before the newest publish (:class:`Releases` works it out from the
  operator's history alone), unless another request may have taken effect
  meanwhile (a later one, or one never acknowledged: it may land any time).
* ``rollback_sticks``      - once the store has carried out an acknowledged
  rollback, it targets no service with other content until the operator's
  next request: the rollout the rollback cancelled does not come back.
* ``reaches_target`` (liveness) - ``bound`` ms after the store targets a
  service with a version (or after the last fault), the service runs that
  version or a newer one, unless the target changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Fields = tuple[int, int, int, str]


@dataclass(frozen=True)
class Applied:
    t: int
    node: str
    version: int
    content: str


@dataclass(frozen=True)
class Target:
    t: int
    node: str
    version: int
    content: str
    why: str


def torn_read(reads: Sequence[tuple[str, Fields]], contents: dict[int, str], fields_of: Callable[[int, str], Fields]) -> str | None:
    for client, got in reads:
        version = got[0]
        if version not in contents:
            return f"{client} read version {version}, which was never published"
        want = fields_of(version, contents[version])
        if tuple(got) != want:
            return f"{client} read {tuple(got)!r}: not version {version}'s fields {want!r}"
    return None


class MonotonicWatch:
    """Fed apply events in order: a service applying a version not above its last one."""

    def __init__(self) -> None:
        self.last: dict[str, Applied] = {}

    def feed(self, a: Applied) -> str | None:
        prev = self.last.get(a.node)
        self.last[a.node] = a
        if prev is not None and a.version <= prev.version:
            return (
                f"{a.node} applied version {a.version} ({a.content}) at t={a.t} "
                f"after version {prev.version} ({prev.content}) at t={prev.t}"
            )
        return None


def unstaged(applied: Sequence[Applied], targets: Sequence[Target], canary: str, bake_ms: int) -> str | None:
    for a in applied:
        if not any(tg.node == a.node and tg.version == a.version and tg.t <= a.t for tg in targets):
            return f"{a.node} applied version {a.version} at t={a.t} before the store targeted it there"
    first_canary: dict[int, int] = {}
    for tg in targets:
        if tg.node == canary and tg.why == "canary":
            first_canary.setdefault(tg.version, tg.t)
    for tg in targets:
        if tg.why == "wave":
            start = first_canary.get(tg.version)
            if start is None or tg.t - start < bake_ms:
                return f"version {tg.version} reached {tg.node} at t={tg.t}, {'before the canary' if start is None else f'{tg.t - start} ms after the canary'} (bake {bake_ms} ms)"
    return None


def running_at(applied: Sequence[Applied], node: str, t: int, initial: tuple[int, str]) -> tuple[int, str]:
    """(version, content) a service runs at time t: its last apply at or before t."""
    current = initial
    for a in applied:
        if a.node == node and a.t <= t:
            current = (a.version, a.content)
    return current


@dataclass(frozen=True)
class AdminOp:
    """One operator request: ``publish`` (content) or ``rollback``; ``done``:
    acknowledged (False: timed out - it may or may not have happened)."""

    t: int
    name: str
    content: str
    done: bool
    version: int | None


class Releases:
    """The store's rollout semantics, replayed from the operator's requests.

    A publish starts a rollout: canary now, the rest ``bake_ms`` later; it
    records as *stable* what everyone was targeted with, unless a rollout
    was still baking (then the stable release stays).  A rollback restores
    the stable content to everyone.  Where timing cannot decide (a request
    within ``slack`` ms of a wave), both possibilities are kept;
    :meth:`rollback_contents` answers with the set.
    """

    def __init__(self, bake_ms: int, slack: int) -> None:
        self.bake_ms, self.slack = bake_ms, slack
        # (stable content, content everyone is targeted with, (rolling content, wave time) | None)
        self.states: set[tuple[str, str, tuple[str, int] | None]] = {("c1", "c1", None)}
        self.expected: dict[int, set[str]] = {}

    def _before(self, t: int) -> None:
        out = set()
        for stable, full, rolling in self.states:
            if rolling is None or t < rolling[1] - self.slack:
                out.add((stable, full, rolling))
                continue
            out.add((stable, rolling[0], None))  # the wave went out first
            if t <= rolling[1] + self.slack:
                out.add((stable, full, rolling))  # or the request did
        self.states = out

    def feed(self, op: AdminOp, index: int) -> None:
        self._before(op.t)
        after = set()
        for stable, full, rolling in self.states:
            if op.name == "publish":
                after.add((full if rolling is None else stable, full, (op.content, op.t + self.bake_ms)))
            else:
                self.expected.setdefault(index, set()).add(stable)
                after.add((stable, stable, None))
        self.states = after

    def rollback_contents(self, ops: Sequence[AdminOp]) -> dict[int, set[str]]:
        """The content each rollback must restore, by index in ``ops``.  Only
        up to the first unacknowledged request: it may take effect at any later
        instant (a request held in the network), so after it nothing is known."""
        for i, op in enumerate(ops):
            if not op.done:
                break
            self.feed(op, i)
        return self.expected


def unavailable(ops: Sequence[tuple[str, str, str]], faults: int) -> str | None:
    """``ops``: (client, call, status).  Without any fault every operation must be answered."""
    if faults:
        return None
    for client, call, status in ops:
        if status != "ok":
            return f"{client}'s {call} was never answered in a run without faults"
    return None


def _superseded(ops: Sequence[AdminOp], i: int, deadline: int) -> bool:
    """Another request may have taken effect before the deadline: a later one
    sent by then, or an unacknowledged one (it may land at any instant)."""
    return any(j != i and o.t <= deadline and (j > i or not o.done) for j, o in enumerate(ops))


def _running_everywhere(
    applied: Sequence[Applied], alive_at: Callable[[str, int], bool], services: Sequence[str], t: int,
    ok: Callable[[tuple[int, str]], bool],
) -> str | None:
    for node in services:
        if alive_at(node, t):
            runs = running_at(applied, node, t, (1, "c1"))
            if not ok(runs):
                return f"{node} runs version {runs[0]} ({runs[1]}) at t={t}"
    return None


def rollout_missed(
    ops: Sequence[AdminOp], applied: Sequence[Applied], alive_at: Callable[[str, int], bool],
    services: Sequence[str], quiet_from: int, end: int, bake_ms: int, bound: int, lead: int,
) -> str | None:
    """``lead``: the most a request takes to reach the store (and a timer to fire late)."""
    for i, op in enumerate(ops):
        if op.name != "publish" or not op.done or op.version is None:
            continue
        deadline = max(op.t + 2 * lead + bake_ms, quiet_from) + bound
        if deadline > end or _superseded(ops, i, deadline):
            continue
        version = op.version
        problem = _running_everywhere(applied, alive_at, services, deadline, lambda r, v=version: r[0] >= v)
        if problem:
            return f"{problem}, {deadline - op.t} ms after publish({op.content!r}) was acknowledged as version {version}"
    return None


def rollback_missed(
    ops: Sequence[AdminOp], expected: dict[int, set[str]], applied: Sequence[Applied],
    alive_at: Callable[[str, int], bool], services: Sequence[str], quiet_from: int, end: int, bound: int, lead: int,
) -> str | None:
    for i, op in enumerate(ops):
        if op.name != "rollback" or not op.done:
            continue
        deadline = max(op.t + lead, quiet_from) + bound
        if deadline > end or i not in expected or _superseded(ops, i, deadline):
            continue
        want = expected[i]
        problem = _running_everywhere(applied, alive_at, services, deadline, lambda r, w=want: r[1] in w)
        if problem:
            return f"{problem}, {deadline - op.t} ms after the rollback at t={op.t} (it must restore {' or '.join(sorted(want))})"
    return None


def rollback_undone(ops: Sequence[AdminOp], expected: dict[int, set[str]], targets: Sequence[Target]) -> str | None:
    """``targets`` in the order the store made them."""
    for i, op in enumerate(ops):
        if i not in expected:
            continue
        until = ops[i + 1].t if i + 1 < len(ops) else None
        started = False
        for tg in targets:
            if tg.t < op.t or (until is not None and tg.t >= until):
                continue
            if tg.why == "rollback":
                started = True
            elif started and tg.content not in expected[i]:
                return (
                    f"the store targeted {tg.node} with version {tg.version} ({tg.content}) at t={tg.t}, after the "
                    f"rollback at t={op.t} restored {' or '.join(sorted(expected[i]))}"
                )
    return None


def target_missed(
    targets: Sequence[Target],
    applied: Sequence[Applied],
    alive_at: Callable[[str, int], bool],
    quiet_from: int,
    end: int,
    bound: int,
) -> str | None:
    for tg in targets:
        deadline = max(tg.t, quiet_from) + bound
        if deadline > end or not alive_at(tg.node, deadline):
            continue
        if any(o.node == tg.node and tg.t < o.t <= deadline for o in targets):
            continue  # retargeted meanwhile
        runs = running_at(applied, tg.node, deadline, (1, "c1"))
        if runs[0] < tg.version:
            return f"{tg.node} runs version {runs[0]} at t={deadline}, {deadline - tg.t} ms after it was targeted with version {tg.version}"
    return None
