"""Per-node clocks under virtual time.

Virtual ("true") time is an integer number of **milliseconds** since the
start of the run.  Milliseconds because every system in the catalogue
reasons in ms to minutes, traces stay readable (``t=1500``), and nothing
needs finer resolution: delays are a handful of chosen values, not samples
from a continuous distribution.

A node never sees true time.  It sees two clocks, as a real process does:

* ``monotonic()`` - runs at the node's oscillator rate (drift, in parts per
  million) and never jumps, like ``CLOCK_MONOTONIC``.  Timers use it.
* ``wall()`` - the monotonic clock plus an offset: initial skew, NTP-style
  steps forward and *backward*.  ``now()`` in the node API is this one,
  because most real bugs come from code that reads the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass

PPM = 1_000_000
"""Drift is expressed in parts per million: +100_000 is a clock 10% fast."""


@dataclass
class NodeClock:
    """A drifting, skewed, jumpable clock read at a given true time.

    The clock is piecewise linear: it is re-anchored whenever its rate
    changes, so a drift change never makes it jump.  Integer arithmetic
    only, so runs are bit-for-bit reproducible.
    """

    offset: int = 0
    drift_ppm: int = 0
    _anchor_true: int = 0
    _anchor_mono: int = 0

    def monotonic(self, true_now: int) -> int:
        """Local monotonic reading at true time ``true_now`` (never decreases)."""
        return self._anchor_mono + (true_now - self._anchor_true) * (PPM + self.drift_ppm) // PPM

    def wall(self, true_now: int) -> int:
        """Local wall-clock reading: monotonic plus skew, which may step back."""
        return self.monotonic(true_now) + self.offset

    def set_drift(self, true_now: int, ppm: int) -> None:
        """Change the oscillator rate from now on; the reading stays continuous."""
        if ppm <= -PPM:
            raise ValueError(f"drift {ppm} ppm would stop or reverse the clock")
        self._anchor_mono = self.monotonic(true_now)
        self._anchor_true = true_now
        self.drift_ppm = ppm

    def jump(self, delta: int) -> None:
        """Step the wall clock by ``delta`` ms (negative = backward); monotonic is untouched."""
        self.offset += delta

    def true_delay(self, local_delay: int) -> int:
        """True ms until the monotonic clock has advanced by ``local_delay``.

        A fast clock fires its timers early in true time, a slow one late.
        The rate at the time the timer is set is used for the whole delay.
        """
        if local_delay <= 0:
            return 0
        return -(-local_delay * PPM // (PPM + self.drift_ppm))

    def state(self) -> tuple[int, int, int, int]:
        """Everything that determines future readings (for state hashing)."""
        return (self.offset, self.drift_ppm, self._anchor_true, self._anchor_mono)
