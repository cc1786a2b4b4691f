"""Eventually consistent replicas: a register, a counter and a set (seed exercise 14).

Three replicas (``r1..r3``) each accept reads and writes on their own - an
AP store: a write is acknowledged once it is on the replica's disk (with
the request's id, so a duplicated request is applied once), and
every ``gossip_ms`` each replica sends its whole state to the others, who
merge it (state-based anti-entropy).  Clients are sticky: each talks to one
replica (its session).  The store holds a register (``put`` / ``get``), a
counter (``inc`` / ``count``) and a set (``add`` / ``remove`` /
``members``).  Clocks are skewed and may step; links are cut and heal.

The data types are pure functions on immutable values (below), so their
merge laws can be checked on their own (Hypothesis and CrossHair, in
``stateful_tests/test_eventual_consistency_laws.py``).  Variants:

* ``lww_register``      - the register is last-writer-wins by the replica's
  wall clock: a replica whose clock is behind stamps a newer write with an
  older time, and the merge keeps the older write.
* ``max_counter``       - the counter is one integer merged with ``max``:
  two replicas counting one increment each both hold 1; the merge says 1.
* ``two_phase_set``     - the set keeps an added set and a removed set (a
  2P-set): once removed, an element can never come back - a later
  acknowledged ``add`` is silently lost.
* ``round_robin_reads`` - the right data types, but reads are spread over
  the replicas (a read balancer): a client does not see its own write.
* ``crdt`` (fixed)      - a multi-value register ordered by **vector
  clocks** (concurrent writes are both kept as siblings; a write supersedes
  every value its replica has seen), a **G-counter** (one slot per
  replica, merged by per-slot max, summed to read) and an **OR-set**
  (each add has a unique tag; a remove tombstones the tags it has seen, so
  an add it has not seen survives), with reads served by the session's own
  replica.

Every merge here is a join (commutative, associative, idempotent) - the
broken ones too: the laws are necessary, not sufficient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from racekit import System, Variant
from racekit.sim import Node, Request

REPLICAS = ("r1", "r2", "r3")

VClock = tuple[int, ...]


# ---------------------------------------------------------------------------
# Vector clocks and the multi-value register
# ---------------------------------------------------------------------------
def vc_merge(a: VClock, b: VClock) -> VClock:
    """The least clock at or after both (laws: ``specs.eventual_consistency.vclock_laws``)."""
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def vc_less(a: VClock, b: VClock) -> bool:
    """``a`` happened before ``b``: ``a <= b`` in every slot and not equal."""
    return a != b and all(x <= y for x, y in zip(a, b, strict=True))


MVState = frozenset[tuple[str, VClock]]


def mv_merge(a: MVState, b: MVState) -> MVState:
    """Every value whose clock no other value's clock dominates."""
    both = a | b
    return frozenset(p for p in both if not any(vc_less(p[1], q[1]) for q in both))


def mv_write(state: MVState, slot: int, value: str, width: int) -> MVState:
    """The new value supersedes everything this replica has seen."""
    clock = (0,) * width
    for _, c in state:
        clock = vc_merge(clock, c)
    clock = clock[:slot] + (clock[slot] + 1,) + clock[slot + 1 :]
    return frozenset({(value, clock)})


def mv_read(state: MVState) -> tuple[str, ...]:
    return tuple(sorted(v for v, _ in state))


# ---------------------------------------------------------------------------
# Last-writer-wins register (broken on skewed clocks)
# ---------------------------------------------------------------------------
LWWState = tuple[int, int, str] | None  # (wall-clock stamp, replica slot, value)


def lww_merge(a: LWWState, b: LWWState) -> LWWState:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


