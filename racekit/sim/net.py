"""Messages and the links between nodes.

The network itself holds no queue: messages in flight are events in the
world's agenda (``world.py``), so that delivering one is just another choice
among pending events.  This module only knows *which links are cut*.

Partition semantics (tested in ``tests/test_sim_net.py``): a message is lost
if its link ``src -> dst`` is cut when it is sent **or** when it would be
delivered.  A one-way partition cuts ``a -> b`` and leaves ``b -> a`` up,
which is how asymmetric failures (a NIC that can send but not receive, a
one-sided firewall rule) look to the nodes.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    """One message in flight.  ``payload`` must be immutable (frozen dataclass, tuple).

    ``seq`` is the global send order; it breaks ties between messages due
    at the same instant so "deliver the oldest" is well defined.
    """

    seq: int
    src: str
    dst: str
    payload: Any
    sent_at: int

    def describe(self) -> str:
        return f"{self.src}->{self.dst} {self.payload!r}"


@dataclass(frozen=True)
class Partition:
    """A set of cut directed links, added by one fault and removed by one heal."""

    pid: int
    links: frozenset[tuple[str, str]]
    label: str


class Network:
    """Which directed links are cut right now.

    Several partitions may overlap; a link is up only when no active
    partition cuts it.  Nothing here iterates a set in hash order: every
    listing is sorted, so runs do not depend on ``PYTHONHASHSEED``.
    """

    def __init__(self) -> None:
        self._active: dict[int, Partition] = {}
        self._next_pid = 0

    def blocked(self, src: str, dst: str) -> bool:
        return any((src, dst) in p.links for p in self._active.values())

    def cut(self, links: Iterable[tuple[str, str]], label: str) -> Partition:
        part = Partition(self._next_pid, frozenset(links), label)
        self._next_pid += 1
        self._active[part.pid] = part
        return part

    def isolate(self, node: str, others: Iterable[str]) -> Partition:
        """Symmetric: ``node`` can neither send to nor hear from ``others``."""
        links = [(node, o) for o in others if o != node] + [(o, node) for o in others if o != node]
        return self.cut(links, f"isolate {node}")

    def one_way(self, src: str, dst: str) -> Partition:
        """Asymmetric: ``src -> dst`` is cut, ``dst -> src`` still works."""
        return self.cut([(src, dst)], f"cut {src}->{dst}")

    def heal(self, pid: int) -> Partition | None:
        return self._active.pop(pid, None)

    def heal_all(self) -> list[Partition]:
        healed = [self._active[k] for k in sorted(self._active)]
        self._active.clear()
        return healed

    @property
    def partitioned(self) -> bool:
        return bool(self._active)

    def state(self) -> Hashable:
        return tuple(sorted(tuple(sorted(p.links)) for p in self._active.values()))
