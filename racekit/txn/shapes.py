"""Workload shapes: which list-append transactions run together.

A *workload* is a list of rounds; a *round* is a few transactions run
concurrently; a *transaction* is a list of ``("r", key)`` and
``("append", key)`` micro-ops (the appended values are filled in when it
runs, unique per key).  Keys are small integers, so transactions collide.

Two generators: :func:`random_workload` for budgeted runs from a seed, and
:func:`workloads`, a Hypothesis strategy, so that ``hypothesis.find`` can
search for the shape that shows an anomaly and shrink it to the smallest
one - fewer rounds, fewer and shorter transactions, reads before appends,
lower keys.  For write skew that is the textbook pair: ``[r 0, append 1]``
beside ``[r 1, append 0]``.
"""

from __future__ import annotations

import random
from typing import Literal

from hypothesis import strategies as st

MopShape = tuple[Literal["r", "append"], int]
TxnShape = list[MopShape]
Round = list[TxnShape]
Workload = list[Round]


def txns(keys: int = 3, max_len: int = 4) -> st.SearchStrategy[TxnShape]:
    mop = st.tuples(st.sampled_from(["r", "append"]), st.integers(0, keys - 1))
    return st.lists(mop, min_size=1, max_size=max_len)  # type: ignore[arg-type]


def rounds(keys: int = 3, max_clients: int = 4, max_len: int = 4) -> st.SearchStrategy[Round]:
    return st.lists(txns(keys, max_len), min_size=2, max_size=max_clients)


def workloads(keys: int = 3, max_rounds: int = 3, max_clients: int = 4, max_len: int = 4) -> st.SearchStrategy[Workload]:
    """Hypothesis strategy for whole workloads."""
    return st.lists(rounds(keys, max_clients, max_len), min_size=1, max_size=max_rounds)


def random_workload(rng: random.Random, n_rounds: int, clients: int = 4, keys: int = 3, max_len: int = 4,
                    read_ratio: float = 0.5) -> Workload:
    """``n_rounds`` rounds of ``clients`` random transactions each."""
    out: Workload = []
    for _ in range(n_rounds):
        rnd: Round = []
        for _ in range(clients):
            length = rng.randint(1, max_len)
            rnd.append([("r" if rng.random() < read_ratio else "append", rng.randrange(keys)) for _ in range(length)])
        out.append(rnd)
    return out
