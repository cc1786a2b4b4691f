"""Lost update: two committed transactions read the same version of a key and both wrote it.

Adya defines lost update only by example (H_lu).  Following Elle, the
essential fact is that T1 and T2 both read x0 and both wrote x, each
presumably computing its write from x0, so one of the two logical updates
is lost whichever order they commit in.  In the dependency graph this is a
G2-item cycle (T1 -rw-> T2 -rw-> T1, or with a ww edge), but version-order
inference may miss the edges (an unread append, a register whose order is
unknown), so it is found directly: one linear pass over the committed
transactions, grouping (key, first value read) by transactions that wrote
the key after reading it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from racekit.formats.edn import dumps
from racekit.txn.history import Op


def lost_update_cases(ops: Sequence[Op], write_f: str, norm: Callable[[Any], Any] = lambda v: v) -> list[dict[str, Any]]:
    """Cases ``{key, value, txns}`` (``txns``: op indices, two or more).

    ``norm`` maps a read value to the version it names (list-append: ``nil``
    and ``[]`` are the same empty list).
    """
    groups: dict[tuple[Hashable, Any], list[int]] = {}
    for op in ops:
        if op.type != "ok":
            continue
        reads: dict[Hashable, Any] = {}
        written: set[Hashable] = set()
        for f, k, v in op.value:
            if f == write_f:
                if k in written or k not in reads:
                    continue
                written.add(k)
                groups.setdefault((k, reads[k]), []).append(op.index)
            elif k not in reads:
                reads[k] = norm(v)
    cases = []
    for (k, v), txns in groups.items():
        if len(txns) >= 2:
            shown = ", ".join(f"op {t}" for t in txns)
            cases.append({
                "key": dumps(k), "value": dumps(v), "txns": txns,
                "explanation": f"{shown} each read {dumps(k)} = {dumps(v)} and then wrote {dumps(k)}: "
                               "every write but one was computed from a version another already replaced",
            })
    return cases
