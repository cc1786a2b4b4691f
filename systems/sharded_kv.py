"""Sharded key-value store with node join/leave (seed exercise 7).

A router (``r``) owns the membership and routes ``put``/``get`` to the
storage node that owns the key; ``join``/``leave`` are admin operations
sent to the router.  A membership change is a *rebalance*: the router
bumps the ring epoch and tells every node; each node hands the keys it no
longer owns to their new owners (retrying until acknowledged), then
reports back; only when all have reported does the router switch routing
to the new ring.  Nodes reject operations stamped with another epoch
("wrong owner") and the router re-routes them, so an operation that was in
flight during the handoff is never applied to a copy that has been handed
away.  Forwarded operations carry an id; nodes apply each id once.

* ``modulo``            - ``hash(key) % N``: correct handoff, but a join or
  leave moves almost every key (N/(N+1) of them on a join).
* ``leave_no_handoff``  - consistent hashing; join hands off, but ``leave``
  just drops the node from the ring: every key it owned, acknowledged or
  not, is gone.
* ``consistent``        - consistent hashing with virtual nodes and handoff
  on both join and leave.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request

RETRY_MS = 40


def key_hash(text: str) -> int:
    """64-bit BLAKE2b: crc32 is linear and clusters similar names ("s3#1", "s3#2") on the ring."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class ModuloRing:
    """``members[hash(key) % len(members)]``."""

    def __init__(self, members: tuple[str, ...], vnodes: int = 0) -> None:
        self.members = tuple(members)

    def owner(self, key: str) -> str:
        return self.members[key_hash(key) % len(self.members)]


class ConsistentRing:
    """Each member placed at ``vnodes`` points on a 64-bit circle; a key belongs to the next point."""

    def __init__(self, members: tuple[str, ...], vnodes: int = 32) -> None:
        self.members = tuple(members)
        points = sorted((key_hash(f"{m}#{i}"), m) for m in members for i in range(vnodes))
        self.hashes = [h for h, _ in points]
        self.owners = [m for _, m in points]

    def owner(self, key: str) -> str:
        i = bisect.bisect_left(self.hashes, key_hash(key))
        return self.owners[i % len(self.owners)]


Ring = ModuloRing | ConsistentRing


class Storage(Node):
    """Holds ``key -> (version, value)`` for the keys it owns in the current epoch."""

    def __init__(self, ring_cls: type[Ring]) -> None:
        self.ring_cls = ring_cls

    def on_start(self) -> None:
        self.data: dict[str, tuple[int, str]] = {}
        self.epoch = 0
        self.ring: Ring | None = None
        self.applied: dict[int, Any] = {}  # op id -> result (apply each id once)
        self.handoffs: dict[int, dict[str, dict[str, tuple[int, str]]]] = {}  # epoch -> dst -> items
        self.reported: set[int] = set()

    def on_message(self, src: str, msg: Any) -> None:
        kind = msg[0]
        if kind == "op":
            self.on_op(src, *msg[1:])
        elif kind == "rebalance":
            self.on_rebalance(msg[1], tuple(msg[2]))
        elif kind == "transfer":
            _, epoch, items = msg
            for key, (version, value) in items:
                if key not in self.data or self.data[key][0] < version:
                    self.data[key] = (version, value)
            self.send(src, ("transfer_ack", epoch))
        elif kind == "transfer_ack":
            pending = self.handoffs.get(msg[1], {})
            moved = pending.pop(src, None)
            for key in moved or ():
                if self.ring is not None and self.ring.owner(key) != self.id:
                    self.data.pop(key, None)  # handed off and acknowledged
            self._maybe_report(msg[1])
        elif kind == "ring" and msg[1] > self.epoch:  # new ring, nothing to hand off
            self.epoch, self.ring = msg[1], self.ring_cls(tuple(msg[2]))
        elif kind == "decommission":
            self.note("decommissioned", keys=len(self.data))
            self.data.clear()

    def on_op(self, router: str, op_id: int, epoch: int, name: str, key: str, value: str | None) -> None:
        if op_id in self.applied:
            self.send(router, ("result", op_id, self.applied[op_id]))
            return
        if epoch != self.epoch or self.ring is None or self.ring.owner(key) != self.id:
            self.send(router, ("wrong_owner", op_id))
            return
        if name == "put":
            version = self.data.get(key, (0, ""))[0] + 1
            self.data[key] = (version, str(value))
            result = None
        else:
            result = self.data.get(key, (0, ""))[1]
        self.applied[op_id] = result
        self.send(router, ("result", op_id, result))

    def on_rebalance(self, epoch: int, members: tuple[str, ...]) -> None:
        if epoch < self.epoch:
            return
        if epoch > self.epoch:
            self.epoch = epoch
            self.ring = self.ring_cls(members)
            outgoing: dict[str, dict[str, tuple[int, str]]] = {}
            for key in sorted(self.data):
                owner = self.ring.owner(key)
                if owner != self.id:
                    outgoing.setdefault(owner, {})[key] = self.data[key]
            self.handoffs[epoch] = outgoing
            for dst, items in sorted(outgoing.items()):
                self.note("moved", epoch=epoch, to=dst, keys=len(items), held=len(self.data))
            self.set_timer(f"resend/{epoch}", RETRY_MS)
        self._send_transfers(epoch)
        self._maybe_report(epoch)

    def _send_transfers(self, epoch: int) -> None:
        for dst, items in sorted(self.handoffs.get(epoch, {}).items()):
            self.send(dst, ("transfer", epoch, tuple(sorted(items.items()))))

    def _maybe_report(self, epoch: int) -> None:
        if epoch == self.epoch and not self.handoffs.get(epoch):
            self.send("r", ("rebalanced", epoch))

    def on_timer(self, name: str) -> None:
        epoch = int(name.split("/")[1])
        if self.handoffs.get(epoch):
            self._send_transfers(epoch)
            self.set_timer(name, RETRY_MS)


