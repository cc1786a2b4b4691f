"""Sequential specs of common objects, for the checker and the catalogue.

Each model keeps its state hashable and small (``None``/ints/strings/tuples/
frozensets) because the checker memoizes on ``(linearized set, state)``.
The pure step functions carry PEP 316 contracts (``pre:``/``post:`` in the
docstring) so that ``crosshair check --analysis_kind=PEP316 racekit.models``
can look for inputs that break them.

Models and their origin:

* :class:`RegisterSpec` - read/write/cas with Porcupine's "etcd" semantics
  (a failed compare is a result, ``cas`` returns ``True``/``False``).
* :class:`CasRegisterSpec` - Knossos's ``cas-register``: a ``nil`` read
  matches any state, a ``cas`` whose compare fails is not an outcome at all.
* :class:`MultiRegisterSpec` - Knossos's ``multi-register`` (``txn``).
* :class:`MutexSpec` - Knossos's ``mutex`` (no owner tracking).
* :class:`KVSpec` - Porcupine's ``kv``: get/put/append, partitioned by key.
* :class:`CounterSpec`, :class:`QueueSpec`, :class:`BlockingQueueSpec`,
  :class:`SetSpec`, :class:`MapSpec` - general-purpose objects.
* :class:`CircuitBreakerSpec` - a circuit breaker (closed / open /
  half-open) with the clock as an object in the history (``tick``); the
  catalogue's ``circuit_breaker`` is checked against it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from racekit.errors import InvalidDefinition
from racekit.history import Operation
from racekit.spec import BLOCKED, UNKNOWN, Spec

# ---------------------------------------------------------------------------
# Pure step functions (the part CrossHair checks)
# ---------------------------------------------------------------------------


def cas_step(value: int | None, expected: int | None, new: int | None) -> tuple[int | None, bool]:
    """Compare-and-set: store ``new`` iff the register holds ``expected``.

    post: __return__[1] == (value == expected)
    post: __return__[0] == (new if __return__[1] else value)
    """
    if value == expected:
        return new, True
    return value, False


def counter_add(value: int, n: int) -> int:
    """The counter after adding ``n``.

    post: __return__ - value == n
    """
    return value + n


def queue_enqueue(items: tuple[int, ...], item: int) -> tuple[int, ...]:
    """FIFO enqueue at the tail.

    post: len(__return__) == len(items) + 1
    post: __return__[-1] == item
    post: __return__[:-1] == items
    """
    return (*items, item)


def queue_dequeue(items: tuple[int, ...]) -> tuple[tuple[int, ...], int | None]:
    """FIFO dequeue from the head; ``None`` when empty (the queue is unchanged).

    post: (not items) == (__return__[1] is None and __return__[0] == items)
    post: (not items) or (__return__[1] == items[0] and __return__[0] == items[1:])
    """
    if not items:
        return items, None
    return items[1:], items[0]


def kv_append(value: str, suffix: str) -> str:
    """Porcupine kv ``append``: string concatenation.

    post: __return__.startswith(value)
    post: len(__return__) == len(value) + len(suffix)
    """
    return value + suffix


def mutex_step(locked: bool, name: str) -> bool | None:
    """The mutex after ``acquire``/``release``; ``None`` when not enabled.

    pre: name in ("acquire", "release")
    post: (__return__ is None) == (locked == (name == "acquire"))
    post: __return__ is None or __return__ == (name == "acquire")
    """
    if name == "acquire":
        return None if locked else True
    return False if locked else None


def _unknown(spec: Spec, name: str) -> InvalidDefinition:
    return InvalidDefinition(
        f"the {spec.name} model has no operation {name!r}; check the history's "
        f"operation names or choose another model"
    )


# ---------------------------------------------------------------------------
# Registers
# ---------------------------------------------------------------------------


class RegisterSpec(Spec):
    """One register: ``read() -> value``, ``write(v)``, ``cas(a, b) -> bool``.

    Porcupine's "etcd" model: ``None`` is "no value" and a read of ``None``
    is legal only while the register holds none; a ``cas`` whose compare
    fails is a definite outcome (``False``) that leaves the state alone.
    """

    name: ClassVar[str] = "register"
    fail_is_result: ClassVar[bool] = True

    def __init__(self, initial: Hashable = None) -> None:
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "read":
            return state, state
        if name == "write":
            return args[0], None
        if name == "cas":
            return cas_step(state, args[0], args[1])
        raise _unknown(self, name)

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        if name == "read":
            return True
        return name == "cas" and (args[0] == args[1] or result is False)

    def droppable_info(self, ops: Sequence[Operation]) -> set[int]:
        """Crashed writes/cas whose stored value nobody observes.

        Let ``w`` store ``v`` (``write(v)``, or ``cas(a, v)`` that applies).
        Take a linearization that uses ``w`` and delete ``w``: between ``w``
        and the next op that changes the state, the state becomes the value
        ``u`` from before ``w`` instead of ``v``.  The ops that can sit in
        that gap are: reads (each returned ``v``, or matches anything), ok
        cas (their compare saw ``v``), crashed cas that did nothing on ``v``
        (drop them too: optional no-ops), definitely failed ``cas(a, _)``
        (they saw "not ``a``", and ``u`` might be ``a``), and writes (the gap
        ends).  So ``w`` may go if no read returned ``v``, no cas compares
        with ``v``, and no failed cas that can come after ``w`` compares
        with a value the register can hold (the initial value or one some op
        stores: ``u`` is one of those).  Removing other ops only removes
        observers and storable values, so this holds to a fixpoint.
        """
        observed: set[Any] = set()
        storable: set[Any] = {self.initial}
        failed_cas: list[Operation] = []
        for op in ops:
            if op.name == "read" and op.status != "info":
                observed.add(op.result)
            elif op.name == "write":
                storable.add(op.args[0])
            elif op.name == "cas":
                observed.add(op.args[0])
                storable.add(op.args[1])
                if op.status != "info" and op.result is False:
                    failed_cas.append(op)
        last_failed = max(
            (float("inf") if c.ret is None else c.ret for c in failed_cas if c.args[0] in storable),
            default=float("-inf"),
        )
        drop: set[int] = set()
        for op in ops:
            if op.status != "info" or op.name not in ("write", "cas"):
                continue
            stored = op.args[-1]
            if stored in observed or (op.name == "cas" and op.args[0] == stored):
                continue
            if last_failed >= op.invoke:
                continue
            drop.add(op.id)
        return drop


class CasRegisterSpec(RegisterSpec):
    """Knossos's ``cas-register``: ``read``, ``write(v)``, ``cas(a, b)``.

    A read that returned ``None`` matches any state (Jepsen records reads
    whose value is unknown as nil).  A ``cas`` applies only when the compare
    holds, returning ``True``: Jepsen records a failed compare as ``:fail``,
    which means "did not happen", so here the failing case is BLOCKED rather
    than a result.
    """

    name: ClassVar[str] = "cas-register"
    fail_is_result: ClassVar[bool] = False

    def __init__(self, initial: Hashable = 0) -> None:
        super().__init__(initial)

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "cas":
            new_state, ok = cas_step(state, args[0], args[1])
            return (new_state, True) if ok else BLOCKED
        return super().step(state, name, args)

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        if name == "read" and observed is None:
            return True
        return bool(expected == observed)


class MultiRegisterSpec(Spec):
    """Knossos's ``multi-register``: ``txn(((f, key, value), ...))``.

    Micro-ops apply in order as one atomic step: ``("write", k, v)`` sets
    ``k``; ``("read", k, v)`` reads ``k`` (absent keys read ``None``).  The
    step's result is the transaction with the read values filled in; an
    observed read value of ``None`` matches anything, like Knossos.
    """

    name: ClassVar[str] = "multi-register"

    def __init__(self, initial: Mapping[Hashable, Any] | None = None) -> None:
        self.initial: frozenset[tuple[Hashable, Any]] = frozenset((initial or {}).items())

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name != "txn":
            raise _unknown(self, name)
        values = dict(state)
        filled = []
        for micro in args[0]:
            f, key, value = micro
            if _kw(f) == "read":
                filled.append((f, key, values.get(key)))
            elif _kw(f) == "write":
                values[key] = value
                filled.append((f, key, value))
            else:
                raise _unknown(self, f"txn micro-op {f!r}")
        return frozenset(values.items()), tuple(filled)

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        if observed is None or len(expected) != len(observed):
            return observed is None
        for (f, key, value), (g, okey, ovalue) in zip(expected, observed, strict=True):
            if f != g or key != okey:
                return False
            if _kw(f) == "read" and ovalue is None:
                continue
            if value != ovalue:
                return False
        return True

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        return name == "txn" and all(_kw(m[0]) == "read" for m in args[0])

    def describe_state(self, state: Hashable) -> str:
        assert isinstance(state, frozenset)
        return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(state, key=repr)) + "}"


def _kw(value: Any) -> str:
    """The name of a keyword or string (EDN keywords print as ``:read``)."""
    name = getattr(value, "name", value)
    return str(name)


class MutexSpec(Spec):
    """Knossos's ``mutex``: ``acquire``/``release``, no owner tracking.

    Acquiring a held mutex and releasing a free one are not enabled.
    """

    name: ClassVar[str] = "mutex"

    def init(self) -> Hashable:
        return False

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name not in ("acquire", "release"):
            raise _unknown(self, name)
        new = mutex_step(bool(state), name)
        return BLOCKED if new is None else (new, None)

    def describe_state(self, state: Hashable) -> str:
        return "held" if state else "free"


# ---------------------------------------------------------------------------
# Key-value stores
# ---------------------------------------------------------------------------


class KVSpec(Spec):
    """Porcupine's ``kv``: ``get(k) -> str``, ``put(k, v)``, ``append(k, v)``.

    Partitioned by key (P-compositionality), so the state is one key's
    string, initially ``""``.
    """

    name: ClassVar[str] = "kv"

    def init(self) -> Hashable:
        return ""

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "get":
            return state, state
        if name == "put":
            return args[1], None
        if name == "append":
            return kv_append(state, args[1]), None
        raise _unknown(self, name)

    def partition_key(self, name: str, args: tuple[Any, ...]) -> Hashable | None:
        key: Hashable = args[0]
        return key

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        return name == "get"


class MapSpec(Spec):
    """A whole map: ``put(k, v)``, ``get(k) -> v | None``, ``remove(k)``, ``size()``.

    Not partitioned, because ``size`` sees every key.  The state is a
    frozenset of ``(key, value)`` pairs.
    """

    name: ClassVar[str] = "map"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        items = dict(state)
        if name == "get":
            return state, items.get(args[0])
        if name == "size":
            return state, len(items)
        if name == "put":
            items[args[0]] = args[1]
            return frozenset(items.items()), None
        if name == "remove":
            items.pop(args[0], None)
            return frozenset(items.items()), None
        raise _unknown(self, name)

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        return name in ("get", "size")

    def describe_state(self, state: Hashable) -> str:
        assert isinstance(state, frozenset)
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in sorted(state, key=repr)) + "}"


# ---------------------------------------------------------------------------
# Counters, queues, sets
# ---------------------------------------------------------------------------


class CounterSpec(Spec):
    """``inc()``, ``add(n)``, ``get() -> int``, ``inc_get() -> new value``.

    ``read`` is another name for ``get`` (Jepsen's counter workload).
    """

    name: ClassVar[str] = "counter"

    def __init__(self, initial: int = 0) -> None:
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name in ("get", "read"):
            return state, state
        if name == "inc":
            return counter_add(state, 1), None
        if name == "add":
            return counter_add(state, args[0]), None
        if name == "inc_get":
            new = counter_add(state, 1)
            return new, new
        raise _unknown(self, name)

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        return name in ("get", "read") or (name == "add" and args[0] == 0)


class QueueSpec(Spec):
    """FIFO queue: ``enqueue(x)``, ``dequeue() -> x | None`` (``None`` when empty)."""

    name: ClassVar[str] = "queue"

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "enqueue":
            return queue_enqueue(state, args[0]), None
        if name == "dequeue":
            return queue_dequeue(state)
        raise _unknown(self, name)


class BlockingQueueSpec(Spec):
    """FIFO queue whose ``take()`` waits: on an empty queue it is BLOCKED."""

    name: ClassVar[str] = "blocking-queue"

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "put":
            return queue_enqueue(state, args[0]), None
        if name == "take":
            return BLOCKED if not state else queue_dequeue(state)
        raise _unknown(self, name)


class SetSpec(Spec):
    """A set: ``add(x)``, ``remove(x)``, ``contains(x) -> bool``, ``read() -> frozenset``."""

    name: ClassVar[str] = "set"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        if name == "add":
            return state | {args[0]}, None
        if name == "remove":
            return state - {args[0]}, None
        if name == "contains":
            return state, args[0] in state
        if name == "read":
            return state, state
        raise _unknown(self, name)

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        if name == "read" and isinstance(observed, list | tuple | set):
            return bool(expected == frozenset(observed))
        return bool(expected == observed)

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        return name in ("contains", "read")

    def describe_state(self, state: Hashable) -> str:
        assert isinstance(state, frozenset)
        return "{" + ", ".join(sorted(repr(x) for x in state)) + "}"


# ---------------------------------------------------------------------------
# Circuit breaker
# ---------------------------------------------------------------------------


class Breaker(NamedTuple):
    """A circuit breaker's whole state (hashable: the checker memoizes on it).

    ``epoch`` counts mode changes; every permit carries the epoch it was
    issued in, so the result of a call admitted before a mode change is
    recognisably stale and changes nothing.  ``now`` is the last ``tick``.
    """

    mode: str = "closed"  # closed | open | half_open
    failures: int = 0  # consecutive failed calls while closed
    opened_at: int = 0  # ms: when it last opened
    probes: int = 0  # half-open: probe permits out
    epoch: int = 0
    now: int = 0


def breaker_acquire(b: Breaker, cooldown: int, probes: int) -> tuple[Breaker, tuple[str, int] | str]:
    """``acquire()``: a permit ``(kind, epoch)`` or ``"rejected"``.

    Open and cooled down (``now - opened_at >= cooldown``) turns half-open
    first; half-open hands out at most ``probes`` probe permits.

    pre: cooldown >= 0 and probes >= 1
    post: __return__[1] == "rejected" or __return__[1][1] == __return__[0].epoch
    post: __return__[0].probes <= max(probes, b.probes)
    post: (__return__[1] == "rejected") == (__return__[0] == b and b.mode != "closed")
    """
    if b.mode == "open" and b.now - b.opened_at >= cooldown:
        b = b._replace(mode="half_open", probes=0, epoch=b.epoch + 1)
    if b.mode == "closed":
        return b, ("closed", b.epoch)
    if b.mode == "half_open" and b.probes < probes:
        b = b._replace(probes=b.probes + 1)
        return b, ("probe", b.epoch)
    return b, "rejected"


def breaker_release(b: Breaker, kind: str, epoch: int, ok: bool, threshold: int) -> Breaker | None:
    """``release((kind, epoch, ok))``: the outcome of an admitted call; None when no
    such permit can be out (a permit of this epoch that the mode never issues).

    pre: threshold >= 1
    post: __return__ is None or epoch != b.epoch or __return__.epoch >= b.epoch
    post: epoch != b.epoch or __return__ is None or b.mode != "half_open" or __return__.mode == ("closed" if ok else "open")
    """
    if epoch != b.epoch:
        return b  # admitted before the last mode change: stale, ignored
    if b.mode == "closed" and kind == "closed":
        if ok:
            return b._replace(failures=0)
        if b.failures + 1 >= threshold:
            return b._replace(mode="open", failures=0, opened_at=b.now, epoch=b.epoch + 1)
        return b._replace(failures=b.failures + 1)
    if b.mode == "half_open" and kind == "probe" and b.probes > 0:
        if ok:
            return b._replace(mode="closed", failures=0, probes=0, epoch=b.epoch + 1)
        return b._replace(mode="open", probes=0, opened_at=b.now, epoch=b.epoch + 1)
    return None


class CircuitBreakerSpec(Spec):
    """A circuit breaker: ``acquire() -> permit | "rejected"``, ``release((kind, epoch, ok))``, ``tick(ms)``.

    Closed admits every call (``("closed", epoch)``) and opens after
    ``threshold`` consecutive failures; open rejects until ``cooldown`` ms
    have passed since it opened, then the next ``acquire`` turns it
    half-open; half-open admits at most ``probes`` calls at once
    (``("probe", epoch)``) - the first probe to succeed closes it, the first
    to fail reopens it.  Results of permits from an earlier epoch (admitted
    before a mode change) are ignored.  Any outcome that is not a success
    (an error, a timeout, a cancelled call) is a failure.

    Time is an object in the history: ``tick(t)`` sets the clock (ms, never
    backwards), so the same file checks with ``racekit lincheck --model
    circuit-breaker``.  In Jepsen EDN: ``{:f :tick :value 1200}``,
    ``{:f :acquire}`` completing with ``[:probe 3]`` or ``:rejected``,
    ``{:f :release :value [:probe 3 true]}``.  ``--initial '{:threshold 3
    :cooldown 1000 :probes 1}'`` sets the configuration (those are the
    defaults).
    """

    name: ClassVar[str] = "circuit-breaker"

    def __init__(self, config: Mapping[Any, Any] | None = None) -> None:
        settings = {_kw(k): v for k, v in (config or {}).items()}
        unknown = set(settings) - {"threshold", "cooldown", "probes"}
        if unknown:
            raise InvalidDefinition(f"circuit-breaker: unknown setting(s) {', '.join(sorted(unknown))} "
                                    f"(known: threshold, cooldown, probes)")
        self.threshold = int(settings.get("threshold", 3))
        self.cooldown = int(settings.get("cooldown", 1000))
        self.probes = int(settings.get("probes", 1))
        if self.threshold < 1 or self.cooldown < 0 or self.probes < 1:
            raise InvalidDefinition(f"circuit-breaker: threshold >= 1, cooldown >= 0 and probes >= 1, got "
                                    f"{self.threshold}, {self.cooldown}, {self.probes}")

    def init(self) -> Hashable:
        return Breaker()

    def step(self, state: Any, name: str, args: tuple[Any, ...]) -> Any:
        b: Breaker = state
        if name == "tick":
            (t,) = args
            return BLOCKED if t < b.now else (b._replace(now=t), None)
        if name == "acquire":
            return breaker_acquire(b, self.cooldown, self.probes)
        if name == "release":
            kind, epoch, ok = args[0]
            new = breaker_release(b, _kw(kind), epoch, bool(ok), self.threshold)
            return BLOCKED if new is None else (new, None)
        raise _unknown(self, name)

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        if name == "acquire" and isinstance(observed, tuple | list):
            return isinstance(expected, tuple) and (_kw(observed[0]), observed[1]) == expected
        return bool(expected == (_kw(observed) if name == "acquire" else observed))

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        # a rejection never changes the state: the open -> half-open turn always hands out a probe
        if name != "acquire" or result is UNKNOWN or isinstance(result, tuple | list):
            return False
        return _kw(result) == "rejected"

    def describe_state(self, state: Hashable) -> str:
        assert isinstance(state, Breaker)
        b = state
        detail = {"closed": f"{b.failures} failures in a row", "open": f"since t={b.opened_at}ms",
                  "half_open": f"{b.probes} probe(s) out"}[b.mode]
        return f"{b.mode} ({detail}), epoch {b.epoch}, t={b.now}ms"


MODELS: dict[str, type[Spec]] = {
    cls.name: cls
    for cls in (
        RegisterSpec,
        CasRegisterSpec,
        MultiRegisterSpec,
        MutexSpec,
        KVSpec,
        MapSpec,
        CounterSpec,
        QueueSpec,
        BlockingQueueSpec,
        SetSpec,
        CircuitBreakerSpec,
    )
}
"""Models by name, for the command line."""
