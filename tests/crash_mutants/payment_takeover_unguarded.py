"""payment_processor/unique_key whose take-over UPDATE lacks its ``owner IS ?`` guard.

Two requests that both saw the dead owner both take the row over, both ask
the provider (nothing yet), and both charge.
"""

from __future__ import annotations

from typing import Any

from systems import payment_processor as pp


class UnguardedTakeOver(pp.Processor):
    def _take_over(self, key: str, owner: str | None) -> bool:
        with pp.write_txn(self.db):
            cur = self.db.execute(  # MUTANT: no "AND owner IS ?": whoever asks gets the row
                "UPDATE payments SET owner = ? WHERE key = ? AND state = 'pending'", (self.me, key)
            )
        return cur.rowcount == 1


def pay(db: str, provider: str, variant: str, key: str, amount: int) -> list[Any]:
    p = UnguardedTakeOver(db, provider, variant)
    try:
        status, body = p.pay(key, amount)
        return [status, body]
    finally:
        p.close()


def recover(db: str, provider: str, variant: str) -> int:
    p = UnguardedTakeOver(db, provider, variant)
    try:
        return p.recover()
    finally:
        p.close()