class Router(Node):
    """Routes client operations and runs membership changes one at a time."""

    def __init__(self, ring_cls: type[Ring], initial: tuple[str, ...], handoff_on_leave: bool = True) -> None:
        self.ring_cls = ring_cls
        self.initial = initial
        self.handoff_on_leave = handoff_on_leave

    def on_start(self) -> None:
        self.members: tuple[str, ...] = ()
        self.ring: Ring = self.ring_cls(self.initial)
        self.epoch = 0
        self.next_op = 0
        self.ops: dict[int, tuple[str, Request]] = {}  # forwarded, waiting for a result
        self.buffered: list[tuple[str, Request]] = []
        self.admin: list[tuple[str, Request]] = []
        self.change: tuple[int, tuple[str, ...], set[str], tuple[str, Request]] | None = None
        self._begin(self.initial, None)  # epoch 1: the initial ring, nothing to move

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            if msg.name in ("join", "leave"):
                self.admin.append((src, msg))
                self._next_change()
            elif self.change is not None:
                self.buffered.append((src, msg))
            else:
                self._forward(src, msg)
        elif msg[0] == "result" and msg[1] in self.ops:
            client, request = self.ops.pop(msg[1])
            self.cancel_timer(f"op/{msg[1]}")
            self.reply(client, request, msg[2])
        elif msg[0] == "wrong_owner" and msg[1] in self.ops:
            client, request = self.ops.pop(msg[1])
            self.cancel_timer(f"op/{msg[1]}")
            self.buffered.append((client, request))
            self.set_timer("drain", RETRY_MS)  # the node is not on our epoch yet: retry soon
        elif msg[0] == "rebalanced" and self.change is not None and msg[1] == self.change[0]:
            self.change[2].discard(src)
            if not self.change[2]:
                self._finish_change()

    def _forward(self, client: str, request: Request) -> None:
        self.next_op += 1
        key = request.args[0]
        value = request.args[1] if request.name == "put" else None
        self.ops[self.next_op] = (client, request)
        self.send(self.ring.owner(key), ("op", self.next_op, self.epoch, request.name, key, value))
        self.set_timer(f"op/{self.next_op}", 200)

    def _drain(self) -> None:
        if self.change is None:
            pending, self.buffered = self.buffered, []
            for client, request in pending:
                self._forward(client, request)

    def _next_change(self) -> None:
        if self.change is not None or not self.admin:
            return
        client, request = self.admin.pop(0)
        node = request.args[0]
        if request.name == "join":
            members = tuple(sorted({*self.members, node}))
        else:
            members = tuple(m for m in self.members if m != node)
            if not self.handoff_on_leave:  # the bug: switch the ring, decommission the node
                self.epoch += 1
                self.members, self.ring = members, self.ring_cls(members)
                for member in members:
                    self.send(member, ("ring", self.epoch, members))
                self.send(node, ("decommission",))
                self.note("ring", epoch=self.epoch, members=",".join(members))
                self.reply(client, request, None)
                self._next_change()
                return
        self.note("change", epoch=self.epoch + 1, op=request.name, node=node)
        self._begin(members, (client, request))

    def _begin(self, members: tuple[str, ...], admin: tuple[str, Request] | None) -> None:
        self.epoch += 1
        involved = set(self.members) | set(members)
        placeholder = admin if admin is not None else ("", Request(-1, "init", ()))
        self.change = (self.epoch, members, involved, placeholder)
        self._send_rebalance()

    def _send_rebalance(self) -> None:
        assert self.change is not None
        epoch, members, waiting, _ = self.change
        for node in sorted(waiting):
            self.send(node, ("rebalance", epoch, members))
        self.set_timer(f"rebalance/{epoch}", RETRY_MS)

    def _finish_change(self) -> None:
        assert self.change is not None
        epoch, members, _, (client, request) = self.change
        self.cancel_timer(f"rebalance/{epoch}")
        self.members, self.ring = members, self.ring_cls(members)
        self.change = None
        self.note("ring", epoch=epoch, members=",".join(members))
        if request.req >= 0:
            self.reply(client, request, None)
        self._drain()
        self._next_change()

    def on_timer(self, name: str) -> None:
        kind, _, num = name.partition("/")
        if kind == "rebalance" and self.change is not None and int(num) == self.change[0]:
            self._send_rebalance()
        elif kind == "drain":
            self._drain()
        elif kind == "op" and int(num) in self.ops:
            del self.ops[int(num)]  # the client has timed out by now: outcome unknown


SYSTEM = System(
    name="sharded_kv",
    summary="a sharded key-value store whose nodes join and leave while clients read and write",
    kind="sim",
    variants=[
        Variant(
            "modulo",
            lambda: (ModuloRing, True),
            expect="violation",
            property="minimal_movement",
            bug="hash(key) % N: adding or removing one node moves almost every key",
        ),
        Variant(
            "leave_no_handoff",
            lambda: (ConsistentRing, False),
            expect="violation",
            property="no_lost_write",
            bug="a leaving node is dropped from the ring without handing off its keys: acknowledged writes vanish",
        ),
        Variant("consistent", lambda: (ConsistentRing, True), expect="correct"),
    ],
    properties=("no_lost_write", "linearizable", "minimal_movement"),
)
