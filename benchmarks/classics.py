"""Classic concurrency bugs (after SCTBench and the CHESS papers), each with a correct twin.

Our own small versions, in plain ``threading`` so that racekit and other
tools (frontrun) run exactly the same code: ``setup()`` builds the state,
``workers`` are functions of the state (one per thread), ``invariant(state)``
is True when the end state is right.  A failure is the invariant failing,
a thread raising, or a deadlock (``kind``).  Used by
``tests/test_classics.py`` (racekit finds every bug, no false alarm on a
twin) and ``benchmarks/peers.py`` (schedules to the first failure, beside
frontrun's DPOR).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Worker = Callable[[Any], Any]


@dataclass(frozen=True)
class Classic:
    name: str
    setup: Callable[[], Any]
    workers: list[Worker]
    invariant: Callable[[Any], bool] = lambda s: True
    kind: Literal["assertion", "deadlock", "exception"] = "assertion"
    buggy: bool = True
    about: str = ""
    tags: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------- reorder_N
class Reorder:
    """Setters write a then b; the checker must see both or neither (reorder_N)."""

    def __init__(self) -> None:
        self.a = 0
        self.b = 0
        self.seen_torn = False
        self.lock = threading.Lock()


def reorder_setter(s: Reorder) -> None:
    s.a = 1
    s.b = -1


def reorder_checker(s: Reorder) -> None:
    a = s.a
    b = s.b
    if not ((a == 0 and b == 0) or (a == 1 and b == -1)):
        s.seen_torn = True


def reorder_setter_locked(s: Reorder) -> None:
    with s.lock:
        s.a = 1
        s.b = -1


def reorder_checker_locked(s: Reorder) -> None:
    with s.lock:
        a = s.a
        b = s.b
    if not ((a == 0 and b == 0) or (a == 1 and b == -1)):
        s.seen_torn = True


# ----------------------------------------------------------------- twostage
class TwoStage:
    """data2 = data1 + 1, each stage under its own lock; the reader holds both."""

    def __init__(self) -> None:
        self.l1 = threading.Lock()
        self.l2 = threading.Lock()
        self.data1 = 0
        self.data2 = 0
        self.bad = False


def twostage_writer(s: TwoStage) -> None:
    with s.l1:
        s.data1 = 1
    with s.l2:  # the first lock is already gone: a reader sees stage one only
        s.data2 = s.data1 + 1


def twostage_writer_fixed(s: TwoStage) -> None:
    with s.l1:
        s.data1 = 1
        with s.l2:
            s.data2 = s.data1 + 1


def twostage_reader(s: TwoStage) -> None:
    with s.l1:
        if s.data1 == 1:
            with s.l2:
                if s.data2 != s.data1 + 1:
                    s.bad = True


# ---------------------------------------------------------------- wronglock
class WrongLock:
    def __init__(self) -> None:
        self.lock_a = threading.Lock()
        self.lock_b = threading.Lock()
        self.n = 0


def wronglock_a(s: WrongLock) -> None:
    with s.lock_a:
        s.n = s.n + 1


def wronglock_b(s: WrongLock) -> None:
    with s.lock_b:  # a different lock guards the same counter
        s.n = s.n + 1


# ---------------------------------------------------------- unlocked deposit
class Account:
    def __init__(self) -> None:
        self.balance = 0
        self.lock = threading.Lock()


def deposit(s: Account) -> None:
    s.balance = s.balance + 10


def deposit_locked(s: Account) -> None:
    with s.lock:
        s.balance = s.balance + 10


# ---------------------------------------------------------------- lazy init
class Expensive:
    created = 0


class Lazy:
    def __init__(self) -> None:
        self.obj: Any = None
        self.created = 0
        self.lock = threading.Lock()
        self.got: list[Any] = []


def lazy_get(s: Lazy) -> None:
    if s.obj is None:
        s.created = s.created + 1
        s.obj = object()
    s.got.append(s.obj)


def lazy_get_locked(s: Lazy) -> None:
    if s.obj is None:
        with s.lock:
            if s.obj is None:  # double-checked under the lock
                s.created = s.created + 1
                s.obj = object()
    s.got.append(s.obj)


# --------------------------------------------------------- lazy publication
class Box:
    def __init__(self) -> None:
        self.value = 0


class Publication:
    def __init__(self) -> None:
        self.box: Box | None = None
        self.read: list[int] = []


def publish_early(s: Publication) -> None:
    box = Box()
    s.box = box  # published before it is filled in
    box.value = 42


def publish_late(s: Publication) -> None:
    box = Box()
    box.value = 42
    s.box = box


def consume(s: Publication) -> None:
    box = s.box
    if box is not None:
        s.read.append(box.value)


# ------------------------------------------------------ Carter's lock order
class Carter:
    """Two locks taken in opposite orders on one path only (Carter01)."""

    def __init__(self) -> None:
        self.m = threading.Lock()
        self.l = threading.Lock()  # noqa: E741
        self.flag = 1


def carter_one(s: Carter) -> None:
    with s.m, s.l:
        s.flag = 0


def carter_two(s: Carter) -> None:
    with s.l:
        if s.flag:
            with s.m:
                s.flag = 2


def carter_two_fixed(s: Carter) -> None:
    with s.m, s.l:  # the same order as carter_one
        if s.flag:
            s.flag = 2


# --------------------------------------------------------------- token ring
class Ring:
    """Three stations; each passes the token on: slot[i] = slot[i - 1] + 1."""

    def __init__(self) -> None:
        self.slots = [0, 0, 0]
        self.ready = [threading.Event() for _ in range(3)]
        self.ready[0].set()


def station(i: int, wait: bool) -> Worker:
    def run(s: Ring) -> None:
        if wait and i:
            s.ready[i].wait()
        s.slots[i] = (s.slots[i - 1] if i else 0) + 1
        if i + 1 < len(s.ready):
            s.ready[i + 1].set()

    return run


# ---------------------------------------------------------- circular buffer
class Circular:
    def __init__(self) -> None:
        self.buf: list[Any] = [None, None]
        self.count = 0
        self.head = 0
        self.lock = threading.Lock()
        self.got: list[Any] = []


def produce_count_first(s: Circular) -> None:
    slot = (s.head + s.count) % len(s.buf)
    s.count = s.count + 1  # counted before the item is stored
    s.buf[slot] = "item"


def produce_locked(s: Circular) -> None:
    with s.lock:
        slot = (s.head + s.count) % len(s.buf)
        s.buf[slot] = "item"
        s.count = s.count + 1


def consume_unlocked(s: Circular) -> None:
    if s.count > 0:
        s.got.append(s.buf[s.head])


def consume_locked(s: Circular) -> None:
    with s.lock:
        if s.count > 0:
            s.got.append(s.buf[s.head])


# ------------------------------------------------------- ABA on a CAS stack
class Node:
    def __init__(self, name: str, nxt: Node | None) -> None:
        self.name = name
        self.next = nxt


class Ref:
    """A compare-and-set cell (a lock makes the CAS itself atomic)."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.lock = threading.Lock()

    def get(self) -> Any:
        with self.lock:
            return self.value

    def cas(self, expected: Any, new: Any) -> bool:
        with self.lock:
            if self.value is expected or self.value == expected:
                self.value = new
                return True
            return False


