"""Sequential specifications: what a correct object does, one call at a time.

A spec is pure: ``init()`` gives a hashable state; ``step(state, name, args)``
gives ``(new_state, result)``, or an :class:`Outcomes` of allowed pairs for a
nondeterministic spec, or ``BLOCKED`` when the operation cannot take effect in
this state (a ``take`` on an empty blocking queue).  ``step`` must not mutate
``state``.  The linearizability checker and the state machines only use this
contract.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar


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

    invariants: ClassVar[dict[str, Callable[[Any], bool]]] = {}

    def outcomes(self, state: Hashable, name: str, args: tuple[Any, ...]) -> Iterable[tuple[Hashable, Any]]:
        """All allowed (new_state, result) pairs; empty when blocked."""
        out = self.step(state, name, args)
        if out is BLOCKED:
            return ()
        if isinstance(out, Outcomes):
            return out.pairs
        return (out,)