# ---------------------------------------------------------------------------
# Counters
# ---------------------------------------------------------------------------
def gcounter_merge(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """Per-replica max: every replica's own count survives (laws: ``specs.eventual_consistency.gcounter_laws``)."""
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def gcounter_inc(state: tuple[int, ...], slot: int) -> tuple[int, ...]:
    return state[:slot] + (state[slot] + 1,) + state[slot + 1 :]


def max_merge(a: int, b: int) -> int:
    return max(a, b)


# ---------------------------------------------------------------------------
# Sets
# ---------------------------------------------------------------------------
Tag = tuple[int, int]  # (replica slot, sequence number on that replica)
ORState = tuple[frozenset[tuple[str, Tag]], frozenset[Tag]]  # (tagged adds, tombstoned tags)


def orset_merge(a: ORState, b: ORState) -> ORState:
    return a[0] | b[0], a[1] | b[1]


def orset_add(state: ORState, element: str, tag: Tag) -> ORState:
    return state[0] | {(element, tag)}, state[1]


def orset_remove(state: ORState, element: str) -> ORState:
    """Tombstone the tags of ``element`` this replica has seen (and only those)."""
    return state[0], state[1] | {t for e, t in state[0] if e == element}


def orset_members(state: ORState) -> tuple[str, ...]:
    return tuple(sorted({e for e, t in state[0] if t not in state[1]}))


TwoPState = tuple[frozenset[str], frozenset[str]]  # (added, removed)


def twop_merge(a: TwoPState, b: TwoPState) -> TwoPState:
    return a[0] | b[0], a[1] | b[1]


# ---------------------------------------------------------------------------
# The data types a replica holds, as one strategy object per variant
# ---------------------------------------------------------------------------
class Types:
    """The fixed data types: MV-register (vector clocks), G-counter, OR-set."""

    def __init__(self, slot: int, width: int) -> None:
        self.slot, self.width = slot, width

    # register
    def reg_initial(self) -> Any:
        return frozenset()

    def reg_write(self, state: Any, value: str, wall: int) -> Any:
        return mv_write(state, self.slot, value, self.width)

    def reg_read(self, state: Any) -> tuple[str, ...]:
        return mv_read(state)

    def reg_merge(self, a: Any, b: Any) -> Any:
        return mv_merge(a, b)

    # counter
    def cnt_initial(self) -> Any:
        return (0,) * self.width

    def cnt_inc(self, state: Any) -> Any:
        return gcounter_inc(state, self.slot)

    def cnt_read(self, state: Any) -> int:
        return int(sum(state))

    def cnt_merge(self, a: Any, b: Any) -> Any:
        return gcounter_merge(a, b)

    # set
    def set_initial(self) -> Any:
        return frozenset(), frozenset()

    def set_add(self, state: Any, element: str, seq: int) -> Any:
        return orset_add(state, element, (self.slot, seq))

    def set_remove(self, state: Any, element: str) -> Any:
        return orset_remove(state, element)

    def set_read(self, state: Any) -> tuple[str, ...]:
        return orset_members(state)

    def set_merge(self, a: Any, b: Any) -> Any:
        return orset_merge(a, b)


class LWWTypes(Types):
    """Broken register: last writer wins, by the replica's wall clock."""

    def reg_initial(self) -> Any:
        return None

    def reg_write(self, state: Any, value: str, wall: int) -> Any:
        return (wall, self.slot, value)

    def reg_read(self, state: Any) -> tuple[str, ...]:
        return () if state is None else (state[2],)

    def reg_merge(self, a: Any, b: Any) -> Any:
        return lww_merge(a, b)


class MaxCounterTypes(Types):
    """Broken counter: one integer, merged by max."""

    def cnt_initial(self) -> Any:
        return 0

    def cnt_inc(self, state: Any) -> Any:
        return state + 1

    def cnt_read(self, state: Any) -> int:
        return int(state)

    def cnt_merge(self, a: Any, b: Any) -> Any:
        return max_merge(a, b)


class TwoPhaseSetTypes(Types):
    """Broken set: added and removed sets; removed wins forever."""

    def set_add(self, state: Any, element: str, seq: int) -> Any:
        return state[0] | {element}, state[1]

    def set_remove(self, state: Any, element: str) -> Any:
        return state[0], state[1] | ({element} & state[0])

    def set_read(self, state: Any) -> tuple[str, ...]:
        return tuple(sorted(state[0] - state[1]))

    def set_merge(self, a: Any, b: Any) -> Any:
        return twop_merge(a, b)


@dataclass(frozen=True)
class Design:
    types: type[Types]
    replica: type[Replica] | None = None  # None: Replica (sessions read their own replica)
    gossip_ms: int = 50


State = tuple[Any, Any, Any, int]  # (register, counter, set, next add sequence number)
READS = ("get", "count", "members")


class Replica(Node):
    """One replica: serves its sessions, persists before acknowledging, gossips its state."""

    def __init__(self, design: Design, replicas: tuple[str, ...] = REPLICAS) -> None:
        self.design = design
        self.replicas = replicas

    def on_start(self) -> None:
        self.types = self.design.types(self.replicas.index(self.id), len(self.replicas))
        t = self.types
        saved = self.disk.read("replica")
        self.state: State = (t.reg_initial(), t.cnt_initial(), t.set_initial(), 1)
        self.applied: frozenset[tuple[str, int]] = frozenset()  # (client, request) already done
        if saved is not None:
            self.state, self.applied = saved
        self.set_timer("gossip", self.design.gossip_ms)

    # -- sessions --------------------------------------------------------------
    def on_request(self, client: str, request: Request) -> None:
        if request.name in READS:
            self.reply(client, request, self.read(request.name))
            return
        if (client, request.req) not in self.applied:  # a duplicated request is done once
            self.applied = self.applied | {(client, request.req)}
            self.persist(self.update(request.name, request.args))
        self.reply(client, request, "ok")  # acknowledged once durable

    def read(self, name: str) -> Any:
        reg, cnt, members, _ = self.state
        if name == "get":
            return self.types.reg_read(reg)
        if name == "count":
            return self.types.cnt_read(cnt)
        return self.types.set_read(members)

    def update(self, name: str, args: tuple[Any, ...]) -> State:
        t = self.types
        reg, cnt, members, seq = self.state
        if name == "put":
            return t.reg_write(reg, args[0], self.now()), cnt, members, seq
        if name == "inc":
            return reg, t.cnt_inc(cnt), members, seq
        if name == "add":
            return reg, cnt, t.set_add(members, args[0], seq), seq + 1
        if name == "remove":
            return reg, cnt, t.set_remove(members, args[0]), seq
        raise ValueError(f"unknown operation {name!r}")

    def persist(self, state: State) -> None:
        """State and the requests it includes, in one synced write."""
        self.state = state
        self.disk.write("replica", (state, self.applied))
        self.disk.fsync()

    # -- anti-entropy ----------------------------------------------------------
    def on_timer(self, name: str) -> None:
        if name == "gossip":
            for peer in self.replicas:
                if peer != self.id:
                    self.send(peer, ("state", self.state))
            self.set_timer("gossip", self.design.gossip_ms)

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.on_request(src, msg)
        elif msg[0] == "state":
            merged = self.merge(self.state, msg[1])
            if merged != self.state:
                self.persist(merged)

    def merge(self, a: State, b: State) -> State:
        t = self.types
        return t.reg_merge(a[0], b[0]), t.cnt_merge(a[1], b[1]), t.set_merge(a[2], b[2]), a[3]

    # -- for properties (ghost reads, not messages) ----------------------------
    def snapshot(self) -> tuple[tuple[str, ...], int, tuple[str, ...]]:
        """What a reader at this replica would see now."""
        return self.read("get"), self.read("count"), self.read("members")


class RoundRobinReads(Replica):
    """Broken: a read balancer in front spreads each session's reads over the replicas."""

    def on_start(self) -> None:
        super().on_start()
        self.rr = 0
        self.forwarded: dict[int, tuple[str, Request]] = {}

    def on_request(self, client: str, request: Request) -> None:
        if request.name not in READS:
            super().on_request(client, request)
            return
        self.rr += 1
        target = self.replicas[(self.replicas.index(self.id) + self.rr) % len(self.replicas)]
        self.forwarded[request.req] = (client, request)
        self.send(target, ("read", request.req, request.name))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, tuple) and msg[0] == "read":
            self.send(src, ("read_reply", msg[1], self.read(msg[2])))
        elif isinstance(msg, tuple) and msg[0] == "read_reply" and msg[1] in self.forwarded:
            client, request = self.forwarded.pop(msg[1])
            self.reply(client, request, msg[2])
        else:
            super().on_message(src, msg)