class Stack:
    def __init__(self, tagged: bool) -> None:
        c = Node("C", None)
        b = Node("B", c)
        a = Node("A", b)
        self.tagged = tagged
        self.top = Ref((a, 0) if tagged else a)
        self.popped: list[str] = []

    def pop(self) -> Node | None:
        for _ in range(2):  # a bounded retry keeps the schedule space finite
            top = self.top.get()
            node = top[0] if self.tagged else top
            if node is None:
                return None
            new = (node.next, top[1] + 1) if self.tagged else node.next
            if self.top.cas(top, new):
                return node
        return None

    def push(self, node: Node) -> bool:
        for _ in range(2):
            top = self.top.get()
            node.next = top[0] if self.tagged else top
            if self.top.cas(top, (node, top[1] + 1) if self.tagged else node):
                return True
        return False


def aba_popper(s: Stack) -> None:
    node = s.pop()
    if node is not None:
        s.popped.append(node.name)


def aba_recycler(s: Stack) -> None:
    a = s.pop()
    b = s.pop()
    if b is not None:
        s.popped.append(b.name)
    if a is not None and not s.push(a):  # A comes back: a stale CAS on A now succeeds
        s.popped.append(a.name)


def aba_intact(s: Stack) -> bool:
    top = s.top.get()
    node = top[0] if s.tagged else top
    on_stack = []
    while node is not None and len(on_stack) < 5:
        on_stack.append(node.name)
        node = node.next
    return not set(on_stack) & set(s.popped) and len(set(on_stack)) == len(on_stack)


# ------------------------------------------------------------- lost wakeup
class Waiters:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.items: list[int] = []


def take_if(s: Waiters) -> None:
    with s.cond:
        if not s.items:  # `if`, not `while`: another taker may have been first
            s.cond.wait()
        s.items.pop()


def take_while(s: Waiters) -> None:
    with s.cond:
        while not s.items:
            s.cond.wait()
        s.items.pop()


def give(s: Waiters) -> None:
    with s.cond:
        s.items.append(1)
        s.cond.notify()


# ---------------------------------------------------- dict get-or-create
class Registry:
    def __init__(self) -> None:
        self.d: dict[str, object] = {}
        self.got: list[object] = []
        self.lock = threading.Lock()


