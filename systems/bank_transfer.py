"""Bank transfers between accounts (seed exercise 3).

``transfer(src, dst, amount)`` moves money when ``src`` has enough and
returns True, else returns False and changes nothing; ``balance(n)`` reads
one account.  Each account has its own lock, so transfers between disjoint
accounts run in parallel - and a transfer needs two locks.

Variants:

* ``ordered`` (fixed) - take the two locks in account-number order: every
  thread acquires locks in one global order, so no wait-for cycle can form.
* ``unsynchronized`` - no locks: ``balance -= amount`` is a read and a
  write, two transfers interleave and money is created or destroyed.
* ``lock_from_then_to`` - lock the source, then the destination: transfers
  0->1 and 1->0 each hold one lock and wait for the other (deadlock).
* ``trylock_spin`` - lock the source, *try* the destination, on failure
  release and retry at once: nobody ever waits, so no deadlock - but two
  transfers can keep backing off forever (livelock, caught by the step bound).
* ``check_outside_lock`` - checks for funds before taking the locks: two
  transfers both see enough money and the account goes negative.
"""

from __future__ import annotations

from racekit import sync, System, Variant

# Locks are taken with acquire()/try/finally rather than ``with``: the opcode
# tracer sees the call of a ``with`` block's ``__exit__`` as an opaque call
# that conflicts with every other thread's memory access, which makes the
# exhaustive DFS of a 3-transfer cycle explode (43 schedules vs > 40,000).


class Account:
    def __init__(self, number: int, balance: int) -> None:
        self.number = number
        self.balance = balance
        self.lock = sync.Lock()


class Bank:
    """Accounts 0..n-1, each starting with ``balance``."""

    def __init__(self, accounts: int = 3, balance: int = 5) -> None:
        self.accounts = [Account(i, balance) for i in range(accounts)]
        self.initial_total = accounts * balance

    def balance(self, number: int) -> int:
        account = self.accounts[number]
        account.lock.acquire()
        try:
            return account.balance
        finally:
            account.lock.release()

    def balances(self) -> list[int]:
        """Every balance, unlocked: for checks at quiescence only."""
        return [a.balance for a in self.accounts]

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        if src == dst or amount <= 0:
            return False
        a, b = self.accounts[src], self.accounts[dst]
        first, second = (a, b) if a.number < b.number else (b, a)
        first.lock.acquire()
        second.lock.acquire()
        try:
            return self._move(a, b, amount)
        finally:
            second.lock.release()
            first.lock.release()

    @staticmethod
    def _move(a: Account, b: Account, amount: int) -> bool:
        if a.balance < amount:
            return False
        a.balance -= amount
        b.balance += amount
        return True


class UnsynchronizedBank(Bank):
    """Bug: no locks at all."""

    def balance(self, number: int) -> int:
        return self.accounts[number].balance

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        if src == dst or amount <= 0:
            return False
        return self._move(self.accounts[src], self.accounts[dst], amount)


class LockFromThenToBank(Bank):
    """Bug: lock order depends on the transfer's direction."""

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        if src == dst or amount <= 0:
            return False
        a, b = self.accounts[src], self.accounts[dst]
        with a.lock, b.lock:
            return self._move(a, b, amount)


class TrylockSpinBank(Bank):
    """Bug: back off and retry immediately when the second lock is busy."""

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        if src == dst or amount <= 0:
            return False
        a, b = self.accounts[src], self.accounts[dst]
        while True:
            a.lock.acquire()
            if b.lock.acquire(blocking=False):
                break
            a.lock.release()  # "avoid deadlock": give way, then try again at once
        try:
            return self._move(a, b, amount)
        finally:
            b.lock.release()
            a.lock.release()


class CheckOutsideLockBank(Bank):
    """Bug: the funds check runs before the locks are taken."""

    def transfer(self, src: int, dst: int, amount: int) -> bool:
        if src == dst or amount <= 0:
            return False
        a, b = self.accounts[src], self.accounts[dst]
        if a.balance < amount:  # fast path: reject without locking
            return False
        first, second = (a, b) if a.number < b.number else (b, a)
        with first.lock, second.lock:
            a.balance -= amount
            b.balance += amount
            return True


SYSTEM = System(
    name="bank_transfer",
    summary="Transfers between per-account-locked accounts: races, deadlock, livelock, ordered locking",
    kind="thr",
    properties=("total conserved", "no negative balance", "deadlock", "livelock", "linearizability"),
    variants=[
        Variant("ordered", Bank, expect="correct"),
        Variant(
            "unsynchronized",
            UnsynchronizedBank,
            expect="violation",
            property="total conserved",
            bug="balance -= amount and balance += amount are unlocked read-modify-writes: two transfers touching one account interleave and money is created or destroyed",
        ),
        Variant(
            "lock_from_then_to",
            LockFromThenToBank,
            expect="violation",
            property="deadlock",
            bug="each transfer locks its source then its destination: 0->1 holds lock 0 and waits for lock 1 while 1->0 holds lock 1 and waits for lock 0",
        ),
        Variant(
            "trylock_spin",
            TrylockSpinBank,
            expect="violation",
            property="livelock",
            bug="on a busy destination lock the transfer releases its source lock and retries at once: it never blocks, so it never deadlocks, but it can retry forever",
        ),
        Variant(
            "check_outside_lock",
            CheckOutsideLockBank,
            expect="violation",
            property="linearizability",
            bug="the funds check runs before the locks are taken: two transfers from one account both pass it and the balance goes negative",
        ),
    ],
)
