"""exactly_once/inbox with the inbox row committed in its own transaction, before the effect's.

A kill between the two commits leaves the message marked as seen with no
effect: the redelivery is skipped as a duplicate and the effect is lost.
"""

from __future__ import annotations

import sqlite3

from racekit.crash import report
from systems import exactly_once


class InboxOwnTxn(exactly_once.Consumer):
    def apply(self, msg_id: int, account: str, amount: int, dedup: bool) -> bool:
        if dedup:  # MUTANT: the inbox row gets a transaction of its own
            self.app.execute("BEGIN IMMEDIATE")
            try:
                self.app.execute("INSERT INTO inbox(msg_id) VALUES (?)", (msg_id,))
            except sqlite3.IntegrityError:
                self.app.execute("ROLLBACK")
                return False
            self.app.execute("COMMIT")
        self.app.execute("BEGIN IMMEDIATE")
        try:
            self.app.execute("INSERT INTO effects(msg_id, account, amount) VALUES (?, ?, ?)", (msg_id, account, amount))
            self.app.execute(
                "INSERT INTO balances VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET amount = amount + excluded.amount",
                (account, amount),
            )
        except BaseException:
            self.app.execute("ROLLBACK")
            raise
        self.app.execute("COMMIT")
        return True


def consume(broker: str, app: str, variant: str, deliveries: list[int]) -> int:
    c = InboxOwnTxn(broker, app, variant)
    try:
        for i, msg_id in enumerate(deliveries):
            report({"delivery": i})
            c.handle(msg_id)
        return len(deliveries)
    finally:
        c.close()