def get_or_create(s: Registry) -> None:
    if "k" not in s.d:
        s.d["k"] = object()
    s.got.append(s.d["k"])


def get_or_create_locked(s: Registry) -> None:
    with s.lock:
        if "k" not in s.d:
            s.d["k"] = object()
        s.got.append(s.d["k"])


def one_object(s: Any) -> bool:
    return len({id(x) for x in s.got}) == 1


# ------------------------------------------------------------------ catalogue
def _pair(name: str, about: str, bug: Classic, twin: Classic) -> list[Classic]:
    return [
        Classic(name, bug.setup, bug.workers, bug.invariant, bug.kind, True, about),
        Classic(f"{name}/twin", twin.setup, twin.workers, twin.invariant, twin.kind, False, about),
    ]


def _reorder(n: int) -> list[Classic]:
    ok = lambda s: not s.seen_torn  # noqa: E731
    return _pair(
        f"reorder_{n + 1}", f"{n} setters and a checker: the checker sees a torn update",
        Classic("", Reorder, [reorder_setter] * n + [reorder_checker], ok),
        Classic("", Reorder, [reorder_setter_locked] * n + [reorder_checker_locked], ok),
    )


PROGRAMS: list[Classic] = [
    *_reorder(2),
    *_reorder(4),
    *_pair("twostage", "stage two runs after the first lock was released",
           Classic("", TwoStage, [twostage_writer, twostage_reader], lambda s: not s.bad),
           Classic("", TwoStage, [twostage_writer_fixed, twostage_reader], lambda s: not s.bad)),
    *_pair("wronglock", "two locks guard one counter",
           Classic("", WrongLock, [wronglock_a, wronglock_b], lambda s: s.n == 2),
           Classic("", WrongLock, [wronglock_a, wronglock_a], lambda s: s.n == 2)),
    *_pair("deposit", "unlocked deposits lose money",
           Classic("", Account, [deposit, deposit], lambda s: s.balance == 20),
           Classic("", Account, [deposit_locked, deposit_locked], lambda s: s.balance == 20)),
    *_pair("lazy_init", "two threads both create the singleton",
           Classic("", Lazy, [lazy_get, lazy_get], lambda s: s.created == 1 and one_object(s)),
           Classic("", Lazy, [lazy_get_locked, lazy_get_locked], lambda s: s.created == 1 and one_object(s))),
    *_pair("lazy_publication", "an object published before it is initialized",
           Classic("", Publication, [publish_early, consume], lambda s: all(v == 42 for v in s.read)),
           Classic("", Publication, [publish_late, consume], lambda s: all(v == 42 for v in s.read))),
    *_pair("carter", "locks taken in opposite orders on one path (Carter01)",
           Classic("", Carter, [carter_one, carter_two], kind="deadlock"),
           Classic("", Carter, [carter_one, carter_two_fixed], kind="deadlock")),
    *_pair("token_ring", "stations pass the token without waiting for it",
           Classic("", Ring, [station(i, False) for i in range(3)], lambda s: s.slots == [1, 2, 3]),
           Classic("", Ring, [station(i, True) for i in range(3)], lambda s: s.slots == [1, 2, 3])),
    *_pair("circular_buffer", "the count goes up before the item is stored",
           Classic("", Circular, [produce_count_first, consume_unlocked], lambda s: None not in s.got),
           Classic("", Circular, [produce_locked, consume_locked], lambda s: None not in s.got)),
    *_pair("aba_stack", "a CAS on a recycled top node resurrects a popped one",
           Classic("", lambda: Stack(False), [aba_popper, aba_recycler], aba_intact),
           Classic("", lambda: Stack(True), [aba_popper, aba_recycler], aba_intact)),
    *_pair("lost_wakeup", "`if` around Condition.wait: a woken taker finds nothing",
           Classic("", Waiters, [take_if, take_if, give, give], kind="exception"),
           Classic("", Waiters, [take_while, take_while, give, give], kind="exception")),
    *_pair("get_or_create", "check-then-insert on a dict: two objects for one key",
           Classic("", Registry, [get_or_create, get_or_create], one_object),
           Classic("", Registry, [get_or_create_locked, get_or_create_locked], one_object)),
]


def racekit_explore(program: Classic, **kwargs: Any) -> Any:
    """Run one program under ``racekit.explore`` (default: the default strategy)."""
    import racekit

    def threads(state: Any) -> list[Callable[[], Any]]:
        return [(lambda w=w: w(state)) for w in program.workers]

    def check(state: Any) -> None:
        assert program.invariant(state), f"{program.name}: invariant violated"

    return racekit.explore(program.setup, threads, check, **kwargs)
