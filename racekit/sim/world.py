"""The world: nodes, clocks, disks, network, clients, and THE event loop.

Everything nondeterministic - which pending event happens next, message
jitter, drops, duplicates, long delays, partitions, clock steps and drift,
pauses, crashes - is asked of one :class:`~racekit.choice.Chooser`.
Option 0 is always the boring answer: the oldest due event, no jitter, no
fault.  Same config + same node code + same answers => the same trace,
byte for byte: there is no real time, no real randomness, and nothing here
iterates a set or depends on ``id()``.

The agenda holds every pending event (message deliveries, timers, client
invocations and timeouts, restarts, heals), keyed by ``(due, seq)``.  Each
step offers at most ``max_options`` events, those due within ``window`` ms
of the earliest, and virtual time jumps to the chosen one's due time (never
backward).  Picking a later event is how messages get reordered and timers
fire late; the window bounds how late anything can be.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from racekit.choice.chooser import Chooser
from racekit.errors import InvalidDefinition, RacekitError
from racekit.history import HistoryRecorder
from racekit.sim.clock import NodeClock
from racekit.sim.config import FAULT_KINDS, ClientScript, WorldConfig
from racekit.sim.disk import Disk
from racekit.sim.net import Message, Network
from racekit.sim.node import Node, NodeContext, Reply, Request
from racekit.sim.result import Note, RunResult, Violation

Check = Callable[["World", bool], Violation | None]
"""A property check: ``check(world, final)``; ``final`` is True once, after the loop."""


@dataclass
class Event:
    """One pending thing.  ``kind`` is deliver / timer / issue / timeout / restart / heal."""

    seq: int
    due: int
    kind: str
    target: str
    message: Message | None = None
    name: str = ""
    gen: int = 0

    def label(self) -> str:
        if self.message is not None:
            return f"deliver#{self.seq} {self.message.src}->{self.target}"
        return f"{self.kind}#{self.seq} {self.target} {self.name}".rstrip()


@dataclass
class _Slot:
    """A node position: survives crashes; ``node`` and ``ctx`` do not."""

    node: Node | None
    ctx: NodeContext | None
    clock: NodeClock
    disk: Disk = field(default_factory=Disk)
    alive: bool = False
    incarnation: int = 0
    timers: dict[str, int] = field(default_factory=dict)  # timer name -> event seq
    paused_until: int = 0


@dataclass
class _Client:
    script: ClientScript
    next_op: int = 0
    open_op: int | None = None
    timeout_seq: int | None = None


class World:
    """A simulated cluster.  Build it, then call :meth:`run` once."""

    def __init__(
        self,
        config: WorldConfig,
        factory: Callable[[str], Node],
        clients: Sequence[ClientScript] = (),
    ) -> None:
        self.config = config
        self.factory = factory
        self.node_ids: tuple[str, ...] = tuple(config.nodes)
        if len(set(self.node_ids)) != len(self.node_ids):
            raise InvalidDefinition(f"node ids must be unique: {self.node_ids}")
        self.now = 0
        self.step = 0
        self.network = Network()
        self.recorder = HistoryRecorder()
        self.trace: list[dict[str, Any]] = []
        self.notes: list[Note] = []
        self.faults_used: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)
        self._agenda: dict[int, Event] = {}
        self._seq = 0
        self._chooser: Chooser | None = None
        offsets = dict(config.offsets)
        drifts = dict(config.initial_drift)
        self._slots: dict[str, _Slot] = {}
        for nid in self.node_ids:
            clock = NodeClock(offset=offsets.get(nid, 0))
            if drifts.get(nid):
                clock.set_drift(0, drifts[nid])
            self._slots[nid] = _Slot(None, None, clock)
        self._clients: dict[str, _Client] = {}
        for script in clients:
            if script.id in self._slots or script.id in self._clients:
                raise InvalidDefinition(f"client id {script.id!r} clashes with a node or another client")
            self._clients[script.id] = _Client(script)
        self.started = False

    # ======================================================================
    # THE event loop
    # ======================================================================
    def run(self, chooser: Chooser, check: Check | None = None) -> RunResult:
        """Run to the horizon (or the step bound, or the first violation).

        Each iteration: maybe inject one fault (a "fault" choice, offered
        only while the budget lasts), then pick and fire one pending event
        (a "deliver" choice).  Properties are checked after every step and
        once more at the end.
        """
        self._chooser = chooser
        violation: Violation | None = None
        try:
            self.start()
            violation = self._check(check, final=False)
            while violation is None and self.step < self.config.max_steps:
                if self.offer_fault(chooser):
                    violation = self._check(check, final=False)
                    if violation is not None:
                        break
                if not self.advance(chooser):
                    break  # nothing left before the horizon
                violation = self._check(check, final=False)
            if violation is None:
                violation = self._check(check, final=True)
        except RacekitError:
            raise
        except Exception as exc:  # the code under test raised: that is a finding
            violation = Violation("no_exception", "exception", f"{type(exc).__name__}: {exc}")
            self._log("-", "exception", f"{type(exc).__name__}: {exc}")
        return RunResult(
            violation=violation,
            trace=self.trace,
            history=self.recorder.history(),
            steps=self.step,
            faults=sum(self.faults_used.values()),
            world=self,
        )

    def _check(self, check: Check | None, final: bool) -> Violation | None:
        return None if check is None else check(self, final)

    # ======================================================================
    # Steps (also driven one by one by the RuleBasedStateMachine wrapper)
    # ======================================================================
    def start(self) -> None:
        """Start every node at t=0 in id order, then schedule the clients' first ops."""
        if self.started:
            return
        self.started = True
        for nid in self.node_ids:
            self._boot(nid)
        for cid in sorted(self._clients):
            self._schedule_next_op(self._clients[cid], first=True)

    def candidates(self) -> list[Event]:
        """The events that may happen next, boring (earliest due, oldest) first."""
        ordered = sorted(self._agenda.values(), key=lambda e: (self._due(e), e.seq))
        if not ordered or self._due(ordered[0]) > self.config.horizon:
            return []
        first = self._due(ordered[0])
        window = self.config.window
        picked = [
            e
            for e in ordered
            if self._due(e) <= self.config.horizon and (window is None or self._due(e) <= first + window)
        ]
        return picked[: max(1, self.config.max_options)]

    def advance(self, chooser: Chooser) -> bool:
        """Pick one pending event and fire it; False when nothing is left."""
        options = self.candidates()
        if not options:
            return False
        event = options[chooser.choose([e.label() for e in options], "deliver")]
        self.fire(event)
        return True

    def fire(self, event: Event) -> None:
        del self._agenda[event.seq]
        self.now = max(self.now, self._due(event))
        self.step += 1
        if event.kind == "deliver":
            assert event.message is not None
            self._deliver(event.message)
        elif event.kind == "timer":
            self._fire_timer(event)
        elif event.kind == "issue":
            self._issue(self._clients[event.target])
        elif event.kind == "timeout":
            self._timeout(self._clients[event.target], event.gen)
        elif event.kind == "restart":
            self._boot(event.target)
        elif event.kind == "heal":
            part = self.network.heal(event.gen)
            if part is not None:
                self._log("-", "heal", part.label)
        else:  # pragma: no cover - every kind is created in this file
            raise RacekitError(f"unknown event kind {event.kind!r}")

    # ======================================================================
    # Faults
    # ======================================================================
    def fault_options(self) -> list[tuple[Hashable, ...]]:
        """Faults that may be injected now, in a fixed order; the budget decides which kinds."""
        cfg = self.config
        opts: list[tuple[Hashable, ...]] = []
        msgs = [e for e in self.candidates_all() if e.kind == "deliver"][: cfg.fault_options]
        alive = [n for n in self.node_ids if self._slots[n].alive]
        for kind in ("drop", "dup", "delay"):
            if self._budget_left(kind):
                opts += [(kind, e.seq) for e in msgs]
        if self._budget_left("crash"):
            crashable = cfg.crashable if cfg.crashable is not None else self.node_ids
            opts += [("crash", n) for n in crashable if n in alive]
        if self._budget_left("partition"):
            nodes = cfg.partitionable if cfg.partitionable is not None else self.node_ids
            opts += [("isolate", n) for n in nodes]
            if cfg.one_way:
                opts += [("cut", a, b) for a in nodes for b in nodes if a != b]
        if self._budget_left("skew"):
            skewable = cfg.skewable if cfg.skewable is not None else self.node_ids
            opts += [("skew", n) for n in skewable]
        if self._budget_left("pause"):
            opts += [("pause", n) for n in alive if self._slots[n].paused_until <= self.now]
        return opts

    def offer_fault(self, chooser: Chooser) -> bool:
        """Ask whether to inject a fault now (option 0 = no); True if one was injected."""
        if not self.config.faults.any:
            return False
        faults = self.fault_options()
        if not faults:
            return False
        index = chooser.choose([("none",), *faults], "fault")
        if index == 0:
            return False
        self.inject(faults[index - 1], chooser)
        return True

    def inject(self, fault: tuple[Hashable, ...], chooser: Chooser) -> None:
        """Apply one fault; its size (downtime, jump, duration) is a further choice."""
        cfg = self.config
        kind = str(fault[0])
        budget_kind = "partition" if kind in ("isolate", "cut") else kind
        self.faults_used[budget_kind] += 1
        self.step += 1
        if kind in ("drop", "dup", "delay"):
            event = self._agenda[int(fault[1])]  # type: ignore[call-overload]
            assert event.message is not None
            what = event.message.describe()
            if kind == "drop":
                del self._agenda[event.seq]
                self._log(event.target, "drop", what)
            elif kind == "dup":
                copy = Event(self._next_seq(), self.now + cfg.latency, "deliver", event.target, event.message)
                self._agenda[copy.seq] = copy
                self._log(event.target, "dup", what)
            else:
                extra = self._pick(cfg.delay_extra, "delay")
                event.due = max(event.due, self.now) + extra
                self._log(event.target, "delay", f"{what} held {extra}ms (slow link / sender paused)")
        elif kind == "crash":
            self._crash(str(fault[1]), chooser)
        elif kind in ("isolate", "cut"):
            if kind == "isolate":  # cut from every other node, not only partitionable ones
                part = self.network.isolate(str(fault[1]), self.node_ids)
            else:
                part = self.network.one_way(str(fault[1]), str(fault[2]))
            duration = self._pick(cfg.partition_duration, "partition")
            self._schedule(self.now + duration, "heal", "-", gen=part.pid)
            self._log("-", "partition", f"{part.label} for {duration}ms")
        elif kind == "skew":
            nid = str(fault[1])
            clock = self._slots[nid].clock
            moves = [("jump", j) for j in cfg.skew_jumps] + [("drift", d) for d in cfg.drifts_ppm]
            move, amount = moves[chooser.choose(moves, "skew")] if moves else ("jump", 0)
            before = clock.wall(self.now)
            if move == "jump":
                clock.jump(amount)
            else:
                clock.set_drift(self.now, amount)
            self._log(nid, "skew", f"{move} {amount:+d}: wall {before} -> {clock.wall(self.now)}")
        elif kind == "pause":
            nid = str(fault[1])
            duration = self._pick(cfg.pause_duration, "pause")
            self._slots[nid].paused_until = self.now + duration
            self._log(nid, "pause", f"frozen for {duration}ms (GC pause / stalled VM); clock keeps running")
        else:  # pragma: no cover
            raise RacekitError(f"unknown fault {fault!r}")

    def _budget_left(self, kind: str) -> bool:
        budget = self.config.faults
        if budget.total is not None and sum(self.faults_used.values()) >= budget.total:
            return False
        return self.faults_used[kind] < budget.get(kind)

    def _crash(self, nid: str, chooser: Chooser) -> None:
        slot = self._slots[nid]
        slot.alive = False
        if slot.ctx is not None:
            slot.ctx.alive = False
        slot.node, slot.ctx = None, None
        for seq in sorted(slot.timers.values()):
            self._agenda.pop(seq, None)
        slot.timers.clear()
        slot.paused_until = 0
        keep = 0
        if self.config.torn_writes and slot.disk.unsynced:
            keep = chooser.choose(list(range(slot.disk.unsynced + 1)), "torn")
        lost = slot.disk.crash(keep)
        downtime = self._pick(self.config.crash_downtime, "crash") if self.config.crash_downtime else None
        if downtime is not None:
            self._schedule(self.now + downtime, "restart", nid)
        after = f"restart in {downtime}ms" if downtime is not None else "no restart"
        self._log(nid, "crash", f"lost {lost} unsynced disk write(s); {after}")

    # ======================================================================
    # The node API (called through NodeContext)
    # ======================================================================
    def send(self, src: str, dst: str, payload: Any) -> None:
        if dst not in self._slots and dst not in self._clients:
            raise InvalidDefinition(f"{src} sent {payload!r} to unknown address {dst!r}")
        msg = Message(self._next_seq(), src, dst, payload, self.now)
        if self.network.blocked(src, dst):
            self._log(src, "lost", f"{msg.describe()} (link cut at send)")
            return
        extra = self._pick(self.config.jitter, "jitter")
        event = Event(msg.seq, self.now + self.config.latency + extra, "deliver", dst, msg)
        self._agenda[event.seq] = event
        self._log(src, "send", msg.describe())

    def set_timer(self, nid: str, name: str, delay: int) -> None:
        slot = self._slots[nid]
        old = slot.timers.pop(name, None)
        if old is not None:
            self._agenda.pop(old, None)
        due = self.now + slot.clock.true_delay(delay)
        slot.timers[name] = self._schedule(due, "timer", nid, name=name, gen=slot.incarnation)

    def cancel_timer(self, nid: str, name: str) -> None:
        seq = self._slots[nid].timers.pop(name, None)
        if seq is not None:
            self._agenda.pop(seq, None)

    def clock(self, nid: str) -> NodeClock:
        return self._slots[nid].clock

    def disk(self, nid: str) -> Disk:
        return self._slots[nid].disk

    def note(self, nid: str, what: str, data: dict[str, Any]) -> None:
        self.notes.append(Note(self.step, self.now, nid, what, dict(data)))
        detail = " ".join(f"{k}={v!r}" for k, v in data.items())
        self._log(nid, f"note:{what}", detail)

    # ======================================================================
    # Observation (for properties, tests and the rule-based wrapper)
    # ======================================================================
    def node(self, nid: str) -> Node | None:
        """The live instance at ``nid``, or None while it is down."""
        return self._slots[nid].node

    def alive(self, nid: str) -> bool:
        return self._slots[nid].alive

    def paused(self, nid: str) -> bool:
        return self._slots[nid].paused_until > self.now

    def incarnation(self, nid: str) -> int:
        return self._slots[nid].incarnation

    def notes_of(self, what: str) -> list[Note]:
        return [n for n in self.notes if n.what == what]

    def candidates_all(self) -> list[Event]:
        return sorted(self._agenda.values(), key=lambda e: (self._due(e), e.seq))

    def in_flight(self) -> list[Message]:
        return [e.message for e in self.candidates_all() if e.message is not None]

    def fingerprint(self) -> Hashable:
        """The whole world state, for state hashing in exhaustive search.

        Message/event sequence numbers are left out (two interleavings that
        reach the same nodes, disks and pending events are one state); the
        history is left out too, so pruning on it is sound only for
        properties of the state, not of the history (see docs/simulator.md).
        """
        nodes = tuple(
            (
                nid,
                s.alive,
                s.incarnation,
                s.paused_until,
                s.clock.state(),
                s.disk.state(),
                None if s.node is None else s.node.fingerprint(),
            )
            for nid, s in self._slots.items()
        )
        agenda = tuple(
            sorted(
                (e.due, e.kind, e.target, e.name, repr(e.message.payload) if e.message else "", e.message.src if e.message else "")
                for e in self._agenda.values()
            )
        )
        clients = tuple((c, cl.next_op, cl.open_op is not None) for c, cl in sorted(self._clients.items()))
        used = tuple(sorted(self.faults_used.items()))
        return (self.now, nodes, agenda, clients, self.network.state(), used)

    # ======================================================================
    # Internals
    # ======================================================================
    def _due(self, event: Event) -> int:
        """When an event can happen: a paused node handles nothing until it resumes."""
        slot = self._slots.get(event.target)
        if slot is not None and event.kind in ("deliver", "timer"):
            return max(event.due, slot.paused_until)
        return event.due

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _schedule(self, due: int, kind: str, target: str, *, name: str = "", gen: int = 0) -> int:
        event = Event(self._next_seq(), due, kind, target, name=name, gen=gen)
        self._agenda[event.seq] = event
        return event.seq

    def _pick(self, values: Sequence[int], kind: str) -> int:
        """A parameter choice (jitter, downtime, ...): one option is no choice at all."""
        if len(values) == 1 or self._chooser is None:
            return values[0]
        return values[self._chooser.choose(list(values), kind)]

    def _log(self, node: str, what: str, detail: str) -> None:
        self.trace.append({"step": self.step, "t": self.now, "node": node, "what": what, "detail": detail})

    def _boot(self, nid: str) -> None:
        slot = self._slots[nid]
        if slot.alive:
            return
        slot.incarnation += 1
        ctx = NodeContext(self, nid, slot.incarnation, self.config.seed)
        node = self.factory(nid)
        node.attach(ctx)
        slot.node, slot.ctx, slot.alive = node, ctx, True
        self._log(nid, "start" if slot.incarnation == 1 else "restart", f"incarnation {slot.incarnation}")
        node.on_start()

    def _deliver(self, msg: Message) -> None:
        client = self._clients.get(msg.dst)
        if client is not None:
            self._client_reply(client, msg)
            return
        slot = self._slots[msg.dst]
        if not slot.alive or slot.node is None:
            self._log(msg.dst, "lost", f"{msg.describe()} (node down)")
        elif self.network.blocked(msg.src, msg.dst):
            self._log(msg.dst, "lost", f"{msg.describe()} (link cut at delivery)")
        else:
            self._log(msg.dst, "deliver", msg.describe())
            slot.node.on_message(msg.src, msg.payload)

    def _fire_timer(self, event: Event) -> None:
        slot = self._slots[event.target]
        if not slot.alive or slot.node is None or slot.incarnation != event.gen:
            return
        if slot.timers.get(event.name) == event.seq:
            del slot.timers[event.name]
        self._log(event.target, "timer", event.name)
        slot.node.on_timer(event.name)

    # -- clients -------------------------------------------------------------
    def submit(self, client_id: str, op: Any) -> None:
        """Append an operation to a client's script at run time (rule-based driving)."""
        client = self._clients[client_id]
        idle = client.open_op is None and client.next_op >= len(client.script.ops)
        client.script = ClientScript(client.script.id, (*client.script.ops, op), client.script.timeout, client.script.think)
        if idle and not any(e.kind == "issue" and e.target == client_id for e in self._agenda.values()):
            self._schedule(max(self.now, op.at), "issue", client_id)

    def _schedule_next_op(self, client: _Client, first: bool = False) -> None:
        if client.next_op >= len(client.script.ops):
            return
        op = client.script.ops[client.next_op]
        earliest = self.now if first else self.now + client.script.think
        self._schedule(max(earliest, op.at), "issue", client.script.id)

    def _issue(self, client: _Client) -> None:
        op = client.script.ops[client.next_op]
        cid = client.script.id
        op_id = self.recorder.invoke(cid, op.name, op.args, at=self.step)
        client.open_op = op_id
        self._log(cid, "invoke", f"#{op_id} {op.name}{op.args!r} at {op.node}")
        self.send(cid, op.node, Request(op_id, op.name, op.args))
        client.timeout_seq = self._schedule(self.now + client.script.timeout, "timeout", cid, gen=op_id)

    def _client_reply(self, client: _Client, msg: Message) -> None:
        reply = msg.payload
        cid = client.script.id
        if not isinstance(reply, Reply) or reply.req != client.open_op:
            self._log(cid, "late", f"{msg.describe()} ignored (not the open operation)")
            return
        if reply.status == "ok":
            self.recorder.ok(reply.req, reply.result, at=self.step)
        else:
            self.recorder.fail(reply.req, reply.result, at=self.step)
        self._log(cid, "return", f"#{reply.req} {reply.status} {reply.result!r}")
        if client.timeout_seq is not None:
            self._agenda.pop(client.timeout_seq, None)
        self._op_done(client)

    def _timeout(self, client: _Client, op_id: int) -> None:
        if client.open_op != op_id:
            return
        self.recorder.info(op_id, at=self.step)
        self._log(client.script.id, "timeout", f"#{op_id} outcome unknown (info)")
        self._op_done(client)

    def _op_done(self, client: _Client) -> None:
        client.open_op = None
        client.timeout_seq = None
        client.next_op += 1
        self._schedule_next_op(client)
