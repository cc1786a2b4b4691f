"""event_invalidation at a production-like rate: staleness from lost and crossed events, and the TTL backstop's price.

The catalogue's own event handling (``apply_event``, ``fill``,
``fresh_value`` from ``systems/event_invalidation.py``) on the real SQLite
database and the in-process Redis model, outside the simulator, on virtual
time (``benchmarks/_cache_workload.py``): 10 keys, 200 reads/s, writes per
key at two rates from many application servers; a writer commits (the
answer back after an exponential latency, mean 5 ms) and publishes the
change event, which reaches the cache after another such latency (so two
events of one key can cross) or is lost with probability 1 % (a
subscriber that was disconnected: Redis pub/sub keeps nothing).  A miss
reads the database and fills.  300 virtual seconds, one seed, warm cache.
Baseline: no cache, same workload, same run.

Per design: database queries per read (and the ratio to no cache), events
lost (the same events for every design), stale reads (including those in
the ~10 ms between a commit and its event's arrival), mean and worst
staleness.  Without a TTL a lost or overtaken event leaves the entry stale
until the key's next write (for good, if there is none); with one, at most
a TTL.

    python benchmarks/event_invalidation.py
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _cache_workload import Judge, LatentDatabase, Loop, workload  # noqa: E402

from systems._cache_parts import INITIAL, ModelCache  # noqa: E402
from systems.event_invalidation import POLICIES, Policy, apply_event, fill, fresh_value  # noqa: E402

KEYS = tuple(f"k{i}" for i in range(10))
READ_RATE = 200.0
WRITE_RATES = (0.2, 2.0)  # writes per second per key
LATENCY = 0.005
LOSS = 0.01
SECONDS = 300.0
SEED = 19

DESIGNS: list[tuple[str, Policy | None]] = [
    ("no cache", None),
    ("fire_and_forget", POLICIES["fire_and_forget"]),
    ("unversioned", POLICIES["unversioned"]),
    *[(f"versioned_ttl {ttl:g}s", Policy(versioned=True, ttl_ms=int(ttl * 1000))) for ttl in (0.25, 1.0, 5.0)],
]


class EventCache:
    """A writer publishes after its commit; the cache applies events, a miss fills."""

    def __init__(self, loop: Loop, db: LatentDatabase, policy: Policy | None) -> None:
        self.loop, self.db, self.policy = loop, db, policy
        self.cache = ModelCache()
        self.lost = 0
        if policy is not None:
            for key in KEYS:
                apply_event(self.cache, policy, key, INITIAL, 1, 0.0)

    def ms(self) -> float:
        return self.loop.now * 1000

    def update(self, key: str, value: int) -> None:
        version = self.db.commit(key, value)
        policy = self.policy
        if policy is None:
            return
        fate = random.Random(f"{SEED}-{value}")  # the same events are lost, equally late, for every design
        if fate.random() < LOSS:
            self.lost += 1
            return
        delay = fate.expovariate(1 / LATENCY)
        self.loop.at(self.loop.now + delay, lambda: apply_event(self.cache, policy, key, value, version, self.ms()))

    def read(self, key: str) -> int:
        asked = self.ms()
        if self.policy is not None:
            value = fresh_value(self.cache, key, asked)
            if value is not None:
                return value
        value, version = self.db.read(key)
        if self.policy is not None:
            fill(self.cache, self.policy, key, value, version, asked)
        return value


def run(policy: Policy | None, write_rate: float) -> dict[str, float]:
    loop = Loop(SEED)
    db = LatentDatabase(keys=KEYS, clock=loop, loop=loop, mean_latency=LATENCY)
    app = EventCache(loop, db, policy)
    judge = Judge(db)

    def reader(key: str) -> Callable[[], None]:
        def body() -> None:
            start = loop.now
            judge.read(key, start, loop.now, app.read(key))
        return body

    def writer(key: str, value: int) -> Callable[[], None]:
        return lambda: app.update(key, value)

    for t, op, key, value in workload(SEED, KEYS, READ_RATE, write_rate, SECONDS):
        loop.spawn(t, reader(key) if op == "read" else writer(key, value))
    loop.run()
    reads, _, ages = judge.outcome()
    stale = [a for a in ages if a > 0]
    return {"reads": reads, "queries": db.queries, "lost": app.lost, "stale": len(stale),
            "mean": sum(ages) / len(ages), "worst": max(stale, default=0.0)}


def main() -> None:
    print(f"{len(KEYS)} keys, {READ_RATE:g} reads/s, database answers and events after {LATENCY * 1e3:g} ms "
          f"on average, {LOSS:.0%} of events lost, {SECONDS:g} virtual s\n")
    for rate in WRITE_RATES:
        print(f"writes: {rate:g}/s per key")
        print(f"{'design':<22}{'queries/read':>13}{'vs no cache':>12}{'events lost':>12}{'stale reads':>12}"
              f"{'mean stale':>12}{'max stale':>11}")
        results = [(name, run(policy, rate)) for name, policy in DESIGNS]
        base = results[0][1]["queries"]
        for name, r in results:
            print(f"{name:<22}{r['queries'] / r['reads']:>13.3f}{r['queries'] / base:>12.3f}{int(r['lost']):>12}"
                  f"{r['stale'] / r['reads']:>11.2%}{r['mean'] * 1e3:>10.1f}ms{r['worst']:>10.2f}s")
        print()


if __name__ == "__main__":
    main()
