"""The simulator's world: determinism, exhaustive counts, disk, partitions, clocks."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from racekit.choice import Recorder, Replay
from racekit.sim import (
    ClientOp,
    ClientScript,
    FaultBudget,
    Node,
    Request,
    World,
    WorldConfig,
)
from racekit.choice.strategies.random import RandomChooser
from racekit.sim.clock import NodeClock


class Chatty(Node):
    """Uses every node facility: timers, random, disk, fsync, replies, notes."""

    def on_start(self) -> None:
        self.seen: list[Any] = list(self.disk.log())
        self.set_timer("tick", 5 + self.ctx.random.randrange(10))

    def on_timer(self, name: str) -> None:
        peer = self.ctx.peers[self.ctx.random.randrange(len(self.ctx.peers))]
        self.send(peer, ("hello", self.id, self.now(), self.monotonic()))
        self.set_timer("tick", 5 + self.ctx.random.randrange(10))

    def on_message(self, src: str, msg: Any) -> None:
        if isinstance(msg, Request):
            self.disk.append((msg.name, msg.args))
            if msg.args and msg.args[0] % 2:
                self.disk.fsync()
            self.reply(src, msg, len(self.seen))
            return
        self.seen.append(msg)
        self.note("heard", src=src, n=len(self.seen))


def chatty_world(seed: int, n_nodes: int, window: int | None, jitter: tuple[int, ...]) -> World:
    nodes = tuple(f"n{i}" for i in range(n_nodes))
    budget = FaultBudget(drop=2, dup=1, delay=1, crash=1, partition=1, skew=2, pause=1)
    config = WorldConfig(
        nodes=nodes,
        jitter=jitter,
        window=window,
        horizon=300,
        faults=budget,
        drifts_ppm=(-100_000, 50_000),
        skew_jumps=(-50, 40),
        crash_downtime=(20, 60),
        torn_writes=True,
        seed=seed,
    )
    ops = tuple(ClientOp(nodes[i % n_nodes], "write", (i,), at=i * 20) for i in range(6))
    return World(config, lambda nid: Chatty(), [ClientScript("c", ops, timeout=30)])


@settings(max_examples=25, deadline=None, database=None)
@given(
    seed=st.integers(0, 2**16),
    n_nodes=st.integers(2, 4),
    window=st.sampled_from([None, 0, 5, 50]),
    jitter=st.sampled_from([(0,), (0, 3, 10)]),
)
def test_same_choices_same_event_log(seed: int, n_nodes: int, window: int | None, jitter: tuple[int, ...]) -> None:
    rng = random.Random(seed)
    recorder = Recorder(RandomChooser(rng, frozenset({"fault"}), 0.2))
    first = chatty_world(seed, n_nodes, window, jitter).run(recorder)
    replayed = chatty_world(seed, n_nodes, window, jitter).run(Replay(recorder.choices))
    assert replayed.trace == first.trace
    assert replayed.history.to_json() == first.history.to_json()
    assert first.steps > 0


def test_replay_is_stable_across_many_fault_heavy_runs() -> None:
    for seed in range(20):
        recorder = Recorder(RandomChooser(random.Random(seed), frozenset({"fault"}), 0.5))
        a = chatty_world(seed, 3, None, (0, 3)).run(recorder)
        b = chatty_world(seed, 3, None, (0, 3)).run(Replay(recorder.choices))
        assert a.trace == b.trace
        assert a.faults > 0


# ---------------------------------------------------------------------------
# Exhaustive search: counts checked against a hand computation


class Sender(Node):
    def __init__(self, messages: tuple[str, ...]) -> None:
        self.messages = messages

    def on_start(self) -> None:
        for m in self.messages:
            self.send("c", m)

    def fingerprint(self) -> str:
        return "sender"


class Sink(Node):
    def __init__(self, ordered: bool) -> None:
        self.ordered = ordered
        self.got: list[str] = []

    def on_message(self, src: str, msg: Any) -> None:
        self.got.append(msg)

    def fingerprint(self) -> str:
        return repr(self.got if self.ordered else sorted(self.got))


def three_message_world(ordered: bool) -> World:
    # a sends x1, x2 and b sends y to c; all three are due at t=1.
    config = WorldConfig(nodes=("a", "b", "c"), max_options=10)
    senders = {"a": ("x1", "x2"), "b": ("y",)}
    return World(config, lambda nid: Sender(senders[nid]) if nid in senders else Sink(ordered))


def _every_order(world: Any) -> tuple[int, int, bool]:
    """Every delivery order of a world (the kernel's prefix DFS): (runs, distinct states, complete)."""
    from racekit.choice import Knobs, drive, make
    from racekit.choice import Result as Res

    states: set[Any] = set()

    def run(trial: Any) -> Res:
        r = world(None).run(trial.chooser, lambda w, final: states.add(w.fingerprint()))
        return Res(r.failed, steps=r.steps)

    rep = drive(make("dfs", Knobs(unit="deviations")), run, 1000)
    return rep.runs, len(states), rep.coverage.exhaustive


def test_exhaustive_counts_match_hand_computation_ordered_sink() -> None:
    # 3! = 6 delivery orders.  States: the initial one, then every ordered
    # prefix of deliveries: 3 + 3*2 + 3*2*1 = 15 more -> 16.
    assert _every_order(lambda s: three_message_world(True)) == (6, 16, True)


def test_exhaustive_counts_match_hand_computation_unordered_sink() -> None:
    # The sink keeps a multiset, so a state is the *set* delivered: 2^3 = 8 states,
    # still 6 runs.
    assert _every_order(lambda s: three_message_world(False)) == (6, 8, True)


def test_exhaustive_respects_max_options() -> None:
    config = WorldConfig(nodes=("a", "b", "c"), max_options=2)
    senders = {"a": ("x1", "x2"), "b": ("y",)}
    world = lambda s: World(config, lambda nid: Sender(senders[nid]) if nid in senders else Sink(True))  # noqa: E731
    # two options at the first step, two at the second, one at the last
    assert _every_order(world)[0] == 4


# ---------------------------------------------------------------------------
# Disk


class Scripted:
    """A chooser that answers from a dict of kind -> queue of answers, else 0."""

    def __init__(self, **answers: list[int]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.asked: list[tuple[str, list[Any]]] = []

    def choose(self, options: Any, kind: str) -> int:
        self.asked.append((kind, list(options)))
        queue = self.answers.get(kind)
        return queue.pop(0) if queue else 0


class DiskUser(Node):
    def on_start(self) -> None:
        self.note("boot", synced=self.disk.read("synced"), unsynced=self.disk.read("unsynced"), log=self.disk.log())
        if self.ctx.incarnation == 1:
            self.disk.write("synced", 1)
            self.disk.append("a")
            self.disk.fsync()
            self.disk.write("unsynced", 2)
            self.disk.append("b")
            assert self.disk.read("unsynced") == 2  # the page cache serves reads


def crash_world(torn: bool) -> World:
    config = WorldConfig(nodes=("n",), faults=FaultBudget(crash=1), crash_downtime=(10,), torn_writes=torn, horizon=100)
    return World(config, lambda nid: DiskUser())


def test_crash_loses_unsynced_disk_writes() -> None:
    world = crash_world(torn=False)
    world.run(Scripted(fault=[1]))  # crash n at the first offer
    boots = world.notes_of("boot")
    assert [b.data for b in boots] == [
        {"synced": None, "unsynced": None, "log": []},
        {"synced": 1, "unsynced": None, "log": ["a"]},
    ]
    assert any(e["what"] == "crash" and "lost 2" in e["detail"] for e in world.trace)


def test_torn_crash_keeps_a_chosen_prefix_of_unsynced_writes() -> None:
    world = crash_world(torn=True)
    world.run(Scripted(fault=[1], torn=[1]))  # keep the first unsynced write only
    assert world.notes_of("boot")[1].data == {"synced": 1, "unsynced": 2, "log": ["a"]}


# ---------------------------------------------------------------------------
# Partitions


class Broadcaster(Node):
    def on_start(self) -> None:
        self.set_timer("go", 10)

    def on_timer(self, name: str) -> None:
        for peer in self.ctx.peers:
            self.send(peer, self.id)

    def on_message(self, src: str, msg: Any) -> None:
        self.note("got", src=src)


def partition_world() -> World:
    config = WorldConfig(nodes=("a", "b", "c"), faults=FaultBudget(partition=1), partition_duration=(1000,), horizon=100)
    return World(config, lambda nid: Broadcaster())


def received(world: World) -> set[tuple[str, str]]:
    return {(n.data["src"], n.node) for n in world.notes_of("got")}


ALL_LINKS = {(a, b) for a in "abc" for b in "abc" if a != b}


def partition_option(world: World, label: tuple[str, ...]) -> int:
    return world.fault_options().index(label) + 1


def test_isolation_blocks_both_directions_of_one_node_only() -> None:
    world = partition_world()
    world.start()
    index = partition_option(world, ("isolate", "a"))
    world2 = partition_world()
    world2.run(Scripted(fault=[index]))
    assert received(world2) == ALL_LINKS - {("a", "b"), ("a", "c"), ("b", "a"), ("c", "a")}


def test_one_way_partition_blocks_exactly_one_direction() -> None:
    world = partition_world()
    world.start()
    index = partition_option(world, ("cut", "a", "b"))
    world2 = partition_world()
    world2.run(Scripted(fault=[index]))
    assert received(world2) == ALL_LINKS - {("a", "b")}


def test_partition_heals_after_its_duration_and_catches_in_flight_messages() -> None:
    config = WorldConfig(nodes=("a", "b"), faults=FaultBudget(partition=1), partition_duration=(5,), horizon=100, one_way=False)
    world = World(config, lambda nid: Broadcaster())
    # step order: offer fault (none) ... we inject the partition while a's message is in flight
    world.start()
    for event in list(world.candidates()):
        world.fire(event)  # both timers fire at t=10: two messages in flight
    assert len(world.in_flight()) == 2
    world.inject(("isolate", "a"), Scripted())
    while (options := world.candidates()):
        world.fire(options[0])
    assert received(world) == set()  # both cut at delivery time
    assert any(e["what"] == "heal" for e in world.trace)
    assert not world.network.partitioned


# ---------------------------------------------------------------------------
# Clocks


class ClockReader(Node):
    def on_start(self) -> None:
        self.set_timer("read", 100)

    def on_timer(self, name: str) -> None:
        self.note("clock", wall=self.now(), mono=self.monotonic())
        self.set_timer("read", 100)


def clock_world(**kw: Any) -> World:
    config = WorldConfig(nodes=("n",), horizon=450, **kw)
    return World(config, lambda nid: ClockReader())


def test_initial_offset_and_drift_are_visible_through_now() -> None:
    world = clock_world(offsets=(("n", 5000),), initial_drift=(("n", 100_000),))
    world.run(Scripted())
    readings = [(n.t, n.data["wall"], n.data["mono"]) for n in world.notes_of("clock")]
    # 10% fast: a 100 ms local timer fires every 91 true ms (ceil(100/1.1)); walls are offset by 5 s
    assert [t for t, _, _ in readings] == [91, 182, 273, 364]
    assert all(wall == mono + 5000 for _, wall, mono in readings)
    assert [mono for _, _, mono in readings] == [100, 200, 300, 400]


def test_backward_jump_moves_now_back_but_not_monotonic() -> None:
    world = clock_world(faults=FaultBudget(skew=1), skew_jumps=(-1000, 1000))
    world.start()
    world.fire(world.candidates()[0])  # first read at t=100
    world.inject(("skew", "n"), Scripted(skew=[0]))  # jump -1000
    world.fire(world.candidates()[0])  # second read at t=200
    first, second = world.notes_of("clock")
    assert (first.data["wall"], second.data["wall"]) == (100, -800)
    assert second.data["mono"] > first.data["mono"]


def test_node_clock_is_continuous_across_drift_changes() -> None:
    clock = NodeClock()
    clock.set_drift(1000, 500_000)  # 50% fast from t=1000
    assert clock.monotonic(1000) == 1000 and clock.monotonic(1100) == 1150
    clock.set_drift(1100, -500_000)
    assert clock.monotonic(1100) == 1150 and clock.monotonic(1300) == 1250
    assert clock.true_delay(100) == 200


def test_pause_freezes_a_node_while_its_clock_runs_on() -> None:
    world = clock_world(faults=FaultBudget(pause=1), pause_duration=(250,))
    world.start()
    world.inject(("pause", "n"), Scripted())
    while (options := world.candidates()):
        world.fire(options[0])
    times = [(n.t, n.data["mono"]) for n in world.notes_of("clock")]
    assert times[0] == (250, 250)  # the t=100 timer was held until the pause ended
    assert times[1] == (350, 350)


# ---------------------------------------------------------------------------
# Clients


class Echo(Node):
    def on_request(self, client: str, request: Request) -> None:
        if request.name == "echo":
            self.reply(client, request, request.args[0])
        elif request.name == "refuse":
            self.reply(client, request, "no", ok=False)


def test_client_ops_become_ok_fail_and_info_with_step_positions() -> None:
    config = WorldConfig(nodes=("n",), horizon=1000)
    ops = (ClientOp("n", "echo", (7,)), ClientOp("n", "refuse"), ClientOp("n", "ignored"), ClientOp("n", "echo", (8,), at=500))
    world = World(config, lambda nid: Echo(), [ClientScript("c", ops, timeout=50)])
    history = world.run(Scripted()).history
    assert [(op.name, op.status, op.result) for op in history] == [
        ("echo", "ok", 7),
        ("refuse", "fail", "no"),
        ("ignored", "info", None),
        ("echo", "ok", 8),
    ]
    assert all(a.ret is None or a.ret < b.invoke for a, b in zip(history.operations, history.operations[1:], strict=False))
    assert world.trace[[e["what"] for e in world.trace].index("timeout")]["t"] == 4 + 50  # issued at t=4 (two 2 ms round trips)
