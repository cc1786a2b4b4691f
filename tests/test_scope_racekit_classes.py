"""A user module that names one of racekit's own classes must not get that
class's code traced: a NamedTuple's generated ``__new__`` has the file
``"<string>"``, which once made racekit's ``Access`` constructor traced for
the rest of the process and every later DPOR search switch inside the
scheduler's own bookkeeping (a Condition program then ran 160,000+ schedules)."""

from __future__ import annotations

import threading
from typing import Any

import racekit
from racekit.sched.access import Access
from racekit.sched.scope import scope_of


def uses_access() -> Any:
    return Access


def test_a_racekit_namedtuple_in_user_globals_is_not_in_scope() -> None:
    assert not any(f.startswith("<") for f in scope_of(uses_access).files)


def test_a_search_after_one_that_named_racekit_classes_stays_small() -> None:
    racekit.explore(list, lambda log: [uses_access, uses_access], strategy="dpor")

    class Box:
        def __init__(self) -> None:
            self.items: list[int] = []
            self.cv = threading.Condition()
            self.taken: list[int] = []

    def threads(b: Box) -> list[Any]:
        def waiter() -> None:
            with b.cv:
                while not b.items:
                    b.cv.wait()
                b.taken.append(b.items[0])

        def opener() -> None:
            with b.cv:
                b.items.append(7)
                b.cv.notify_all()

        return [waiter, waiter, opener]

    r = racekit.explore(Box, threads, lambda b: None, strategy="dpor", budget=5_000)
    assert r.exhausted and not r.failed and r.schedules < 1_000, r
