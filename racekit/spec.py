"""Sequential specifications: what a correct object does, one call at a time.

A spec is pure: ``init()`` gives a hashable state; ``step(state, name, args)``
gives ``(new_state, result)``, or an :class:`Outcomes` of allowed pairs for a
nondeterministic spec, or ``BLOCKED`` when the operation cannot take effect in
this state (a ``take`` on an empty blocking queue).  ``step`` must not mutate
``state``.  The linearizability checker and the state machines only use this
contract.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from racekit.history import Operation


class _Blocked:
    _instance: ClassVar[_Blocked | None] = None

    def __new__(cls) -> _Blocked:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "BLOCKED"


BLOCKED: Any = _Blocked()
"""Returned by ``step`` when an operation is not enabled in a state."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Stands for the result of an operation whose outcome is unknown (``info``)."""


@dataclass(frozen=True)
class Outcomes:
    """The allowed ``(new_state, result)`` pairs of a nondeterministic step."""

    pairs: tuple[tuple[Hashable, Any], ...]


class Spec:
    """Base class for sequential specs.  Subclasses override ``init`` and ``step``.

    Optional hooks: ``result_matches`` (custom equality of expected vs observed
    results, e.g. Knossos's "a nil read matches anything"), ``partition``
    (P-compositionality: split a history into independent sub-histories, e.g.
    by key), and ``invariants`` (named checks over the system's observable
    state at quiescent points).
    """

    name: ClassVar[str] = "spec"

    fail_is_result: ClassVar[bool] = False
    """How the checker reads an operation with status ``fail``.

    False (Jepsen/Knossos convention, the default): the operation definitely
    did not take effect, so the checker drops it.  True: ``fail`` is a
    definite result (Porcupine's etcd model reads ``:fail :cas`` as "the CAS
    ran and its compare failed"), so the operation is checked like an ``ok``
    one with its recorded ``result``.  ``linearizability.check`` can override
    this per call.
    """

    def init(self) -> Hashable:
        raise NotImplementedError

    def step(self, state: Hashable, name: str, args: tuple[Any, ...]) -> Any:
        raise NotImplementedError

    def result_matches(self, name: str, args: tuple[Any, ...], expected: Any, observed: Any) -> bool:
        return bool(expected == observed)

    def partition_key(self, name: str, args: tuple[Any, ...]) -> Hashable | None:
        """Key of the independent sub-history an operation belongs to, or None."""
        return None

    def describe_state(self, state: Hashable) -> str:
        return repr(state)

    def is_read_only(self, name: str, args: tuple[Any, ...], result: Any = UNKNOWN) -> bool:
        """True if the operation, having returned ``result``, changed no state.

        It must hold in every state.  ``result`` is ``UNKNOWN`` for ``info``
        operations: then answer for every possible result.  The checker
        drops read-only ``info`` operations (optional and changing nothing,
        they constrain nothing) and places a read-only completed operation
        whose result matches the current state without trying alternatives
        (a cas that returned False is read-only this way).
        """
        return False

    def droppable_info(self, ops: Sequence[Operation]) -> set[int]:
        """Ids of ``info`` operations in ``ops`` that can be left out unseen.

        ``ops`` is one partition's operations after the checker's own
        filtering.  Return only operations such that any linearization that
        uses them can be rewritten into one that does not (for a register: a
        crashed write whose value nobody ever observes).  The checker calls
        this repeatedly until nothing more is dropped, so the condition must
        stay true when other operations are removed.  Default: none.
        """
        return set()

    invariants: ClassVar[dict[str, Callable[[Any], bool]]] = {}

    def outcomes(self, state: Hashable, name: str, args: tuple[Any, ...]) -> Iterable[tuple[Hashable, Any]]:
        """All allowed (new_state, result) pairs; empty when blocked."""
        out = self.step(state, name, args)
        if out is BLOCKED:
            return ()
        if isinstance(out, Outcomes):
            return out.pairs
        return (out,)
