"""What a simulated node is, and what it may touch.

A node is a single-threaded actor: the world calls exactly one of its
handlers at a time and each handler runs to completion, instantly, in
virtual time.  A node talks to the world only through its
:class:`NodeContext`: ``send``, ``set_timer``/``cancel_timer``, ``now`` /
``monotonic``, ``disk``, ``random`` and ``note``.  That is what makes a run
replayable: a node that reads ``time.time()``, real randomness, or iterates
a ``set`` of strings (hash order changes between processes) breaks it.

Writing a node::

    class Pinger(Node):
        def on_start(self) -> None:
            self.set_timer("ping", 100)          # local ms, drifts with the clock

        def on_timer(self, name: str) -> None:
            self.send("b", ("ping", self.now()))
            self.set_timer("ping", 100)

        def on_message(self, src: str, msg: Any) -> None:
            self.note("got", src=src)             # ghost fact for properties

Crash = the instance is thrown away; restart = the factory builds a new one
and ``on_start`` runs again with the disk as it was last synced.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from racekit.errors import InvalidDefinition

if TYPE_CHECKING:
    from racekit.sim.disk import Disk
    from racekit.sim.world import World


@dataclass(frozen=True)
class Request:
    """A client operation arriving at a node.  ``req`` is the history op id."""

    req: int
    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Reply:
    """A node's answer to a :class:`Request`; ``status`` "fail" = definitely not done."""

    req: int
    result: Any
    status: Literal["ok", "fail"] = "ok"


class NodeContext:
    """The node's handle on the world: one per incarnation.

    After a crash the old context is dead; a stale reference used by
    mistake raises instead of acting on behalf of the restarted node.
    """

    def __init__(self, world: World, node_id: str, incarnation: int, seed: int) -> None:
        self._world = world
        self.node_id = node_id
        self.incarnation = incarnation
        self.random = random.Random(f"{seed}/{node_id}/{incarnation}")
        self.alive = True

    def _check(self) -> None:
        if not self.alive:
            raise InvalidDefinition(
                f"node {self.node_id!r} (incarnation {self.incarnation}) used its context after "
                "it crashed; keep no references to the old context across restarts"
            )

    @property
    def disk(self) -> Disk:
        return self._world.disk(self.node_id)

    @property
    def peers(self) -> tuple[str, ...]:
        """Every other node id in the world, sorted."""
        return tuple(n for n in self._world.node_ids if n != self.node_id)

    def send(self, dst: str, msg: Any) -> None:
        self._check()
        self._world.send(self.node_id, dst, msg)

    def reply(self, client: str, request: Request, result: Any = None, *, ok: bool = True) -> None:
        self.send(client, Reply(request.req, result, "ok" if ok else "fail"))

    def set_timer(self, name: str, delay: int) -> None:
        """(Re)arm timer ``name`` to fire after ``delay`` ms of *local monotonic* time."""
        self._check()
        self._world.set_timer(self.node_id, name, delay)

    def cancel_timer(self, name: str) -> None:
        self._check()
        self._world.cancel_timer(self.node_id, name)

    def now(self) -> int:
        """Local wall clock (ms): skewed, drifting, may jump backward."""
        return self._world.clock(self.node_id).wall(self._world.now)

    def monotonic(self) -> int:
        """Local monotonic clock (ms): drifts, never jumps."""
        return self._world.clock(self.node_id).monotonic(self._world.now)

    def note(self, what: str, **data: Any) -> None:
        """Record a ghost fact: shown in the trace, read by properties, invisible to nodes."""
        self._world.note(self.node_id, what, data)


class Node:
    """Base class of simulated nodes.  Override the ``on_*`` handlers you need.

    ``fingerprint`` feeds state hashing in exhaustive search; the default
    uses the ``repr`` of the instance attributes, which is right for plain
    data.  Override it when a node holds something whose repr is not a
    faithful, deterministic description of its state.
    """

    ctx: NodeContext

    def attach(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    # -- handlers ------------------------------------------------------------
    def on_start(self) -> None:
        """Called at time 0 and again after every restart (volatile state is fresh)."""

    def on_message(self, src: str, msg: Any) -> None:
        """A message arrived; requests from clients are routed to ``on_request``."""
        if isinstance(msg, Request):
            self.on_request(src, msg)

    def on_request(self, client: str, request: Request) -> None:
        """A client operation; answer with ``self.reply(client, request, result)`` now or later."""

    def on_timer(self, name: str) -> None:
        """Timer ``name`` fired."""

    # -- shortcuts to the context -------------------------------------------
    @property
    def id(self) -> str:
        return self.ctx.node_id

    @property
    def disk(self) -> Disk:
        return self.ctx.disk

    def send(self, dst: str, msg: Any) -> None:
        self.ctx.send(dst, msg)

    def reply(self, client: str, request: Request, result: Any = None, *, ok: bool = True) -> None:
        self.ctx.reply(client, request, result, ok=ok)

    def set_timer(self, name: str, delay: int) -> None:
        self.ctx.set_timer(name, delay)

    def cancel_timer(self, name: str) -> None:
        self.ctx.cancel_timer(name)

    def now(self) -> int:
        return self.ctx.now()

    def monotonic(self) -> int:
        return self.ctx.monotonic()

    def note(self, what: str, **data: Any) -> None:
        self.ctx.note(what, **data)

    def fingerprint(self) -> str:
        items = sorted((k, v) for k, v in vars(self).items() if k != "ctx")
        return repr(items)
