"""Keys moved on a join vs K/N, and load spread vs virtual nodes (pure ring code).

1. K = 20,000 keys, N -> N+1 nodes: keys moved by modulo and consistent
   hashing (32 vnodes), as a ratio to the ideal K/(N+1).
2. N = 10 nodes, K = 20,000 keys: the most loaded node / the mean, and the
   coefficient of variation, for 1..512 vnodes per node.

Writes docs/systems/sharded_kv.png when matplotlib is installed.

    python benchmarks/sharded_kv.py
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from systems.sharded_kv import ConsistentRing, ModuloRing  # noqa: E402

KEYS = [f"user:{i}" for i in range(20_000)]


def members(n: int) -> tuple[str, ...]:
    return tuple(f"s{i}" for i in range(n))


def moved(ring_cls: type, n: int, vnodes: int = 32) -> int:
    before, after = ring_cls(members(n), vnodes), ring_cls(members(n + 1), vnodes)
    return sum(before.owner(k) != after.owner(k) for k in KEYS)


def spread(vnodes: int, n: int = 10) -> tuple[float, float]:
    ring = ConsistentRing(members(n), vnodes)
    load = Counter(ring.owner(k) for k in KEYS)
    counts = [load.get(m, 0) for m in members(n)]
    mean = len(KEYS) / n
    return max(counts) / mean, statistics.pstdev(counts) / mean


def main() -> None:
    print("1. keys moved when node N+1 joins, / ideal K/(N+1)")
    print(f"{'N':>4}{'ideal':>8}{'modulo':>9}{'ratio':>8}{'consistent':>12}{'ratio':>8}")
    rows = []
    for n in (2, 3, 5, 8, 10):
        ideal = len(KEYS) / (n + 1)
        mod, con = moved(ModuloRing, n), moved(ConsistentRing, n)
        rows.append((n, mod / ideal, con / ideal))
        print(f"{n:>4}{ideal:>8.0f}{mod:>9}{mod / ideal:>7.2f}x{con:>12}{con / ideal:>7.2f}x")
    print("\n2. load spread, 10 nodes: max/mean and coefficient of variation")
    print(f"{'vnodes':>7}{'max/mean':>10}{'cv':>8}")
    spreads = []
    for v in (1, 8, 32, 128, 512):
        peak, cv = spread(v)
        spreads.append((v, peak, cv))
        print(f"{v:>7}{peak:>9.2f}x{cv:>8.3f}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no plot)")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot([r[0] for r in rows], [r[1] for r in rows], "o-", label="modulo")
    a.plot([r[0] for r in rows], [r[2] for r in rows], "s-", label="consistent (32 vnodes)")
    a.axhline(1, color="grey", lw=0.8, ls="--")
    a.set(xlabel="nodes before the join (N)", ylabel="keys moved / (K/(N+1))", title="keys moved on a join")
    a.legend()
    b.semilogx([s[0] for s in spreads], [s[1] for s in spreads], "o-", base=2, label="max / mean")
    b.semilogx([s[0] for s in spreads], [1 + s[2] for s in spreads], "s-", base=2, label="1 + cv")
    b.set(xlabel="virtual nodes per node", ylabel="load", title="load spread, 10 nodes")
    b.legend()
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "sharded_kv.png"
    fig.savefig(out, dpi=110)
    print(f"\nplot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
