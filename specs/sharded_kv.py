"""What the sharded store promises across joins and leaves, stated exactly.

* ``linearizable``     - per key, ``put``/``get`` are linearizable against a
  register (``racekit.models.KVSpec``, P-compositional by key; a missing key
  reads as ""). Nothing is claimed across keys: there are no multi-key
  operations, and two keys on two nodes are not ordered with each other.
* ``no_lost_write``    - at the end, the owner of every key under the final
  ring holds a value that is not older than the last acknowledged put: the
  value of that put or of one concurrent with or after it.
* ``minimal_movement`` - a join moves keys only *to* the joining node, a
  leave only *from* the leaving node (the defining property of consistent
  hashing; modulo hashing reshuffles keys between nodes that stayed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from racekit import Operation


def lost_write(ops: Sequence[Operation], holder: Callable[[str], str | None]) -> str | None:
    """``holder(key)`` = the value the final owner holds (None if absent)."""
    for key in sorted({op.args[0] for op in ops if op.name == "put"}):
        puts = [op for op in ops if op.name == "put" and op.args[0] == key]
        acked = [op for op in puts if op.status == "ok" and op.ret is not None]
        if not acked:
            continue
        last = max(acked, key=lambda op: op.ret or 0)
        allowed = {op.args[1] for op in puts if not (op.status == "ok" and op.ret is not None and op.ret < last.invoke)}
        held = holder(key)
        if held not in allowed:
            return f"{key}: put({last.args[1]!r}) was acknowledged but the owner now holds {held!r}"
    return None


def extra_movement(changes: dict[int, tuple[str, str]], moves: Sequence[tuple[int, str, str, int]]) -> str | None:
    """``changes``: epoch -> (join|leave, node); ``moves``: (epoch, from, to, keys)."""
    for epoch, src, dst, keys in moves:
        op, node = changes.get(epoch, ("init", ""))
        ok = (op == "join" and dst == node) or (op == "leave" and src == node)
        if not ok:
            return f"{op} {node} (epoch {epoch}) moved {keys} key(s) from {src} to {dst}, neither of them {node}"
    return None


def as_moves(notes: Sequence[Any]) -> list[tuple[int, str, str, int]]:
    return [(n.data["epoch"], n.node, n.data["to"], n.data["keys"]) for n in notes]
