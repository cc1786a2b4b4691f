"""What an eventually consistent store promises - and what it does not.

It does not promise linearizability: replicas answer on their own, so a
read may be stale.  It promises, checked here on the client history (real-
time order: ``a.ret < b.invoke``) and on the replicas' final states:

* ``converges`` (liveness) - once nothing changes (no client operation, no
  fault, no heal, no restart) for ``bound`` ms, every live replica holds
  the same state.
* ``newer_write_kept`` - after convergence the register holds a write that
  no acknowledged write followed in real time: the newest write survives
  (concurrent writes may all survive, as siblings, or one may win).
* ``counter_exact`` - after convergence the counter is at least the
  acknowledged increments and at most those plus the unknown (timed-out) ones.
* ``no_lost_add`` - after convergence an element is present if some
  acknowledged ``add`` of it came after every ``remove`` of it had returned.
* ``read_your_writes`` - in a session, a read reflects the client's own
  earlier acknowledged writes: its last ``put`` (or a write that may have
  been ordered after it), its increments, its adds (unless some remove may
  have followed them).
* ``overwrite_sticks`` - after convergence the register does not hold a
  value that a later acknowledged write had seen on its replica (written
  there, or read there, before the write was invoked): that value is
  older, not concurrent - no stale sibling lives forever.
* ``remove_sticks`` - after convergence an element is absent if an
  acknowledged ``remove`` of it ran on a replica where every ``add`` of it
  had already been acknowledged, and no add of it may have come later.

Sessions are sticky, and the client id names its replica (``c1@r2``), so
"on the same replica" is read from the history.

Unknown outcomes (``info``: the client timed out) may take effect at any
time after their invocation; the checks never count them as done, and
never as not done.
"""

from __future__ import annotations

from collections.abc import Sequence

from racekit import Operation
from systems.eventual_consistency import gcounter_merge, orset_merge, vc_less, vc_merge

Snapshot = tuple[tuple[str, ...], int, tuple[str, ...]]  # (register values, counter, members)


def home(op: Operation) -> str:
    """The replica of the op's session (client ids are ``name@replica``)."""
    return op.process.rsplit("@", 1)[-1]


def _done(op: Operation) -> bool:
    return op.status == "ok" and op.ret is not None


def _may_follow(later: Operation, earlier: Operation) -> bool:
    """Could ``later`` have taken effect after ``earlier`` took effect?"""
    return later.ret is None or later.status == "info" or later.ret > earlier.invoke


def newest_writes(ops: Sequence[Operation]) -> list[Operation]:
    """Writes (done or unknown) that no acknowledged write followed in real time."""
    puts = [op for op in ops if op.name == "put" and op.status != "fail"]
    acked = [op for op in puts if _done(op)]
    return [w for w in puts if not any(_done(w) and w.ret is not None and w.ret < a.invoke for a in acked)]


def lost_newer_write(ops: Sequence[Operation], replicas: dict[str, Snapshot]) -> str | None:
    if not any(op.name == "put" and _done(op) for op in ops):
        return None
    newest = newest_writes(ops)
    wanted = {w.args[0] for w in newest}
    for rid in sorted(replicas):
        values = replicas[rid][0]
        if not wanted & set(values):
            names = ", ".join(f"put({w.args[0]!r})" for w in newest)
            return f"{rid} converged on {values!r}; the newest write(s) {names} are lost"
    return None


def wrong_count(ops: Sequence[Operation], replicas: dict[str, Snapshot]) -> str | None:
    incs = [op for op in ops if op.name == "inc"]
    done = sum(1 for op in incs if _done(op))
    unknown = sum(1 for op in incs if op.status == "info")
    for rid in sorted(replicas):
        count = replicas[rid][1]
        if not done <= count <= done + unknown:
            extra = f" (+{unknown} unknown)" if unknown else ""
            return f"{rid} converged on count {count} after {done} acknowledged increment(s){extra}"
    return None


def lost_add(ops: Sequence[Operation], replicas: dict[str, Snapshot]) -> str | None:
    for add in ops:
        if add.name != "add" or not _done(add):
            continue
        element = add.args[0]
        removes = [r for r in ops if r.name == "remove" and r.args[0] == element and r.status != "fail"]
        if any(_may_follow(r, add) for r in removes):
            continue
        for rid in sorted(replicas):
            if element not in replicas[rid][2]:
                return f"{rid} converged without {element!r}, though add({element!r}) was acknowledged after every remove of it"
    return None


def missed_own_write(ops: Sequence[Operation]) -> str | None:
    """The first read of a session that does not reflect the session's own acknowledged writes."""
    by_client: dict[str, list[Operation]] = {}
    for op in sorted(ops, key=lambda o: o.invoke):
        by_client.setdefault(op.process, []).append(op)
    for client in sorted(by_client):
        session = by_client[client]
        for read in session:
            if read.name not in ("get", "count", "members") or not _done(read):
                continue
            mine = [w for w in session if _done(w) and w.ret is not None and w.ret < read.invoke]
            problem = _stale_for(read, mine, ops)
            if problem:
                return f"{client}: {problem}"
    return None


