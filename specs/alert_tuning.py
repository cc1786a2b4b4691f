"""What a well-tuned threshold alert promises, as pure functions of a series.

``samples[i]`` is the metric at ``i * step`` seconds; ``states[i]`` the
rule's state there.  Three promises:

* **few transitions** (no flapping): when the whole series stays inside a
  band narrower than the hysteresis gap (``max - min < fire - clear``:
  noise, however it wiggles), the alert changes between firing and not
  firing at most ``K`` times;
* **a sustained breach is detected within T**: if every sample from ``t0``
  to ``t0 + T`` is above the fire threshold, the alert fires by ``t0 + T``;
* **resolves when clear**: at a sample below the clear threshold the alert
  is not firing; and it resolves *only* there (hysteresis: a firing alert
  holds at every sample at or above the clear threshold);
* **fires only after T** (precision): when the alert starts firing, every
  sample of the last ``T`` was above the fire threshold - a blip shorter
  than the for-duration never pages.
"""

from __future__ import annotations

from collections.abc import Sequence

K = 1  # transitions allowed for noise inside the hysteresis gap: it may fire once, never flap


def transitions(states: Sequence[str]) -> list[int]:
    """Indexes where the alert starts or stops firing (it starts not firing).

    post: all(0 <= i < len(states) for i in __return__)
    """
    out, firing = [], False
    for i, s in enumerate(states):
        now = s == "firing"
        if now != firing:
            out.append(i)
            firing = now
    return out


def inside_gap(samples: Sequence[int], fire: int, clear: int) -> bool:
    """Noise narrower than the hysteresis gap: it cannot both breach and clear.

    pre: clear < fire
    post: __return__ == (len(samples) > 0 and max(samples) - min(samples) < fire - clear)
    """
    return len(samples) > 0 and max(samples) - min(samples) < fire - clear


def sustained_breaches(samples: Sequence[int], fire: int, need: int) -> list[int]:
    """Indexes ``i0`` where a breach of at least ``need`` further samples starts:
    ``samples[i0 .. i0 + need]`` are all above ``fire`` (and ``i0`` starts the run).

    pre: need >= 0
    post: all(all(v > fire for v in samples[i:i + need + 1]) for i in __return__)
    """
    out = []
    for i0 in range(len(samples) - need):
        starts = i0 == 0 or samples[i0 - 1] <= fire
        if starts and all(v > fire for v in samples[i0 : i0 + need + 1]):
            out.append(i0)
    return out


def sustained_before(samples: Sequence[int], i: int, fire: int, need: int) -> bool:
    """Were ``samples[i - need .. i]`` all above ``fire``?

    pre: need >= 0 and 0 <= i < len(samples)
    post: __return__ == (i >= need and all(v > fire for v in samples[i - need:i + 1]))
    """
    return i >= need and all(v > fire for v in samples[i - need : i + 1])
