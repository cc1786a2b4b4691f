"""Sequential model of the register: ``read() -> v``, ``cas(expected, new) -> ok``.

A client's ``add(d)`` is a read-modify-write: it read ``v`` and wrote
``v + d``, meaning "replace ``v`` by ``v + d``".  It is recorded as that
compare-and-set, and the history is checked against Knossos' cas-register
(``racekit.models.CasRegisterSpec``): two adds that both replaced the same
``v`` cannot be put in one order - the second compare would fail - so a lost
update is a linearizability violation.  The invariant at quiescence says the
same in arithmetic.
"""

from __future__ import annotations

from racekit import CasRegisterSpec

__all__ = ["CasRegisterSpec", "lost_update", "register_spec"]


def register_spec(initial: int = 0) -> CasRegisterSpec:
    return CasRegisterSpec(initial)


def lost_update(initial: int, final: int, applied: list[int]) -> str | None:
    """The final value is the initial one plus every acknowledged delta.

    post: (__return__ is None) == (final == initial + sum(applied))
    """
    want = initial + sum(applied)
    if final == want:
        return None
    return f"final value {final}, but {initial} + {' + '.join(map(str, applied)) or '0'} = {want}: {want - final} lost"
