"""Condition operators (ConMAn RCXC, RNA, and the classic ``while`` -> ``if``).

* ``while_to_if``: a waiter that does not re-check its predicate after
  waking (spurious wake-ups, a stolen item, a notify meant for another).
* ``drop_notify``: a state change that signals nobody (lost wake-up).
* ``narrow_notify``: ``notify_all`` -> ``notify``: one waiter woken where
  several must be (shutdown, a predicate only some waiters want).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from racekit.mutation.operators import Mutation, Unit, operator
from racekit.mutation.source import WAIT_CALLS, Edit, call_name, calls_in, stmt_call


@operator("while_to_if", "conditions", "wait under 'if' instead of 'while': no re-check after waking")
def while_to_if(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for node in ast.walk(unit.node):
        if isinstance(node, ast.While) and calls_in(node.body, WAIT_CALLS):
            at = src.start(node)
            if src.text[at : at + 5] == "while":
                yield Mutation(node, (Edit(at, at + 5, "if"),), note="while -> if")


@operator("drop_notify", "conditions", "remove a notify / notify_all call")
def drop_notify(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for node in ast.walk(unit.node):
        if isinstance(node, ast.stmt):
            call = stmt_call(node)
            if call is not None and call_name(call) in ("notify", "notify_all"):
                yield Mutation(node, (Edit(src.start(node), src.end(node), "pass"),), note=f"{call_name(call)} removed")


@operator("narrow_notify", "conditions", "notify_all -> notify")
def narrow_notify(unit: Unit) -> Iterator[Mutation]:
    src = unit.src
    for node in ast.walk(unit.node):
        if isinstance(node, ast.Call) and call_name(node) == "notify_all" and isinstance(node.func, ast.Attribute):
            recv = src.segment(node.func.value)
            yield Mutation(node, (Edit(src.start(node.func), src.end(node.func), f"{recv}.notify"),),
                           note="notify_all -> notify")
