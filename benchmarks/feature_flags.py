"""What sticky hashing buys over a per-request dice roll, and what a rehash-per-percentage costs.

10 000 users, flag at 50 %:
* **flip rate**: share of users whose answer differs between two requests at one version;
* **turned off by a raise**: share of users on at 20 % who are off at 30 % (the rollout
  went backwards for them) — sticky (bucket < percent) vs a baseline that rehashes with
  the percentage in the key;
* **exposure error**: |share on - target| at 1, 10, 50 %.

Deterministic (crc32 buckets, request ids as the per-request seed).  Ratios to the
per-request baseline in the same run.

    python benchmarks/feature_flags.py
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from systems.feature_flags import FLAG, sticky_on  # noqa: E402

USERS = [f"user{i}" for i in range(10_000)]


def per_request(user: str, percent: int, req: int) -> bool:
    return zlib.crc32(f"{FLAG}:{user}:{req}".encode()) % 100 < percent


def rehash(user: str, percent: int) -> bool:
    return zlib.crc32(f"{FLAG}:{percent}:{user}".encode()) % 100 < percent


def main() -> None:
    n = len(USERS)
    flips_random = sum(per_request(u, 50, 2 * i) != per_request(u, 50, 2 * i + 1) for i, u in enumerate(USERS)) / n
    flips_sticky = sum(sticky_on(FLAG, u, 50) != sticky_on(FLAG, u, 50) for u in USERS) / n
    print(f"flip rate at 50 %: per_request {flips_random:.3f}, sticky {flips_sticky:.3f} "
          f"(ratio {flips_sticky / flips_random:.2f})")
    on_rehash = [u for u in USERS if rehash(u, 20)]
    off_rehash = sum(not rehash(u, 30) for u in on_rehash) / len(on_rehash)
    on_sticky = [u for u in USERS if sticky_on(FLAG, u, 20)]
    off_sticky = sum(not sticky_on(FLAG, u, 30) for u in on_sticky) / len(on_sticky)
    print(f"on at 20 % but off at 30 %: rehash {off_rehash:.3f}, sticky {off_sticky:.3f}")
    for p in (1, 10, 50):
        share = sum(sticky_on(FLAG, u, p) for u in USERS) / n
        print(f"exposure at {p:>2} %: sticky {100 * share:.2f} % (error {abs(100 * share - p):.2f} points)")


if __name__ == "__main__":
    main()
