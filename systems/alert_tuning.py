"""Alert threshold tuning (seed exercise 34): when does a noisy metric page someone?

A rule is evaluated at every sample (every ``STEP`` seconds, as Prometheus
evaluates at its scrape interval) and is, at each one, ``ok``, ``pending``
(breaching, waiting out its for-duration) or ``firing``.  The metric is a
utilisation percentage; a breach is a value above ``FIRE`` (90).

Variants:

* ``raw_threshold`` - fires while the value is above 90, resolves as soon
  as it is not: noise around 90 pages and un-pages at every sample.
* ``for_only`` - Prometheus' classic ``for: 1m``: pending while above 90,
  firing once it has been above for ``FOR`` seconds, resolved at the first
  sample at or below 90.  It ignores short spikes, but noise that stays
  above for a minute and dips once still flaps.
* ``hysteresis_for`` (fixed) - fires after ``FOR`` seconds above 90, and
  once firing resolves only below ``CLEAR`` (80): noise narrower than the
  10-point gap can fire it once, never flap it.

Each rule is a small streaming evaluator (``observe(t, value) -> state``),
the shape an alerting engine runs per series; :func:`run_rule` feeds it a
whole series.
"""

from __future__ import annotations

from typing import Literal

from racekit import System, Variant

State = Literal["ok", "pending", "firing"]

STEP = 15  # seconds between samples (and evaluations)
FIRE = 90  # a value above this is a breach
CLEAR = 80  # hysteresis: a firing alert resolves only below this
FOR = 60  # seconds a breach must last before the alert fires


class RawThreshold:
    """``value > fire``: the alert is the comparison, sample by sample."""

    def __init__(self, fire: float = FIRE) -> None:
        self.fire = fire

    def observe(self, t: int, value: float) -> State:
        return "firing" if value > self.fire else "ok"


class ForOnly:
    """``value > fire`` with ``for: 60s``: pending first, firing after a minute."""

    def __init__(self, fire: float = FIRE, for_s: int = FOR) -> None:
        self.fire, self.for_s = fire, for_s
        self.active_since: int | None = None

    def observe(self, t: int, value: float) -> State:
        if value <= self.fire:
            self.active_since = None
            return "ok"
        if self.active_since is None:
            self.active_since = t
        return "firing" if t - self.active_since >= self.for_s else "pending"


class HysteresisFor:
    """Fire after a minute above ``fire``; once firing, resolve only below ``clear``."""

    def __init__(self, fire: float = FIRE, clear: float = CLEAR, for_s: int = FOR) -> None:
        self.fire, self.clear, self.for_s = fire, clear, for_s
        self.active_since: int | None = None
        self.firing = False

    def observe(self, t: int, value: float) -> State:
        if self.firing:
            if value < self.clear:
                self.firing = False
                self.active_since = None
                return "ok"
            return "firing"
        if value <= self.fire:
            self.active_since = None
            return "ok"
        if self.active_since is None:
            self.active_since = t
        if t - self.active_since >= self.for_s:
            self.firing = True
            return "firing"
        return "pending"


def run_rule(rule: RawThreshold | ForOnly | HysteresisFor, samples: list[float]) -> list[State]:
    """The rule's state at each sample; sample ``i`` is taken at ``i * STEP`` seconds."""
    return [rule.observe(i * STEP, v) for i, v in enumerate(samples)]


SYSTEM = System(
    name="alert_tuning",
    summary="A threshold alert on a noisy metric: raw, for-duration, hysteresis + for-duration",
    kind="series",  # a pure function of its input series: racekit.SeriesMachine runs it
    properties=(
        "few_transitions",
        "detects_sustained_breach",
        "resolves_when_clear",
        "resolves_only_below_clear",
        "fires_only_after_for",
    ),
    variants=[
        Variant(
            "raw_threshold",
            RawThreshold,
            expect="violation",
            property="few_transitions",
            bug="fires above 90 and resolves at 90: noise around the threshold pages and un-pages at every sample",
        ),
        Variant(
            "for_only",
            ForOnly,
            expect="violation",
            property="few_transitions",
            bug="for: 1m without hysteresis: a minute of noise just above 90 fires it, one sample just below resolves it",
        ),
        Variant("hysteresis_for", HysteresisFor, expect="correct"),
    ],
)
