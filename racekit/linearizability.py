"""Linearizability checking: Wing & Gong search with Lowe's memoization.

``check(history, spec)`` answers whether the completed operations, plus any
subset of the ``info`` (outcome unknown) ones, can be put in one total order
that respects real time (A before B when A returned before B was invoked)
and is a legal run of the sequential ``spec``.

The search (Wing & Gong 1993, Lowe 2017, as in Porcupine): the history is a
doubly linked list of call and return entries in time order.  Any call met
before the first return entry may be linearized next.  Linearizing an op
*lifts* its call and return out of the list and pushes it on a stack; a dead
end pops it and *unlifts* it (dancing links: O(1) both ways).  A state is
``(set of linearized ops as an int bitmask, model state)``; a state seen
before has already failed and is skipped.

What racekit adds, each sound for the reason given:

1. **P-compositionality.**  Ops are grouped by ``spec.partition_key`` and
   each group is checked on its own; the history is linearizable iff every
   group is (Herlihy & Wing: linearizability is local).  Groups are searched
   round robin, a slice each, so one hard linearizable group does not hide a
   quick violation in another (Porcupine runs them in parallel).
2. **Failed ops.**  With ``fail_is_result`` false (Jepsen: ``:fail`` = did
   not happen) fail ops are dropped; with it true they are completed ops
   whose recorded result must match.
3. **Info ops are optional.**  A search state is complete once every
   completed op is placed; info ops have a call entry but no return entry,
   so they never block anything and precede nothing.
4. **Read-only info ops are dropped** (``spec.is_read_only``): an optional op
   that changes no state can be deleted from any linearization that uses it.
5. **Unobservable info ops are dropped** (``spec.droppable_info``, e.g. a
   crashed register write whose value nobody reads); the spec argues why the
   rewrite keeps the linearization legal.  Applied to a fixpoint.
6. **Lazy info ops.**  At each node completed ops are tried first, info ops
   only after every completed candidate failed.  Child order does not change
   what DFS finds; it finds witnesses with few info ops first, which makes
   rule 7 prune more.
7. **Subsumption memo.**  With info ops the memo maps ``(completed-op mask,
   model state)`` to the info-op masks seen with it.  A state whose used
   info ops are a superset of a seen one is skipped: it has fewer optional
   ops left and the same constraints otherwise (info ops precede nothing, so
   the set of enabled completed ops depends only on the completed-op mask),
   hence every completion of it is a completion of the seen state, which
   failed or is still being explored by an ancestor that will try it.
8. **Interchangeable info ops.**  Info ops with equal ``(name, args)`` form a
   group; only the earliest-invoked unused member of a group is tried.  Once
   two members are both invoked they are indistinguishable (no return, no
   result), and the earlier one is enabled whenever the later one is, so any
   linearization using a later member can use the earlier one instead.
   Thirty crashed writes of five values become five counters.
9. **Forced reads.**  A completed op that is read-only given its result
   (``spec.is_read_only(name, args, result)``: a read, a cas that returned
   False) and matches the current state is placed at once, with no
   alternatives.  Any completion that places it later can move it to the
   front: every op that must precede it is placed already, moving it earlier
   breaks no real-time order, and it changes no state.  Without this, k
   concurrent reads multiply the states by 2**k.
10. **Latest call first.**  Completed candidates are tried from the most
    recently invoked backwards.  Only an ordering heuristic (DFS stays
    complete): an op pending for long is the most flexible, so it is
    committed last.  On Porcupine's c50-ok.txt it cuts the states from
    170,000 to 58,000.
11. **Info ops only where needed.**  After placing info op ``i`` in state
    ``s``, the next op ``o`` must depend on ``i``.  If ``o`` has the same
    outcomes from ``s`` as after ``i``, ``i`` was useless there and the same
    path without it (fewer info ops used) is explored.  If ``o`` then ``i``
    leads to the same state as ``i`` then ``o``, they commute and the other
    order is explored (for two info ops, only in index order, so that one
    order survives).  So every linearization has a canonical form in which
    each info op is followed by an op that depends on it, and only those are
    searched.  A forced read (rule 9) that commutes with ``i`` kills the node
    for the same reason.
12. **Doomed ops.**  Every state a linearization reaches lies in the closure
    of the initial state under all ops' transitions (order and multiplicity
    ignored).  When that closure is small (computed on a budget), a
    completed op illegal in all of it can never be placed: violation, with no
    search.  The explanation then comes from a budgeted search of the ops
    that do not come after the doomed op (a precedence-closed set).

For a violation the result carries the longest linearizable prefixes found
(measured in completed ops: each is a legal order of a set closed under
real-time precedence within its partition), the op that cannot follow the
first of them, and a one-line explanation.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Generator, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from racekit.history import History, Operation
from racekit.spec import BLOCKED, Outcomes, Spec

Verdict = Literal["linearizable", "violation", "unknown"]

_SLICE = 4096  # yield to the scheduler (clock, other partitions) every so many states
_FORCED = -2  # outcome index of a forced placement (rule 9)
_CLOSURE_STATES = 64  # rule 12 gives up on larger state closures
_EXPLAIN_SLICES = 16  # budget (in slices) of the search for a doomed op's prefix
_MAX_PREFIXES = 4


@dataclass
class LinResult:
    """What ``check`` found.

    ``longest_prefixes``, ``stuck_op``, ``message`` and ``partition``
    describe a violation (the partition key of the failing sub-history).
    ``witness`` is one linearization per partition when linearizable.
    ``dropped`` lists the info ops removed by rules 4-5.  ``states`` counts
    search states entered.
    """

    verdict: Verdict
    seconds: float
    message: str = ""
    longest_prefixes: list[list[int]] = field(default_factory=list)
    stuck_op: int | None = None
    partition: Hashable | None = None
    witness: list[list[int]] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    states: int = 0

    @property
    def ok(self) -> bool:
        return self.verdict == "linearizable"

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "seconds": round(self.seconds, 6),
            "message": self.message,
            "longest_prefixes": self.longest_prefixes,
            "stuck_op": self.stuck_op,
            "partition": None if self.partition is None else repr(self.partition),
            "dropped": self.dropped,
            "states": self.states,
        }


def check(
    history: History | Sequence[Operation],
    spec: Spec,
    timeout: float | None = None,
    *,
    fail_is_result: bool | None = None,
    prune: bool = True,
) -> LinResult:
    """Check ``history`` against ``spec``; give up with "unknown" after ``timeout`` s.

    ``fail_is_result`` overrides ``spec.fail_is_result``; ``prune=False``
    turns off rules 4-5 (for testing them).
    """
    started = time.perf_counter()
    deadline = None if timeout is None else started + timeout
    keep_fail = spec.fail_is_result if fail_is_result is None else fail_is_result
    ops = [op for op in history if op.status != "fail" or keep_fail]

    partitions: dict[Hashable, list[Operation]] = defaultdict(list)
    for op in ops:
        partitions[spec.partition_key(op.name, op.args)].append(op)

    result = LinResult("linearizable", 0.0)
    searches = [(key, _Search(part, spec, prune)) for key, part in partitions.items()]
    for _, search in searches:
        result.dropped.extend(search.dropped)
    # Round robin over partitions, a slice each: a violation in one partition
    # is found without first exhausting a hard but linearizable other one.
    active = [(key, search, search.run()) for key, search in searches]
    while active and result.verdict == "linearizable":
        still = []
        for key, search, run in active:
            try:
                next(run)
            except StopIteration as stop:
                if stop.value == "violation":
                    _violation(result, key, search)
                    break
                result.witness.append(search.witness)
            else:
                still.append((key, search, run))
        active = still
        if active and result.verdict == "linearizable" and deadline is not None and time.perf_counter() > deadline:
            proven = [(key, search) for key, search, _ in active if search.stuck is not None]
            if proven:  # rule 12 settled it; only the explanation's search ran out of time
                _violation(result, *proven[0])
                break
            result.verdict = "unknown"
            keys = ", ".join(repr(key) for key, _, _ in active[:3])
            result.message = f"gave up after {timeout} s with {len(active)} partition(s) unsettled ({keys})"
    if result.verdict != "linearizable":
        result.witness = []
    result.states = sum(search.states for _, search in searches)
    result.dropped.sort()
    result.seconds = time.perf_counter() - started
    return result


def _violation(result: LinResult, key: Hashable, search: _Search) -> None:
    result.verdict = "violation"
    result.partition = key
    result.longest_prefixes = search.prefix_ids()
    result.stuck_op, result.message = search.explain(key)


_OK_CALL, _INFO_CALL, _RETURN = 0, 1, 2


@dataclass
class _Lists:
    """The search's linked lists (see ``_Search._entries``)."""

    nxt: list[int]
    prv: list[int]
    kind: list[int]
    op_index: list[int]
    mate: list[int]
    time_of: list[float]
    info_head: int


