"""Iterative bounding: shallow bugs first (CHESS, Musuvathi & Qadeer 2007).

Runs the inner exhaustive strategy (DPOR for threads, prefix DFS for the
simulator and real processes) with at most 1 deviation on every seed
scenario, then at most 2 ... up to ``max_bound``, then without a bound.
Bound 0 is not a level of its own: its schedules lie inside bound 1's, and
a separate level, re-run inside the next, cost more schedules to the first
failure than it saved on 10 of the 13 classic programs in
benchmarks/classics.py (docs/scheduler.md).  Real processes start at 0
(``first_bound``): a run costs a process start, and their systems document
the bug a kill-free schedule shows first.  A deviation is a preemption (threads), a fault or a reordering
(simulator), a kill or a switch between workers (processes).  A bug
reachable with one preemption is found after the handful of 1-bounded
schedules, before any deep tree is walked, and the failure found first has
the fewest deviations bounded search can show.  Each level re-runs the
shallower schedules: cheap, as a level is far larger than all before it.
A scenario whose whole space fit in a level is not run again.  Coverage
counts distinct schedules - each seed's last finished pass - not the
re-runs, nor a level begun and not finished.
"""

from __future__ import annotations

from dataclasses import replace

from racekit.choice.coverage import Coverage
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Strategy, Trial, make, register


@register("bounded", "iterative bounding 0, 1, 2 ... deviations, then unbounded (default); knob max_bound")
class BoundedStrategy:
    name = "bounded"

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self.top = knobs.max_bound if knobs.bound is None else knobs.bound
        self.level: int | None = min(knobs.first_bound, self.top)  # bound 0 lies inside bound 1 (module doc)
        self.seed = 0
        self.runs = 0
        self.done = False
        self.hit = False
        self.complete: set[int] = set()  # seeds whose whole space was run
        self.reached: int | None = None  # the last level finished on every seed
        self.pass_runs = 0  # runs of the current pass (one level on one seed)
        self.covered: dict[int, int] = {}  # per seed: runs of its last finished pass
        self.reached_runs = 0  # distinct schedules within ``reached``, over every seed
        self.inner: Strategy = self._make()

    def _make(self) -> Strategy:
        self.pass_runs = 0
        return make(self.knobs.inner, replace(self.knobs, bound=self.level))

    def next_trial(self) -> Trial | None:
        while not self.done:
            trial = self.inner.next_trial()
            if trial is not None:
                trial.seed = self.seed
                return trial
            if self.inner.coverage().exhaustive:
                self.complete.add(self.seed)
            self.covered[self.seed] = self.pass_runs
            self._advance()
        return None

    def _advance(self) -> None:
        seeds = [s for s in range(self.knobs.seeds) if s > self.seed and s not in self.complete]
        if seeds:
            self.seed = seeds[0]
        else:
            self.reached = self.level
            self.reached_runs = sum(self.covered.values())
            left = [s for s in range(self.knobs.seeds) if s not in self.complete]
            if not left or self.level is None:
                self.done = True
                return
            if self.level < self.top:
                self.level += 1
            elif self.knobs.bound is not None:
                self.done = True  # asked for at most this bound
                return
            else:
                self.level = None  # then the whole space
            self.seed = left[0]
        self.inner = self._make()

    def observe(self, result: Result, hit: bool) -> None:
        self.runs += 1
        self.pass_runs += 1
        self.inner.observe(result, hit)
        if hit:
            self.done = self.hit = True

    def coverage(self) -> Coverage:
        if self.hit or self.runs == 0:
            return Coverage.sampled(self.runs)
        if self.done and len(self.complete) == self.knobs.seeds:
            return Coverage("exhaustive", sum(self.covered.values()))
        if self.reached is not None:
            return Coverage("bounded", self.reached_runs, self.reached, self.knobs.unit)
        return Coverage.sampled(self.runs)

    def abandon(self, error: BaseException) -> bool:
        return False

    def close(self) -> None:
        self.inner.close()