def _stale_for(read: Operation, mine: list[Operation], ops: Sequence[Operation]) -> str | None:
    if read.name == "get":
        puts = [w for w in mine if w.name == "put"]
        if not puts:
            return None
        last = puts[-1]
        allowed = {last.args[0]} | {
            w.args[0] for w in ops if w.name == "put" and w is not last and w.status != "fail" and _may_follow(w, last)
        }
        if not allowed & set(read.result):
            return f"get() returned {tuple(read.result)!r} after its own put({last.args[0]!r}) was acknowledged"
    elif read.name == "count":
        incs = sum(1 for w in mine if w.name == "inc")
        if read.result < incs:
            return f"count() returned {read.result} after {incs} of its own increments were acknowledged"
    else:
        for add in (w for w in mine if w.name == "add"):
            element = add.args[0]
            if element in read.result:
                continue
            if any(r.name == "remove" and r.args[0] == element and r.status != "fail" and _may_follow(r, add) for r in ops):
                continue
            return f"members() returned {tuple(read.result)!r} after its own add({element!r}) was acknowledged"
    return None


def stale_sibling(ops: Sequence[Operation], replicas: dict[str, Snapshot]) -> str | None:
    """A value still held after a write that had seen it on its replica: an
    acknowledged put there, or a read there that returned it, both before
    the write was invoked."""
    done = [op for op in ops if _done(op)]
    for w in (op for op in done if op.name == "put"):
        seen: dict[str, str] = {}
        for op in done:
            if op is w or home(op) != home(w) or op.ret is None or op.ret >= w.invoke:
                continue
            if op.name == "put":
                seen.setdefault(op.args[0], f"put({op.args[0]!r})")
            elif op.name == "get":
                for value in op.result:
                    seen.setdefault(value, f"a get() returning {tuple(op.result)!r}")
        seen.pop(w.args[0], None)
        for rid in sorted(replicas):
            for value in replicas[rid][0]:
                if value in seen:
                    return (
                        f"{rid} converged on {replicas[rid][0]!r}: put({w.args[0]!r}) on {home(w)} came after "
                        f"{seen[value]} there, so {value!r} is older, not concurrent"
                    )
    return None


def resurrected(ops: Sequence[Operation], replicas: dict[str, Snapshot]) -> str | None:
    for rm in ops:
        if rm.name != "remove" or not _done(rm):
            continue
        element = rm.args[0]
        adds = [a for a in ops if a.name == "add" and a.args[0] == element and a.status != "fail"]
        if not adds or any(not _done(a) or home(a) != home(rm) or not a.precedes(rm) for a in adds):
            continue
        for rid in sorted(replicas):
            if element in replicas[rid][2]:
                return f"{rid} converged with {element!r}, removed on {home(rm)} after every add of it there"
    return None


# ---------------------------------------------------------------------------
# Merge laws, as functions CrossHair can prove on bounded shapes (PEP 316)
# ---------------------------------------------------------------------------
def gcounter_laws(a: tuple[int, int, int], b: tuple[int, int, int], c: tuple[int, int, int]) -> bool:
    """G-counter merge: commutative, associative, idempotent, and it never loses a count.

    post: __return__
    """
    m = gcounter_merge
    return (
        m(a, b) == m(b, a)
        and m(m(a, b), c) == m(a, m(b, c))
        and m(a, a) == a
        and sum(m(a, b)) >= max(sum(a), sum(b))
    )


def vclock_laws(a: tuple[int, int, int], b: tuple[int, int, int], c: tuple[int, int, int]) -> bool:
    """Vector clock merge is a join: commutative, associative, idempotent, an upper bound.

    post: __return__
    """
    m = vc_merge
    ab = m(a, b)
    return (
        ab == m(b, a)
        and m(ab, c) == m(a, m(b, c))
        and m(a, a) == a
        and (ab == a or vc_less(a, ab))
        and (ab == b or vc_less(b, ab))
    )


def orset_laws(a: tuple[frozenset[tuple[str, int]], frozenset[int]], b: tuple[frozenset[tuple[str, int]], frozenset[int]]) -> bool:
    """OR-set merge: commutative, idempotent; an element added on one side and
    not tombstoned on either survives the merge.

    post: __return__
    """
    m = orset_merge
    merged = m(a, b)  # type: ignore[arg-type]
    kept = all(e in {x for x, t in merged[0] if t not in merged[1]} for e, t in a[0] if t not in a[1] | b[1])
    return merged == m(b, a) and m(a, a) == a and kept  # type: ignore[arg-type]