class _Search:
    """One partition's search.  Ops get local indices: completed ops first."""

    def __init__(self, ops: Sequence[Operation], spec: Spec, prune: bool) -> None:
        self.spec = spec
        self.dropped: list[int] = []
        if prune:
            ops = self._prune(list(ops))
        self.done = [op for op in ops if op.status != "info"]
        self.info = sorted((op for op in ops if op.status == "info"), key=lambda o: (o.invoke, o.id))
        self.ops: list[Operation] = self.done + self.info
        self.states = 0
        self.witness: list[int] = []
        self.prefixes: list[list[int]] = []
        self.best_state: Hashable = None
        self.stuck: int | None = None  # set by rule 12

    # -- rules 4 and 5 ----------------------------------------------------

    def _prune(self, ops: list[Operation]) -> list[Operation]:
        spec = self.spec
        kept = [op for op in ops if op.status != "info" or not spec.is_read_only(op.name, op.args)]
        self.dropped = [op.id for op in ops if op.status == "info" and spec.is_read_only(op.name, op.args)]
        while True:
            info_ids = {op.id for op in kept if op.status == "info"}
            drop = spec.droppable_info(kept) & info_ids
            if not drop:
                return kept
            self.dropped.extend(sorted(drop))
            kept = [op for op in kept if op.id not in drop]

    # -- the transition function, cached per (op, state) --------------------

    def _transitions(self) -> Callable[[int, Hashable], tuple[Hashable, ...]]:
        """``trans(i, state)``: the states op ``i`` can lead to, given its result.

        Empty when the op is BLOCKED or its recorded result is impossible.
        Info ops accept any result.  The common case (a deterministic step,
        default equality) is kept short: this runs once per new (op, state).
        """
        spec, n_done = self.spec, len(self.done)
        step, matches = spec.step, spec.result_matches
        plain_match = type(spec).result_matches is Spec.result_matches
        names = [op.name for op in self.ops]
        argss = [op.args for op in self.ops]
        results = [op.result for op in self.ops]
        blocked = BLOCKED

        def trans(i: int, state: Hashable) -> tuple[Hashable, ...]:
            out = step(state, names[i], argss[i])
            if type(out) is tuple:
                if i >= n_done:
                    return (out[0],)
                if plain_match:
                    return (out[0],) if out[1] == results[i] else ()
                return (out[0],) if matches(names[i], argss[i], out[1], results[i]) else ()
            if out is blocked:
                return ()
            pairs = out.pairs if isinstance(out, Outcomes) else tuple(out)
            if i >= n_done:
                return tuple(dict.fromkeys(ns for ns, _ in pairs))
            return tuple(
                dict.fromkeys(ns for ns, r in pairs if matches(names[i], argss[i], r, results[i]))
            )

        return trans

    # -- the linked list of entries ---------------------------------------

    def _entries(self) -> _Lists:
        """Two doubly linked lists sharing the arrays ``nxt``/``prv``.

        The main list (head 0) holds completed ops' calls and returns in time
        order, ending in a tail that reads as a return; at equal times calls
        sort before returns, as ``precedes`` is strict.  The info list (head
        ``info_head``) holds info ops' calls in invoke order.  ``time`` is an
        entry's position in time: an info call is enabled iff its time is at
        most the time of the main list's first return.
        """
        n_done = len(self.done)
        events: list[tuple[float, int, int]] = []
        for i, op in enumerate(self.done):
            events.append((op.invoke, 0, i))
            events.append((float("inf") if op.ret is None else op.ret, 1, i))
        events.sort()
        n_main = len(events)
        tail = n_main + 1
        info_head = n_main + 2
        size = info_head + len(self.info) + 2
        kind = [_RETURN] * size  # heads and tails read as "return": scans stop there
        op_index = [-1] * size
        mate = [0] * size
        time_of = [float("inf")] * size
        call_of: dict[int, int] = {}
        for entry, (at, is_return, i) in enumerate(events, start=1):
            op_index[entry] = i
            time_of[entry] = at
            if is_return:
                mate[call_of[i]] = entry
            else:
                kind[entry] = _OK_CALL
                call_of[i] = entry
        for entry, i in enumerate(range(n_done, len(self.ops)), start=info_head + 1):
            kind[entry] = _INFO_CALL
            op_index[entry] = i
            time_of[entry] = self.ops[i].invoke
        nxt = list(range(1, size + 1))
        prv = list(range(-1, size - 1))
        nxt[tail] = prv[info_head] = -1  # the two lists do not touch
        return _Lists(nxt, prv, kind, op_index, mate, time_of, info_head)

    # -- the search ---------------------------------------------------------

    def run(self) -> Generator[None, None, Verdict]:
        """The search, as a generator: it yields every ``_SLICE`` states so
        that ``check`` can interleave partitions and watch the clock; it
        returns the verdict.

        One flat loop for speed (locals only, ints as bitsets).  At a new node
        a forward walk over the main list finds the window's end (its first
        return entry, time ``window``) and makes forced placements (rule 9).
        Then completed calls are tried from the window's end backwards,
        latest invoked first (rule 10), then enabled info calls forwards
        (rule 6).  ``start`` is the next outcome to try of a nondeterministic
        step.  Stack frames are ``(entry, state before, outcome index, window
        before)``; index ``_FORCED`` marks a forced placement, which has no
        alternatives.  Heads and tails read as return entries, so scans stop
        there.
        """
        n_done, n_info = len(self.done), len(self.info)
        if n_done == 0:
            self.best_state = self.spec.init()
            return "linearizable"
        lists = self._entries()
        nxt, prv, kind, op_index, mate, time_of = (
            lists.nxt, lists.prv, lists.kind, lists.op_index, lists.mate, lists.time_of
        )
        info_first = lists.info_head  # nxt[info_first] is the first unused info call
        trans = self._transitions()
        caches: list[dict[Hashable, tuple[Hashable, ...]]] = [{} for _ in self.ops]
        doomed = self._doomed(trans, caches)
        if doomed is not None:
            yield from self._explain_doomed(doomed)
            return "violation"
        bits = [1 << i for i in range(n_done)] + [1 << (i - n_done) for i in range(n_done, n_done + n_info)]
        group_pred = self._group_predecessors()
        spec = self.spec
        read_only = [op.status != "info" and spec.is_read_only(op.name, op.args, op.result) for op in self.ops]
        ro_entry = [k == _OK_CALL and read_only[op_index[e]] for e, k in enumerate(kind)]
        seen_plain: set[tuple[int, Hashable]] = set()
        seen_sub: dict[tuple[int, Hashable], list[int]] = {}
        stack: list[tuple[int, Hashable, int, float]] = []
        push, pop = stack.append, stack.pop

        state = spec.init()
        done_mask = info_mask = 0
        placed = 0
        best = best_len = -1
        dirty = False  # a new longest prefix is on the stack, not yet copied
        states = 0
        next_yield = _SLICE
        entry = 0
        window = 0.0  # time of the window's end at this node
        phase = _OK_CALL
        start = 0
        fresh = True  # at a new node: walk the window first
        last_info = -1  # the info op placed to reach this node (rule 11), or -1
        before: Hashable = None  # the state before last_info
        while True:
            if fresh:
                fresh = False
                e = nxt[0]
                while kind[e] != _RETURN:
                    if not ro_entry[e]:
                        e = nxt[e]
                        continue
                    # Rule 9: a matching read-only completed op goes first.
                    i = op_index[e]
                    cache = caches[i]
                    nexts = cache.get(state)
                    if nexts is None:
                        nexts = cache[state] = trans(i, state)
                    if not nexts:
                        e = nxt[e]
                        continue
                    if last_info >= 0:
                        pre = cache.get(before)
                        if pre is None:
                            pre = cache[before] = trans(i, before)
                        if pre:  # it commutes with last_info: the parent covers this node
                            e = 0
                            break
                    key = (done_mask | bits[i], state)
                    if n_info:
                        seen = seen_sub.get(key)
                        if seen is None:
                            seen_sub[key] = [info_mask]
                        elif any(other | info_mask == info_mask for other in seen):
                            e = 0  # its only child failed before: so does this node
                            break
                        else:
                            seen.append(info_mask)
                    elif key in seen_plain:
                        e = 0
                        break
                    else:
                        seen_plain.add(key)
                    push((e, state, _FORCED, window))
                    states += 1
                    nxt[prv[e]] = nxt[e]
                    prv[nxt[e]] = prv[e]
                    ret = mate[e]
                    nxt[prv[ret]] = nxt[ret]
                    prv[nxt[ret]] = prv[ret]
                    done_mask |= bits[i]
                    placed += 1
                    last_info = -1
                    if placed > best:
                        best = placed
                        best_len = len(stack)
                        self.best_state = state
                        dirty = True
                    if placed == n_done:
                        self.states = states
                        self.witness = [self.ops[op_index[f]].id for f, _, _, _ in stack]
                        self.best_state = state
                        return "linearizable"
                    e = nxt[0]
                if e == 0:
                    entry = 0
                    phase = _INFO_CALL  # straight to backtracking
                    continue
                window = time_of[e]
                entry = prv[e]
                phase = _OK_CALL
                start = 0
            k = kind[entry]
            if k == _RETURN:
                if phase == _OK_CALL and n_info:
                    phase = _INFO_CALL
                    entry = nxt[info_first]
                    continue
                if not stack:
                    self.states = states
                    return "violation"
                if dirty:  # the stack still starts with the best path: record it now
                    self.prefixes = [[op_index[e] for e, _, _, _ in stack[:best_len]]]
                    dirty = False
                entry, state, start, window = pop()
                i = op_index[entry]
                if kind[entry] == _OK_CALL:
                    done_mask ^= bits[i]
                    placed -= 1
                    ret = mate[entry]
                    prv[nxt[ret]] = ret
                    nxt[prv[ret]] = ret
                    phase = _OK_CALL
                else:
                    info_mask ^= bits[i]
                    phase = _INFO_CALL
                prv[nxt[entry]] = entry
                nxt[prv[entry]] = entry
                if stack and kind[stack[-1][0]] == _INFO_CALL:
                    last_info = op_index[stack[-1][0]]
                    before = stack[-1][1]
                else:
                    last_info = -1
                if start == _FORCED:
                    entry = 0
                    phase = _INFO_CALL
                    continue
                start += 1
                continue
            i = op_index[entry]
            if k == _INFO_CALL:
                if time_of[entry] > window:  # invoked after the window: neither are the rest
                    entry = 0
                    continue
                pred = group_pred[i]
                if pred and not info_mask & pred:
                    entry = nxt[entry]
                    start = 0
                    continue
            cache = caches[i]
            nexts = cache.get(state)
            if nexts is None:
                nexts = cache[state] = trans(i, state)
            j = start
            start = 0
            n_next = len(nexts)
            if last_info >= 0 and n_next:
                # Rule 11: after an info op, only ops that depend on it.
                pre = cache.get(before)
                if pre is None:
                    pre = cache[before] = trans(i, before)
                if pre == nexts:  # same effect without last_info: it was useless
                    entry = prv[entry] if k == _OK_CALL else nxt[entry]
                    continue
                if len(pre) == 1 and n_next == 1 and (k == _OK_CALL or i < last_info):
                    last_cache = caches[last_info]
                    swapped = last_cache.get(pre[0])
                    if swapped is None:
                        swapped = last_cache[pre[0]] = trans(last_info, pre[0])
                    if swapped == nexts:  # they commute: the other order is tried
                        entry = prv[entry] if k == _OK_CALL else nxt[entry]
                        continue
            while j < n_next:
                new_state = nexts[j]
                if not n_info:
                    key = (done_mask | bits[i], new_state)
                    if key not in seen_plain:
                        seen_plain.add(key)
                        break
                else:
                    if k == _OK_CALL:
                        key = (done_mask | bits[i], new_state)
                        used = info_mask
                    else:
                        key = (done_mask, new_state)
                        used = info_mask | bits[i]
                    seen = seen_sub.get(key)
                    if seen is None:
                        seen_sub[key] = [used]
                        break
                    for other in seen:
                        if other | used == used:
                            break
                    else:
                        seen.append(used)
                        break
                j += 1
            else:
                entry = prv[entry] if k == _OK_CALL else nxt[entry]
                continue
            # place op i: push, lift, go to the new node
            push((entry, state, j, window))
            if k == _INFO_CALL:
                last_info = i
                before = state
            else:
                last_info = -1
            state = nexts[j]
            states += 1
            nxt[prv[entry]] = nxt[entry]
            prv[nxt[entry]] = prv[entry]
            if k == _OK_CALL:
                done_mask |= bits[i]
                placed += 1
                ret = mate[entry]
                nxt[prv[ret]] = nxt[ret]
                prv[nxt[ret]] = prv[ret]
                if placed >= best:
                    if placed > best:
                        best = placed
                        best_len = len(stack)
                        self.best_state = state
                        dirty = True
                    elif not dirty and len(self.prefixes) < _MAX_PREFIXES:
                        self.prefixes.append([op_index[e] for e, _, _, _ in stack])
                    if placed == n_done:
                        self.states = states
                        self.witness = [self.ops[op_index[e]].id for e, _, _, _ in stack]
                        self.best_state = state
                        return "linearizable"
            else:
                info_mask |= bits[i]
            fresh = True
            if states >= next_yield:
                next_yield = states + _SLICE
                self.states = states
                if dirty:
                    self.prefixes = [[op_index[e] for e, _, _, _ in stack[:best_len]]]
                    dirty = False
                yield

    def _doomed(
        self, trans: Callable[[int, Hashable], tuple[Hashable, ...]], caches: list[dict[Hashable, tuple[Hashable, ...]]]
    ) -> int | None:
        """Rule 12: a completed op that is illegal in every reachable state.

        Every state a linearization can reach lies in the closure of the
        initial state under all ops' transitions (order and multiplicity
        ignored).  When that closure is small enough to compute within a
        budget, an op illegal in all of it can never be placed.
        """
        n = len(self.ops)
        budget = 16 * n + 256
        init = self.spec.init()
        reach = {init}
        frontier = [init]
        while frontier:
            state = frontier.pop()
            if budget < n or len(reach) > _CLOSURE_STATES:
                return None
            budget -= n
            for i in range(n):
                cache = caches[i]
                nexts = cache.get(state)
                if nexts is None:
                    nexts = cache[state] = trans(i, state)
                for new_state in nexts:
                    if new_state not in reach:
                        reach.add(new_state)
                        frontier.append(new_state)
        for i in range(len(self.done)):
            cache = caches[i]
            if not any(cache[state] for state in reach):
                return i
        return None

    def _explain_doomed(self, doomed: int) -> Generator[None, None, None]:
        """A longest prefix for a doomed op: search the ops not after it, on a budget."""
        self.stuck = doomed
        op = self.done[doomed]
        before = [o for o in self.ops if o is not op and not op.precedes(o)]
        sub = _Search(before, self.spec, prune=False)
        run = sub.run()
        verdict: Verdict = "unknown"
        for _ in range(_EXPLAIN_SLICES):
            try:
                next(run)
            except StopIteration as stop:
                verdict = stop.value
                break
            yield
        index = {o.id: i for i, o in enumerate(self.ops)}
        prefix = sub.witness if verdict == "linearizable" else sub.prefix_ids()[0]
        self.prefixes = [[index[i] for i in prefix]]
        self.best_state = sub.best_state if prefix or verdict == "linearizable" else self.spec.init()
        self.stuck = doomed
        self.states += sub.states

    def _group_predecessors(self) -> list[int]:
        """For info op i: the bit of the previous info op with equal (name, args), or 0."""
        n_done = len(self.done)
        pred = [0] * len(self.ops)
        last: dict[tuple[str, tuple[Any, ...]], int] = {}
        for i in range(n_done, len(self.ops)):
            op = self.ops[i]
            try:
                key = (op.name, op.args)
                hash(key)
            except TypeError:
                continue
            if key in last:
                pred[i] = 1 << (last[key] - n_done)
            last[key] = i
        return pred

    # -- explanations ---------------------------------------------------------

    def prefix_ids(self) -> list[list[int]]:
        """Longest prefixes as op ids; ``[[]]`` when not even one op fits."""
        return [[self.ops[i].id for i in prefix] for prefix in self.prefixes] or [[]]

    def explain(self, key: Hashable) -> tuple[int, str]:
        """The stuck op after the first longest prefix, and a one-line message.

        The stuck op is the unplaced completed op that returned first: every
        op that precedes it is placed, so it was a candidate after the prefix
        and it failed there (placing it would have made a longer prefix).
        """
        spec = self.spec
        prefix = self.prefixes[0] if self.prefixes else []
        state = self.best_state if self.prefixes else spec.init()
        placed = set(prefix)
        pending = [i for i in range(len(self.done)) if i not in placed]
        stuck = self.stuck
        if stuck is None:
            stuck = min(pending, key=lambda i: (_ret_key(self.done[i]), self.done[i].id))
        op = self.done[stuck]
        labels = [self.ops[i].label for i in prefix]
        shown = ", ".join(labels) if len(labels) <= 8 else f"... {len(labels) - 6} earlier, " + ", ".join(labels[-6:])
        where = f"after the longest linearizable prefix [{shown}]"
        now = f"the {spec.name} is {spec.describe_state(state)}"
        if spec.step(state, op.name, op.args) is BLOCKED:
            what = f"{op.call_repr()} cannot take effect: {where} {now}"
        else:
            what = f"{op.call_repr()} returned {op.result!r} but {where} {now}"
        if key is not None:
            what += f" (partition {key!r})"
        return op.id, what


def _ret_key(op: Operation) -> float:
    return float("inf") if op.ret is None else op.ret
