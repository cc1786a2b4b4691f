"""optimistic_locking/version_cas whose UPDATE lost its ``AND version = ?`` guard.

A read -> compute -> write with nothing between the statements but Python:
no hand-placed point marks the window, so only points at the statements
themselves can interleave another client there.
"""

from __future__ import annotations

from racekit.crash import report
from systems import optimistic_locking as ol


class Unguarded(ol.Register):
    def add(self, delta: int) -> tuple[int, int]:
        value, _version = self.read()
        # MUTANT: no "AND version = ?", and nothing marks the window after the read
        self.con.execute("UPDATE register SET value = ?, version = version + 1 WHERE id = 1", (value + delta,))
        return value, value + delta


def client(db: str, mode: str, ops: list[list[int | str]]) -> int:
    reg = Unguarded(db, mode)
    try:
        for i, op in enumerate(ops):
            report({"invoke": i})
            if op[0] == "add":
                seen, wrote = reg.add(int(op[1]))
                report({"ok": i, "cas": [seen, wrote]})
            else:
                report({"ok": i, "read": reg.read()[0]})
        return reg.retries
    finally:
        reg.close()
