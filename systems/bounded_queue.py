"""Bounded blocking queue with graceful shutdown (seed exercise 2).

A producer ``put``s, consumers ``take``; the buffer holds at most
``capacity`` items, so a producer blocks while it is full and a consumer
blocks while it is empty.  ``shutdown(grace)`` closes the queue: later puts
raise :class:`ShutDown`, consumers keep draining what is buffered for up to
``grace`` seconds, then ``shutdown`` hands the leftovers back to its caller
and every consumer still waiting gets :class:`ShutDown` (the API of Python
3.13's ``queue.Queue.shutdown``, plus the leftovers).

Variants (each bug is ordinary code someone could write):

* ``condition`` (fixed) - one lock, two conditions (``not_empty``,
  ``not_full``), every wait in a ``while`` loop that also checks ``closed``,
  a ``notify`` per state change, ``notify_all`` on shutdown.
* ``check_then_put`` - the capacity check and the append sit in two critical
  sections: two producers both see room and the buffer overflows.
* ``notify_on_empty`` - the producer signals only when the queue goes from
  empty to non-empty: with two consumers waiting, two quick puts wake one of
  them and the other sleeps forever next to an item (lost wakeup).
* ``if_not_while`` - a consumer waits under ``if`` instead of ``while``; a
  consumer that arrives between the notify and the wake-up steals the item
  and the woken one pops an empty deque.
* ``shutdown_drops`` - shutdown clears the buffer (``immediate`` semantics)
  and returns nothing: buffered items vanish.
* ``shutdown_strands`` - shutdown wakes one waiting consumer with
  ``notify()`` instead of all of them: the others wait forever.
"""

from __future__ import annotations

import collections
from typing import Any

from racekit import sync, System, Variant


class ShutDown(Exception):
    """Raised by ``put`` on a closed queue and by ``take`` on a closed, empty one."""


class BoundedQueue:
    """The fixed queue: Condition + while loops, draining shutdown."""

    def __init__(self, capacity: int = 2, grace: float = 1.0) -> None:
        self.capacity = capacity
        self.grace = grace
        self.items: collections.deque[Any] = collections.deque()
        self.closed = False
        self.lock = sync.Lock()
        self.not_empty = sync.Condition(self.lock)
        self.not_full = sync.Condition(self.lock)

    def put(self, item: Any) -> None:
        with self.not_full:
            while len(self.items) >= self.capacity and not self.closed:
                self.not_full.wait()
            if self.closed:
                raise ShutDown
            self.items.append(item)
            self.not_empty.notify()

    def take(self) -> Any:
        with self.not_empty:
            while not self.items and not self.closed:
                self.not_empty.wait()
            if not self.items:
                raise ShutDown
            item = self.items.popleft()
            self.not_full.notify()  # a producer, or shutdown waiting for the drain
            return item

    def shutdown(self) -> tuple[Any, ...]:
        """Close, let consumers drain for ``grace`` seconds, return what is left."""
        with self.lock:
            if self.closed:
                return ()
            self.closed = True
            self.not_empty.notify_all()  # waiting consumers drain or see ShutDown
            self.not_full.notify_all()  # blocked producers see ShutDown
            deadline = sync.monotonic() + self.grace
            while self.items:
                remaining = deadline - sync.monotonic()
                if remaining <= 0:
                    break
                self.not_full.wait(remaining)
            left = tuple(self.items)
            self.items.clear()
            return left


class CheckThenPutQueue(BoundedQueue):
    """Bug: "is there room?" and "append" are two critical sections."""

    def put(self, item: Any) -> None:
        with self.not_full:
            while len(self.items) >= self.capacity and not self.closed:
                self.not_full.wait()
            if self.closed:
                raise ShutDown
        # There was room a moment ago; another producer may have taken it since.
        with self.not_empty:
            self.items.append(item)
            self.not_empty.notify()


class NotifyOnEmptyQueue(BoundedQueue):
    """Bug: signal consumers only on the empty -> non-empty transition."""

    def put(self, item: Any) -> None:
        with self.not_full:
            while len(self.items) >= self.capacity and not self.closed:
                self.not_full.wait()
            if self.closed:
                raise ShutDown
            self.items.append(item)
            if len(self.items) == 1:  # "nobody can be waiting if it was not empty"
                self.not_empty.notify()


class IfNotWhileQueue(BoundedQueue):
    """Bug: a consumer re-checks nothing after waking up."""

    def take(self) -> Any:
        with self.not_empty:
            if not self.items and not self.closed:
                self.not_empty.wait()
            if self.closed and not self.items:
                raise ShutDown
            item = self.items.popleft()  # IndexError when another consumer got there first
            self.not_full.notify()
            return item


class ShutdownDropsQueue(BoundedQueue):
    """Bug: shutdown throws the buffered items away."""

    def shutdown(self) -> tuple[Any, ...]:
        with self.lock:
            if self.closed:
                return ()
            self.closed = True
            self.items.clear()  # "nobody will read them anyway"
            self.not_empty.notify_all()
            self.not_full.notify_all()
            return ()


class ShutdownStrandsQueue(BoundedQueue):
    """Bug: shutdown wakes one waiting consumer, not all of them."""

    def shutdown(self) -> tuple[Any, ...]:
        with self.lock:
            if self.closed:
                return ()
            self.closed = True
            self.not_empty.notify()  # should be notify_all()
            self.not_full.notify_all()
            deadline = sync.monotonic() + self.grace
            while self.items:
                remaining = deadline - sync.monotonic()
                if remaining <= 0:
                    break
                self.not_full.wait(remaining)
            left = tuple(self.items)
            self.items.clear()
            return left


SYSTEM = System(
    name="bounded_queue",
    summary="Bounded blocking queue (one producer, many consumers) with draining shutdown",
    kind="thr",
    properties=(
        "linearizability",
        "never over capacity",
        "every item consumed exactly once or returned by shutdown",
        "deadlock",
    ),
    variants=[
        Variant("condition", BoundedQueue, expect="correct"),
        Variant(
            "check_then_put",
            CheckThenPutQueue,
            expect="violation",
            property="never over capacity",
            bug="put checks for room and appends in two critical sections: two producers both see one free slot and both append",
        ),
        Variant(
            "notify_on_empty",
            NotifyOnEmptyQueue,
            expect="violation",
            property="deadlock",
            bug="put notifies only when the queue was empty: two puts in a row wake one of two waiting consumers, the other sleeps forever beside an item",
        ),
        Variant(
            "if_not_while",
            IfNotWhileQueue,
            expect="violation",
            property="linearizability",
            bug="take waits under 'if', not 'while': a consumer arriving between notify and wake-up steals the item and the woken one pops an empty deque",
        ),
        Variant(
            "shutdown_drops",
            ShutdownDropsQueue,
            expect="violation",
            property="every item consumed exactly once or returned by shutdown",
            bug="shutdown clears the buffer and returns nothing: items that were put are neither consumed nor handed back",
        ),
        Variant(
            "shutdown_strands",
            ShutdownStrandsQueue,
            expect="violation",
            property="deadlock",
            bug="shutdown wakes waiting consumers with notify() instead of notify_all(): all but one keep waiting on a closed queue forever",
        ),
    ],
)
