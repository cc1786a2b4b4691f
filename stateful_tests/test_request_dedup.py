"""Request dedup across instance processes: the crash harness interleaves real instances.

Each instance is a worker process with its own SQLite connection (and Redis
client); the harness runs one at a time between operations on shared
state - every SQL statement, every Redis command - so two instances
handling the same request id interleave wherever they could in production.

A scenario is a list of requests ``[epoch, instance, request_id, skew_ms]``.
Server time is virtual: request ``i`` of epoch ``e`` arrives at ``e * 700 s
+ i s`` (epochs are further apart than the 10-minute window, so everything
of one epoch has expired by the next; within an epoch all requests are
seconds apart).  The client's clock is the server's plus ``skew_ms``.  The
instances of one epoch run concurrently; the next epoch starts when they
are done.  Duplicates here come from retries and
concurrency; the SQLite variants are also searched with one instance
killed anywhere (its unanswered requests go to a fresh instance), the Redis
variant is not - a test below shows why.

Checked at the end on the effects table and the store (specs/request_dedup.py):
no id processed twice within the window; every id processed; the store
holds only the last window's entries (Redis: every key expires within the
window); the answers are linearizable against the windowed model.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

import racekit
from racekit import Draw, Variant, check_history, run_scenario, variant_tests
from racekit.crash import CrashMachine, Driver, Run, Task, Violation
from racekit.crash import redis as redis_service
from specs.request_dedup import DedupSpec, Effect, check_effects, rows_over_bound, ttl_over_bound
from systems import request_dedup

TARGET = "systems.request_dedup"
EPOCH_MS = 700_000  # more than the window: an epoch starts after everything of the last one expired
STEP_MS = 1_000
WINDOW = request_dedup.WINDOW_MS


def timeline(requests: list[list[Any]]) -> list[tuple[int, str, str, int, int]]:
    """``(epoch, instance, request_id, client_ts, now)`` per request, in scenario order."""
    out = []
    for i, (epoch, instance, rid, skew) in enumerate(requests):
        now = int(epoch) * EPOCH_MS + i * STEP_MS
        out.append((int(epoch), str(instance), str(rid), now + int(skew), now))
    return out


class DedupDriver(Driver):
    target = TARGET  # the module whose serve runs in the workers (a test may plant a mutant)

    def __init__(self, variant: str, requests: list[list[Any]]) -> None:
        self.variant = variant
        self.config = request_dedup.CONFIGS[variant]
        self.requests = timeline(requests)
        self.epochs = sorted({r[0] for r in self.requests})
        self.epoch = -1
        self.running = 0
        self.ops: dict[tuple[str, int], int] = {}
        self.handled: list[tuple[str, str, int]] = []  # (instance, request id, server time) as sent
        self.db = ""
        self.redis_socket: str | None = None

    def start(self, run: Run) -> None:
        self.db = str(run.workdir / "app.db")
        request_dedup.setup(self.db, self.variant)
        if self.config.store == "redis":
            server = redis_service.shared()
            self.redis_socket = server.socket
            with server.client() as r:
                r.flushall()
        self._next_epoch(run)

    def _next_epoch(self, run: Run) -> None:
        self.epoch += 1
        if self.epoch >= len(self.epochs):
            return
        e = self.epochs[self.epoch]
        mine: dict[str, list[tuple[str, int, int]]] = {}
        for epoch, instance, rid, client_ts, now in self.requests:
            if epoch == e:
                mine.setdefault(instance, []).append((rid, client_ts, now))
        for instance in sorted(mine):
            reqs = mine[instance]
            label = f"{instance}: " + ", ".join(f"{rid} at t={now // 1000}s" for rid, _, now in reqs)
            args = {"db": self.db, "variant": self.variant, "instance": instance,
                    "requests": [list(r) for r in reqs], "redis_socket": self.redis_socket}
            task = run.submit(instance, f"{self.target}:serve", args, label=label)
            task.meta["requests"] = reqs
            self.running += 1

    def on_report(self, run: Run, task: Task, data: Any) -> None:
        if "invoke" in data:
            rid, client_ts, now = task.meta["requests"][data["invoke"]]
            if client_ts != now:
                run.note(task.name, f"client clock says t={client_ts // 1000}s")
            self.ops[(task.name, data["invoke"])] = run.invoke(task.name, "handle", (rid, now))
            self.handled.append((task.name, rid, now))
        elif "answer" in data:
            run.ok(self.ops[(task.name, data["answer"])], task.name, str(data["result"]))
            task.meta["answered"] = int(data["answer"]) + 1

    def on_done(self, run: Run, task: Task, result: Any) -> None:
        self.running -= 1
        if self.running == 0:
            self._next_epoch(run)

    def on_killed(self, run: Run, task: Task) -> None:
        """The instance died: its load balancer sends the unanswered requests (same ids) to a fresh one."""
        self.running -= 1
        answered = task.meta.get("answered", 0)
        if (task.name, answered) in self.ops:
            run.info(self.ops[(task.name, answered)], task.name, "connection reset: the client retries")
        rest = task.meta["requests"][answered:]
        if rest:
            lane = f"{task.name}-restarted"
            args = {**task.args, "instance": lane, "requests": [list(r) for r in rest]}
            retry = run.submit(lane, task.target, args, label=f"{lane}: " + ", ".join(r[0] for r in rest))
            retry.meta["requests"] = rest
            self.running += 1
        elif self.running == 0:
            self._next_epoch(run)

    def finish(self, run: Run) -> None:
        with closing(sqlite3.connect(self.db)) as con:
            effects = [Effect(str(r), str(i), int(t)) for r, i, t in
                       con.execute("SELECT request_id, instance, at_ms FROM effects ORDER BY id")]
            rows = [(str(r), int(e)) for r, e in con.execute("SELECT request_id, expires_at FROM seen ORDER BY rowid")] \
                if self.config.store == "sqlite" else []
        run.note("check", "effects", ", ".join(f"{e.request_id} by {e.instance} at t={e.at_ms // 1000}s" for e in effects) or "none")
        problem = check_effects(self.handled, effects, WINDOW)
        if problem:
            raise Violation(*problem)
        self._check_memory(run, effects, rows)
        lin = check_history(run.recorder.history(), DedupSpec(WINDOW), timeout=10)
        if lin.verdict == "violation":
            explanation = {k: v for k, v in lin.to_json().items() if k != "seconds"}
            raise Violation("linearizability", lin.message, kind="linearizability", explanation=explanation)

    def _check_memory(self, run: Run, effects: list[Effect], rows: list[tuple[str, int]]) -> None:
        if self.config.store == "sqlite":
            last = max(r[4] for r in self.requests)
            run.note("check", f"store at t={last // 1000}s", ", ".join(f"{r} until t={e // 1000}s" for r, e in rows) or "empty")
            why = rows_over_bound(rows, effects, last, WINDOW)
        elif self.config.store == "redis":
            server = redis_service.shared()
            with server.client(decode_responses=True) as r:
                ttls = {k: int(r.pttl(k)) for k in sorted(r.scan_iter(match=request_dedup.KEY_PREFIX + "*"))}
            # the TTL itself runs on Redis's clock: the trace shows only where it stands against the window
            shown = ", ".join(f"{k}: {'no TTL' if t == -1 else 'TTL within the window' if t <= WINDOW else 'TTL beyond the window'}"
                              for k, t in ttls.items())
            run.note("check", "redis keys", shown or "none")
            why = ttl_over_bound(ttls, WINDOW)
        else:
            return  # per-instance memory lives in processes that are gone
        if why:
            raise Violation("memory-bounded", why)

    def stats(self) -> dict[str, Any]:
        return {"requests": len(self.requests)}


class Machine(CrashMachine):
    system = request_dedup.SYSTEM
    max_kills = 1

    @classmethod
    def kills(cls, variant: Variant) -> int:
        """SQLite commits the mark with the effect: searched under kills too.  Redis and the
        effect are two systems - a kill between them loses the request (at-most-once; see
        test_kill_between_mark_and_effect) - so the Redis store is searched for duplicates only."""
        return 0 if variant.factory().store == "redis" else cls.max_kills

    @classmethod
    def unavailable(cls, variant: Variant) -> str | None:
        return redis_service.unavailable() if variant.factory().store == "redis" else None

    @classmethod
    def driver(cls, variant: Variant, scenario: Any) -> Driver:
        return DedupDriver(variant.name, scenario["requests"])

    @classmethod
    def seed_scenarios(cls, variant: Variant) -> list[Any]:
        return [
            # a retry (or a concurrent duplicate) of r1 reaches another instance
            {"requests": [[0, "i0", "r1", 0], [0, "i1", "r1", 0]]},
            # a client whose clock is 11 minutes behind sends r1, then retries it a second later
            {"requests": [[0, "i0", "r1", -660_000], [0, "i1", "r1", -660_000]]},
            # the window passes: r1 may be processed again, and the store forgets r1
            {"requests": [[0, "i0", "r1", 0], [1, "i0", "r2", 0], [1, "i1", "r1", 0]]},
        ]

    @classmethod
    def draw(cls, variant: Variant, draw: Draw) -> Any:
        reqs = []
        for _ in range(draw.integer(1, 4)):
            reqs.append([draw.integer(0, 1), draw.pick(["i0", "i1"]), draw.pick(["r1", "r2"]),
                         draw.pick([0, 30_000, -30_000, 660_000, -660_000])])
        reqs.sort(key=lambda r: r[0])
        return {"requests": reqs}

    @classmethod
    def shrink(cls, variant: Variant, scenario: Any) -> Iterator[Any]:
        reqs = scenario["requests"]
        for i in range(len(reqs)):
            if len(reqs) > 1:
                yield {"requests": reqs[:i] + reqs[i + 1:]}
        for i, r in enumerate(reqs):
            if r[3] != 0:
                yield {"requests": reqs[:i] + [[*r[:3], 0]] + reqs[i + 1:]}
            if r[0] != 0 and all(x[0] != 0 for x in reqs):
                yield {"requests": [[x[0] - 1, *x[1:]] for x in reqs]}

    @classmethod
    def size(cls, scenario: Any) -> int:
        return len(scenario["requests"])


@pytest.fixture(autouse=True)
def _needs_redis(request: pytest.FixtureRequest) -> None:
    """The Redis variant skips, with the reason, where redis-server is not installed."""
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("variant_name", "") if callspec is not None else ""
    if name.startswith("redis") or "redis" in request.node.name:
        reason = redis_service.unavailable()
        if reason:
            pytest.skip(reason)


test_request_dedup = variant_tests(Machine)


def test_a_duplicate_after_the_window_is_processed_again_by_sqlite_not_by_redis() -> None:
    """Outside the window both answers are allowed: SQLite forgot r1 (virtual clock), Redis has not (its own clock)."""
    scenario = {"requests": [[0, "i0", "r1", 0], [1, "i1", "r1", 0]]}
    sqlite = run_scenario(Machine, "sqlite_unique", scenario)
    assert not sqlite.failed, sqlite.message
    assert [op["result"] for op in sqlite.history] == ["processed", "processed"]
    redis = run_scenario(Machine, "redis_set_nx", scenario)
    assert not redis.failed, redis.message
    assert [op["result"] for op in redis.history] == ["processed", "duplicate"]


class KillEveryVariant(Machine):
    """The same search with one instance killed anywhere in every variant, Redis included."""

    @classmethod
    def kills(cls, variant: Variant) -> int:
        return 1


def test_kill_between_mark_and_effect() -> None:
    """What a crash does: SQLite commits the mark with the effect; Redis and the effect are two systems.

    ``SET NX`` then the effect is at-most-once under crashes: an instance
    killed between them leaves the id marked and never processed, and the
    retry is answered "duplicate".  The SQLite variant survives every kill
    (the catalogue search kills it too).
    """
    scenario = {"requests": [[0, "i0", "r1", 0]]}
    sqlite = racekit.every_schedule(KillEveryVariant, "sqlite_unique", scenario)
    assert not sqlite.failed, sqlite.message
    assert sqlite.coverage.exhaustive
    lossy = racekit.search(KillEveryVariant, "redis_set_nx")
    assert lossy.failed and lossy.property == "no-request-lost", lossy.message
    assert lossy.stats["kills"] == 1


def planted(module: str) -> type[CrashMachine]:
    """``Machine`` whose instances run ``tests.crash_mutants.<module>`` (a patched copy of the system)."""

    class Mutant(Machine):
        @classmethod
        def driver(cls, variant: Variant, scenario: Any) -> Driver:
            d = DedupDriver(variant.name, scenario["requests"])
            d.target = f"tests.crash_mutants.{module}"
            return d

    return Mutant


@pytest.mark.parametrize(("variant", "module"), [("redis_set_nx", "request_dedup_no_expiry"),
                                                  ("sqlite_unique", "request_dedup_no_purge")])
def test_a_store_that_never_forgets_is_caught(variant: str, module: str) -> None:
    """memory-bounded has teeth: SET NX without PX, or no purge of expired rows, is found."""
    out = racekit.search(planted(module), variant)
    assert out.failed and out.property == "memory-bounded", (out.property, out.message)
