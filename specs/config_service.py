"""What a config service with gradual rollout and rollback promises.

Inputs are ghost facts: the store's ``publish`` (version -> content, never
changed), ``target`` (node, version, why: canary / wave / rollback) and
``rollback`` notes, each service's ``apply`` notes, and the client
history of ``read()`` answers.

* ``whole_version``        - every read answers the fields of exactly the
  version it names (the content published under that version).
* ``version_monotonic``    - the versions a service applies strictly
  increase, across restarts too (a service never goes back to an older
  version; a rollback arrives as a newer one).
* ``staged_rollout``       - a service applies a version only once the
  store has targeted that service with it; a forward version is targeted
  at a non-canary service no earlier than ``bake_ms`` after the canary.
* ``rollback_reaches_all`` (liveness) - ``bound`` ms after a rollback (or
  after the last fault, if later) every live service runs the rolled-back
  content, unless a newer publish superseded the rollback.
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


def rollback_missed(
    rollbacks: Sequence[tuple[int, int, str]],
    publishes: Sequence[tuple[int, int]],
    applied: Sequence[Applied],
    alive_at: Callable[[str, int], bool],
    services: Sequence[str],
    quiet_from: int,
    end: int,
    bound: int,
) -> str | None:
    """``rollbacks``: (time, version, content); ``publishes``: (time, version) of every publish."""
    for t, version, content in rollbacks:
        deadline = max(t, quiet_from) + bound
        if deadline > end:
            continue
        if any(t < pt <= deadline and pv > version for pt, pv in publishes):
            continue  # superseded by a newer publish
        for node in services:
            if not alive_at(node, deadline):
                continue
            runs = running_at(applied, node, deadline, (1, "c1"))
            if runs[1] != content:
                return (
                    f"{node} still runs version {runs[0]} ({runs[1]}) at t={deadline}, {deadline - t} ms after "
                    f"the rollback to {content} (version {version}) at t={t}"
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
