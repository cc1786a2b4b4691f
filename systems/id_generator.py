"""Global ID generator: monotonic, collision-free, multi-node (seed exercise 10).

Each node answers ``next_id()``.  The generators are plain classes fed the
node's clock, so the same code runs in the simulator and in the benchmark.

* ``timestamp_only``      - the id is the wall-clock ms.  Two requests in the
  same ms, on one node or two, get the same id.
* ``snowflake_unguarded`` - ``ms << 22 | node << 12 | seq``.  Unique while the
  clock only moves forward; an NTP step backward makes the node reissue
  timestamps it already used: ids go down, and can repeat.
* ``snowflake``           - the same layout with a guard: the timestamp never
  goes below the last one used (a clock step back borrows from the last ms,
  a full sequence borrows the next ms), and a reservation of timestamps is
  fsynced ahead, so a restart after a backward step cannot reuse ids either.
* ``hlc``                 - a hybrid logical clock ``(l, c)`` with the node id:
  ``l = max(l, wall, l seen from peers)``; ids also carry causality between
  nodes that gossip their clocks.  Same crash reservation as ``snowflake``.
"""

from __future__ import annotations

from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request

NODE_BITS, SEQ_BITS = 10, 12
SEQ_MAX = (1 << SEQ_BITS) - 1
RESERVE_MS = 1000  # timestamps reserved on disk ahead of use


def pack(ms: int, node: int, seq: int) -> int:
    return (ms << (NODE_BITS + SEQ_BITS)) | (node << SEQ_BITS) | seq


def unpack(value: int) -> tuple[int, int, int]:
    return value >> (NODE_BITS + SEQ_BITS), (value >> SEQ_BITS) & ((1 << NODE_BITS) - 1), value & SEQ_MAX


class TimestampOnly:
    """Broken: the id is the current wall-clock millisecond."""

    def __init__(self, node: int, disk: Any = None) -> None:
        self.node = node

    def next(self, now_ms: int) -> int:
        return now_ms


class SnowflakeUnguarded:
    """Broken: Snowflake layout, but trusts the clock to move forward."""

    def __init__(self, node: int, disk: Any = None) -> None:
        self.node = node
        self.last_ms = -1
        self.seq = 0

    def next(self, now_ms: int) -> int:
        if now_ms == self.last_ms:
            self.seq = (self.seq + 1) & SEQ_MAX
        else:
            self.seq = 0  # a smaller now_ms lands here too: the bug
        self.last_ms = now_ms
        return pack(now_ms, self.node, self.seq)


class Snowflake:
    """Fixed: never below the last timestamp used, and crash-safe via an fsynced reservation."""

    def __init__(self, node: int, disk: Any = None) -> None:
        self.node = node
        self.disk = disk
        reserved = disk.read("reserved_ms", -1) if disk is not None else -1
        # after a restart, everything up to the reservation may have been used
        self.last_ms, self.seq = reserved, SEQ_MAX
        self.reserved = reserved

    def _stamp(self, now_ms: int) -> tuple[int, int]:
        ms = max(now_ms, self.last_ms)
        if ms == self.last_ms:
            if self.seq == SEQ_MAX:  # sequence exhausted: borrow the next ms
                return ms + 1, 0
            return ms, self.seq + 1
        return ms, 0

    def next(self, now_ms: int) -> int:
        ms, seq = self._stamp(now_ms)
        self._reserve(ms)
        self.last_ms, self.seq = ms, seq
        return pack(ms, self.node, seq)

    def _reserve(self, ms: int) -> None:
        if self.disk is not None and ms > self.reserved:
            self.reserved = ms + RESERVE_MS
            self.disk.write("reserved_ms", self.reserved)
            self.disk.fsync()  # durable before any id above the old reservation leaves


class HybridLogicalClock(Snowflake):
    """Fixed: Snowflake's guard plus HLC merging of timestamps heard from peers."""

    def observe(self, remote_ms: int) -> None:
        """Merge a peer's logical time: every later local id sorts after the peer's ids."""
        if remote_ms >= self.last_ms:
            self.last_ms, self.seq = remote_ms, SEQ_MAX  # next local id uses remote_ms + 1


class IdNode(Node):
    """A node serving ``next_id``; HLC nodes also gossip their logical time."""

    GOSSIP_MS = 50

    def __init__(self, generator: type[TimestampOnly] | type[SnowflakeUnguarded] | type[Snowflake], index: int) -> None:
        self.generator_cls = generator
        self.index = index

    def on_start(self) -> None:
        self.gen: Any = self.generator_cls(self.index, self.disk)
        if isinstance(self.gen, HybridLogicalClock):
            self.note("started")  # ghost: what it heard before a crash is gone, so is the promise
            self.set_timer("gossip", self.GOSSIP_MS)

    def on_request(self, client: str, request: Request) -> None:
        value = self.gen.next(self.now())
        self.note("issued", id=value)
        self.reply(client, request, value)

    def on_timer(self, name: str) -> None:
        for peer in self.ctx.peers:
            self.send(peer, ("hlc", self.gen.last_ms))
        self.set_timer("gossip", self.GOSSIP_MS)

    def on_message(self, src: str, msg: Any) -> None:
        if not isinstance(msg, Request):  # ghost note of every peer time delivered: the HLC promise is checked against it
            self.note("heard", src=src, ms=msg[1])
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "hlc" and isinstance(self.gen, HybridLogicalClock):
            self.gen.observe(msg[1])


SYSTEM = System(
    name="id_generator",
    summary="unique, per-node monotonic ids from several nodes whose clocks skew and step back",
    kind="sim",
    variants=[
        Variant(
            "timestamp_only",
            lambda: TimestampOnly,
            expect="violation",
            property="unique",
            bug="the id is the wall-clock ms: two requests in one ms (one node or two) get the same id",
        ),
        Variant(
            "snowflake_unguarded",
            lambda: SnowflakeUnguarded,
            expect="violation",
            property="monotonic",
            bug="no clock-backwards guard: after an NTP step back the node issues smaller (and repeated) ids",
        ),
        Variant("snowflake", lambda: Snowflake, expect="correct"),
        Variant("hlc", lambda: HybridLogicalClock, expect="correct"),
    ],
    properties=("unique", "monotonic", "causal"),
)
