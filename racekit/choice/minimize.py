"""Greedy minimization of a failing choice list.

Works on the recorded choices directly and keeps a change only if the same
property still fails: zero a choice (one deviation fewer; also with the
one or two choices that followed it, such as a fault's size), delete a block
of choices, lower a value.  Size is ``(non-zero choices, their sum,
length)``, the measure the "0 is boring" encoding is designed for; trailing
zeros are implied (answers past the end of a list are 0).
"""

from __future__ import annotations

from collections.abc import Callable

Replayer = Callable[[list[int]], "list[int] | None"]
"""Replays a candidate; returns the choices the run actually consumed if it still fails."""


def size(choices: list[int]) -> tuple[int, int, int]:
    return (sum(1 for c in choices if c), sum(choices), len(choices))


def normalize(choices: list[int]) -> list[int]:
    out = list(choices)
    while out and out[-1] == 0:
        out.pop()
    return out


def minimize_choices(choices: list[int], replay: Replayer, budget: int = 300) -> tuple[list[int], int]:
    """Greedy fixpoint within ``budget`` replays; returns (smallest failing choices, replays used)."""
    best = normalize(choices)
    used = 0

    def attempt(candidate: list[int]) -> bool:
        nonlocal best, used
        if used >= budget:
            return False
        used += 1
        got = replay(normalize(candidate))
        if got is not None and size(normalize(got)) < size(best):
            best = normalize(got)
            return True
        return False

    improved = True
    while improved and used < budget:
        improved = False
        for i in range(len(best) - 1, -1, -1):  # zero, from the end
            if i >= len(best) or not best[i]:
                continue
            for tail in (0, 1, 2):
                if attempt(best[:i] + [0] + best[i + 1 + tail :]):
                    improved = True
                    break
        block = max(1, len(best) // 2)
        while block >= 1 and used < budget:  # delete blocks, halving
            i = 0
            while i < len(best) and used < budget:
                if attempt(best[:i] + best[i + block :]):
                    improved = True
                else:
                    i += block
            block //= 2
        for i in range(len(best)):  # lower values
            lower = sorted({best[i] // 2, best[i] - 1} - {best[i]}) if i < len(best) and best[i] > 1 else []
            for value in lower:
                if attempt(best[:i] + [value] + best[i + 1 :]):
                    improved = True
                    break
    return best, used