SYSTEM = System(
    name="eventual_consistency",
    summary="AP replicas with gossip: LWW vs vector clocks, counters, sets, sticky sessions under partitions and skew",
    kind="sim",
    variants=[
        Variant(
            "lww_register",
            lambda: Design(LWWTypes),
            expect="violation",
            property="newer_write_kept",
            bug="last-writer-wins by wall clock: a replica whose clock is behind stamps the newer write older, and the merge keeps the older one",
        ),
        Variant(
            "max_counter",
            lambda: Design(MaxCounterTypes),
            expect="violation",
            property="counter_exact",
            bug="the counter is one integer merged by max: increments counted on two replicas merge to one",
        ),
        Variant(
            "two_phase_set",
            lambda: Design(TwoPhaseSetTypes),
            expect="violation",
            property="no_lost_add",
            bug="a 2P-set: once an element is removed, a later acknowledged add of it is silently lost",
        ),
        Variant(
            "round_robin_reads",
            lambda: Design(Types, RoundRobinReads),
            expect="violation",
            property="read_your_writes",
            bug="reads are spread over the replicas: a client's read lands on a replica its own write has not reached",
        ),
        Variant("crdt", lambda: Design(Types), expect="correct"),
    ],
    properties=(
        "converges", "newer_write_kept", "counter_exact", "no_lost_add", "read_your_writes", "overwrite_sticks", "remove_sticks",
    ),
)
