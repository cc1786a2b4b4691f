"""Planted bugs in the caching systems' fixed variants: does the check catch each one?

``racekit mutate`` generates syntactic mutants (comparisons flipped, locks
removed, assignments dropped); the bugs that matter most in cache code are
about *which request happens when*: a cache write before the commit, a
plain SET where a versioned one belongs, a TTL counted from the wrong
moment.  Each entry below is such a bug, written the way a person would
write it, planted in a copy of the system module, and checked with the same
``racekit check SYSTEM --variant V`` a user runs (via
``racekit.mutation.runner``: a scratch copy of the catalogue, a
subprocess).  Prints one row per bug: caught or not, by which property.

    python benchmarks/caching_planted.py [-j 2] [--only SYSTEM]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from racekit.mutation.runner import run_check, verdict  # noqa: E402


@dataclass(frozen=True)
class Plant:
    system: str
    variant: str
    what: str
    old: str
    new: str


PLANTS = [
    # write_through
    Plant("write_through", "versioned", "plain SET instead of the versioned set",
          "self.cache.store_if_newer(key, value, version)", "self.cache.store(key, value, version)"),
    Plant("write_through", "versioned", "version stored one lower than committed",
          "self.cache.store_if_newer(key, value, version)", "self.cache.store_if_newer(key, value, version - 1)"),
    Plant("write_through", "invalidate", "refresh the entry instead of deleting it",
          "        self.cache.evict(key)\n        return \"ok\"", "        self.cache.store(key, value)\n        return \"ok\""),
    Plant("write_through", "versioned", "reads bypass the cache",
          "if entry is not None and entry.value is not None:\n            return entry.value",
          "if entry is not None and entry.value is None:\n            return entry.value"),
    # read_through
    Plant("read_through", "lease", "fill with a plain SET, ignoring the lease",
          "self.cache.fill_with_lease(key, value, version, got.token)", "self.cache.store(key, value, version)"),
    Plant("read_through", "lease", "invalidate before the commit",
          "        try:\n            self.db.commit(key, value)\n        except Rejected:\n            return \"rejected\"\n        self.cache.evict(key)\n        return \"ok\"",
          "        self.cache.evict(key)\n        try:\n            self.db.commit(key, value)\n        except Rejected:\n            return \"rejected\"\n        return \"ok\""),
    Plant("read_through", "version_tokens", "delete instead of a versioned tombstone",
          "self.cache.store_if_newer(key, None, version)", "self.cache.evict(key)"),
    Plant("read_through", "version_tokens", "fill with a plain SET",
          "self.cache.store_if_newer(key, value, version, or_same=True)  # refused",
          "self.cache.store(key, value, version)  # refused"),
    Plant("read_through", "version_tokens", "a fill may not replace the tombstone of its own version",
          "self.cache.store_if_newer(key, value, version, or_same=True)  # refused",
          "self.cache.store_if_newer(key, value, version)  # refused"),
    # ttl_vs_version
    Plant("ttl_vs_version", "ttl", "TTL counted from the fill (SET ... PX ttl)",
          "expires=now + self.ttl)", "expires=self.clock() + self.ttl)"),
    Plant("ttl_vs_version", "ttl", "TTL twice as long as promised",
          "expires=now + self.ttl)", "expires=now + 2 * self.ttl)"),
    Plant("ttl_vs_version", "version_check", "serve any cached entry without the version check",
          "if entry is not None and entry.value is not None and entry.version == current:",
          "if entry is not None and entry.value is not None:"),
    Plant("ttl_vs_version", "version_check", "fill without the row's version (never matches again)",
          "self.cache.store_if_newer(key, value, version)  # a slow reader", "self.cache.store_if_newer(key, value, 0)  # a slow reader"),
    # event_invalidation
    Plant("event_invalidation", "versioned_ttl", "events applied without the version check",
          "    if policy.versioned:\n        return cache.store_if_newer", "    if False:\n        return cache.store_if_newer"),
    Plant("event_invalidation", "versioned_ttl", "events stored without a TTL",
          "expires = None if policy.ttl_ms is None else now + policy.ttl_ms", "expires = None"),
    Plant("event_invalidation", "versioned_ttl", "refill with a plain SET over newer events",
          "        cache.store_if_newer(key, value, version, asked + policy.ttl_ms, or_same=True)",
          "        cache.store(key, value, version, asked + policy.ttl_ms)"),
    Plant("event_invalidation", "versioned_ttl", "a refill may not renew an expired entry of its own version",
          "        cache.store_if_newer(key, value, version, asked + policy.ttl_ms, or_same=True)",
          "        cache.store_if_newer(key, value, version, asked + policy.ttl_ms)"),
    Plant("event_invalidation", "versioned_ttl", "sliding TTL: every hit pushes the expiry out",
          "        if value is not None:\n            self.reply(client, request, value)",
          "        if value is not None:\n            entry = self.cache.lookup(key)\n"
          "            self.cache.store(key, value, entry.version, self.monotonic() + TTL_MS)\n"
          "            self.reply(client, request, value)"),
]


def run(plant: Plant, profile: str) -> tuple[Plant, str, str | None, str]:
    path = ROOT / "systems" / f"{plant.system}.py"
    text = path.read_text(encoding="utf-8")
    if text.count(plant.old) != 1:
        return plant, "error", None, f"the text to replace occurs {text.count(plant.old)} times"
    mutated = text.replace(plant.old, plant.new)
    result = run_check(ROOT, plant.system, plant.variant, mutated, profile, timeout=600)
    status, prop, message = verdict(result)
    return plant, status, prop, message


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--only", default=None)
    ap.add_argument("--profile", default="ci")
    args = ap.parse_args()
    plants = [p for p in PLANTS if args.only in (None, p.system)]
    with ThreadPoolExecutor(args.j) as pool:
        rows = list(pool.map(lambda p: run(p, args.profile), plants))
    caught = 0
    print("| system | variant | planted bug | verdict | property |\n|---|---|---|---|---|")
    for plant, status, prop, message in rows:
        caught += status == "killed"
        shown = prop if status == "killed" else message[:80]
        print(f"| {plant.system} | {plant.variant} | {plant.what} | {status} | {shown or ''} |")
    print(f"\n{caught}/{len(rows)} planted bugs caught")


if __name__ == "__main__":
    main()
