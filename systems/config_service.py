"""A config service with versioned snapshots, gradual rollout and instant rollback (seed project 8).

A central store (``store``) holds configuration versions; three services
(``s1..s3``) fetch and cache the configuration and apply it live, with no
restart.  An operator publishes new content (``publish(content)``) and
rolls back (``rollback()``); request traffic reads the configuration at the
services (``read()`` -> version and fields).

Propagation is push plus pull: the store pushes a version to the nodes it
targets, and every service also polls every ``poll_ms`` (the backstop for a
lost push or a node that was down).  Rollout is gradual: a published
version goes to the canary ``s1`` first and to the others ``bake_ms``
later.  A rollback goes to everyone at once ("rollback must be instant")
and cancels a rollout in progress.  Each service keeps its last applied
snapshot on its local disk, so a restarted service starts from it.

The snapshot type and its fields are ``systems.config_reload``'s: that
system checks, under the thread scheduler, how a service installs a
version while its request threads read it.  Here each service is a
single-threaded actor and installs atomically; what can go wrong is what
arrives, when, and in which order.  Variants:

* ``apply_any``        - a service applies whatever version arrives last: a
  rollout push that was held in the network (or a poll answer sent before
  the rollback) lands after the rollback and puts the bad version back.
* ``pointer_rollback`` - rollback moves the store's pointer back to the old
  version number; the services, correctly refusing to go backwards, ignore
  it: the rollback never reaches the nodes that already had the new version.
* ``poll_latest``      - the poll backstop answers with the latest version
  instead of the node's rollout target: every node picks up a new version
  at its next poll, canary or not - the gradual rollout is bypassed.
* ``versioned`` (fixed) - immutable versioned snapshots; per-node targets
  (the version pointer of its rollout wave); services apply only a version
  higher than theirs; a rollback is a new, higher version carrying the old
  content; polls answer the node's target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request
from systems.config_reload import Snapshot, snapshot_of

STORE = "store"
SERVICES = ("s1", "s2", "s3")
CANARY = "s1"


@dataclass(frozen=True)
class Timing:
    poll_ms: int = 100
    bake_ms: int = 300


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------
class Store(Node):
    """Versions, per-node targets, rollout waves, rollback.  Reliable (not faulted)."""

    def __init__(self, timing: Timing, services: tuple[str, ...] = SERVICES, canary: str = CANARY) -> None:
        self.timing = timing
        self.services = services
        self.canary = canary

    def on_start(self) -> None:
        self.contents: dict[int, str] = {1: "c1"}  # version -> content, never changed once written
        self.target: dict[str, int] = dict.fromkeys(self.services, 1)
        self.stable = 1  # the version every node was targeted at before the newest publish
        self.rolling: int | None = None  # a forward version waiting for its second wave

    def latest(self) -> int:
        return max(self.contents)

    def retarget(self, nodes: tuple[str, ...], version: int, why: str) -> None:
        for n in nodes:
            self.target[n] = version
            self.note("target", node=n, version=version, content=self.contents[version], why=why)
            self.send(n, ("config", version, self.contents[version]))  # push

    def on_request(self, client: str, request: Request) -> None:
        if request.name == "publish":
            if self.rolling is None:
                self.stable = self.target[self.services[-1]]
            version = self.latest() + 1
            self.contents[version] = request.args[0]
            self.note("publish", version=version, content=request.args[0])
            self.rolling = version
            self.retarget((self.canary,), version, "canary")
            self.set_timer("wave", self.timing.bake_ms)
            self.reply(client, request, version)
        elif request.name == "rollback":
            self.cancel_timer("wave")
            self.rolling = None
            version = self.rollback_version()
            self.note("rollback", version=version, content=self.contents[version])
            self.retarget(self.services, version, "rollback")
            self.reply(client, request, version)

    def rollback_version(self) -> int:
        """A new, higher version carrying the stable content."""
        version = self.latest() + 1
        self.contents[version] = self.contents[self.stable]
        self.note("publish", version=version, content=self.contents[version])
        return version

    def on_timer(self, name: str) -> None:
        if name == "wave" and self.rolling is not None:
            rest = tuple(s for s in self.services if s != self.canary)
            self.retarget(rest, self.rolling, "wave")
            self.rolling = None

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "poll":
            version = self.poll_answer(src)
            self.send(src, ("config", version, self.contents[version]))

    def poll_answer(self, node: str) -> int:
        return self.target[node]


class PointerRollbackStore(Store):
    """Broken: rollback points back at the old version number."""

    def rollback_version(self) -> int:
        return self.stable


class PollLatestStore(Store):
    """Broken: a poll is answered with the newest version, whatever the node's wave."""

    def poll_answer(self, node: str) -> int:
        return self.latest()


# ---------------------------------------------------------------------------
# The services
# ---------------------------------------------------------------------------
class Service(Node):
    """Caches the config, applies new versions live, serves reads, polls."""

    def __init__(self, timing: Timing) -> None:
        self.timing = timing

    def on_start(self) -> None:
        saved = self.disk.read("config")  # the last applied snapshot survives a restart
        self.current: Snapshot = snapshot_of(1, "c1")  # the image's built-in config
        self.content = "c1"
        if saved is not None:
            self.current, self.content = Snapshot(*saved[0]), saved[1]
        self.set_timer("poll", 0)

    def on_timer(self, name: str) -> None:
        if name == "poll":
            self.send(STORE, ("poll", self.current.version))
            self.set_timer("poll", self.timing.poll_ms)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "config":
            _, version, content = msg
            if self.accepts(version):
                self.install(snapshot_of(version, content), content)

    def accepts(self, version: int) -> bool:
        return version > self.current.version  # forward only

    def install(self, snapshot: Snapshot, content: str) -> None:
        """Apply live: one new immutable snapshot, kept on the local disk for a restart."""
        self.current, self.content = snapshot, content
        self.disk.write("config", (snapshot.as_read(), content))
        self.disk.fsync()
        self.note("apply", version=snapshot.version, content=content, incarnation=self.ctx.incarnation)

    def on_request(self, client: str, request: Request) -> None:
        if request.name == "read":
            self.reply(client, request, self.current.as_read())


class ApplyAnyService(Service):
    """Broken: applies whatever version arrives last."""

    def accepts(self, version: int) -> bool:
        return version != self.current.version


@dataclass(frozen=True)
class Design:
    store: type[Store]
    service: type[Service]


SYSTEM = System(
    name="config_service",
    summary="versioned config: push + poll propagation, canary-first rollout, rollback as a new version (simulated)",
    kind="sim",
    variants=[
        Variant(
            "apply_any",
            lambda: Design(Store, ApplyAnyService),
            expect="violation",
            property="version_monotonic",
            bug="services apply whatever version arrives last: a rollout push held in the network lands after the rollback and puts the bad version back",
        ),
        Variant(
            "pointer_rollback",
            lambda: Design(PointerRollbackStore, Service),
            expect="violation",
            property="rollback_reaches_all",
            bug="rollback points back at the old version number; services that refuse to go backwards never apply it",
        ),
        Variant(
            "poll_latest",
            lambda: Design(PollLatestStore, Service),
            expect="violation",
            property="staged_rollout",
            bug="the poll backstop answers the newest version, not the node's rollout target: the canary stage is bypassed",
        ),
        Variant("versioned", lambda: Design(Store, Service), expect="correct"),
    ],
    properties=(
        "whole_version", "version_monotonic", "staged_rollout", "available", "rollback_sticks",
        "rollout_completes", "rollback_reaches_all", "reaches_target",
    ),
)
