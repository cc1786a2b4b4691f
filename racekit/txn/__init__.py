"""Transactional isolation checking in the manner of Jepsen's Elle.

``check(history, options)`` takes a list-append or rw-register history of
transactions and returns a :class:`TxnResult`: valid / invalid / unknown, the
anomalies found (G0, G1a, G1b, G1c, G-single, G-nonadjacent, G2-item, lost
update, internal, ...), one explained cycle per cycle anomaly and strongly
connected component, and the weakest consistency models the history rules
out.  ``load``/``parse`` read Elle's EDN histories; ``racekit txncheck`` is the
command line.  See ``docs/txncheck.md``.
"""

from racekit.txn.check import TxnResult, check, normalize_options
from racekit.txn.history import WORKLOADS, Op, TxnHistory, from_records, load, parse

__all__ = ["WORKLOADS", "Op", "TxnHistory", "TxnResult", "check", "from_records", "load", "normalize_options", "parse"]
