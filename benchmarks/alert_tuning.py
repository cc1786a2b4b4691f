"""False positives and false negatives of the three alert rules against the threshold.

A labelled corpus (seeded): 300 healthy hours of a utilisation metric
sampled every 15 s (a level between 50 and 78, Gaussian noise with a
standard deviation of 2 to 5, and rare one- or two-sample spikes of 10 to
25 points), and 300 hours with one incident: a 12-minute plateau at 85 to
100 % with the same noise.
For every fire threshold from 70 to 98 and every rule (clear line 10
below the fire line, for-duration 60 s - the catalogue's 90/80/60 s):

* false positives - healthy hours in which the rule paged at least once;
* false negatives - incidents not paged within 3 minutes of their start;
* re-pages per incident - how often the rule started firing again during
  one incident after it had resolved (flapping).

The baseline is the raw threshold, in the same run.  Writes
docs/systems/alert_tuning.png and prints the table.

    .venv/bin/python benchmarks/alert_tuning.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from systems import alert_tuning as at  # noqa: E402

HOUR = 3600 // at.STEP
INCIDENT = (20 * 60 // at.STEP, 32 * 60 // at.STEP)  # samples [start, end): minutes 20 to 32
DETECT = 3 * 60 // at.STEP  # within 3 minutes
THRESHOLDS = list(range(70, 99, 2))
RULES = {
    "raw_threshold": lambda f: at.RawThreshold(f),
    "for_only": lambda f: at.ForOnly(f),
    "hysteresis_for": lambda f: at.HysteresisFor(f, f - 10),
}


def hour(rng: random.Random, incident: bool) -> list[float]:
    level, sigma = rng.uniform(50, 78), rng.uniform(2, 5)
    plateau = rng.uniform(85, 100) if incident else None
    out = []
    spike = 0
    for i in range(HOUR):
        inside = plateau is not None and INCIDENT[0] <= i < INCIDENT[1]
        v = (plateau if inside else level) + rng.gauss(0, sigma)
        if spike == 0 and rng.random() < 0.01:
            spike = rng.choice((1, 2))
            height = rng.uniform(10, 25)
        if spike:
            v += height
            spike -= 1
        out.append(v)
    return out


def pages(states: list[at.State], lo: int = 0, hi: int | None = None) -> int:
    """How many times the rule started firing in samples [lo, hi)."""
    hi = len(states) if hi is None else hi
    return sum(1 for i in range(lo, hi) if states[i] == "firing" and (i == 0 or states[i - 1] != "firing"))


def measure(seed: int = 34, n: int = 300) -> dict[str, list[tuple[float, float, float]]]:
    rng = random.Random(seed)
    healthy = [hour(rng, False) for _ in range(n)]
    incidents = [hour(rng, True) for _ in range(n)]
    curves: dict[str, list[tuple[float, float, float]]] = {}
    for name, make in RULES.items():
        rows = []
        for fire in THRESHOLDS:
            fp = sum(1 for s in healthy if pages(at.run_rule(make(fire), s)) > 0) / n
            missed, flaps = 0, 0
            for s in incidents:
                states = at.run_rule(make(fire), s)
                lo, hi = INCIDENT
                if "firing" not in states[lo : lo + DETECT + 1]:
                    missed += 1
                flaps += max(0, pages(states, lo, hi) - 1)
            rows.append((fp, missed / n, flaps / n))
        curves[name] = rows
    return curves


def plot(curves: dict[str, list[tuple[float, float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    titles = ("false positives: healthy hours paged", "false negatives: incidents not paged in 3 min",
              "re-pages per incident (flapping)")
    for k, ax in enumerate(axes):
        for name, rows in curves.items():
            ax.plot(THRESHOLDS, [r[k] for r in rows], marker="o", markersize=3, label=name)
        ax.set_title(titles[k], fontsize=10)
        ax.set_xlabel("fire threshold (clear = threshold - 10)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction")
    axes[2].set_ylabel("re-pages")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    curves = measure()
    print(f"{'threshold':>9} " + " ".join(f"{n:>30}" for n in curves))
    print(f"{'':>9} " + " ".join(f"{'FP    FN    re-pages':>30}" for _ in curves))
    for i, fire in enumerate(THRESHOLDS):
        cells = [f"{fp:5.2f} {fn:5.2f} {fl:5.2f}" for fp, fn, fl in (curves[n][i] for n in curves)]
        print(f"{fire:>9} " + " ".join(f"{c:>30}" for c in cells))
    base = curves["raw_threshold"]
    at90 = THRESHOLDS.index(90)
    for name, rows in curves.items():
        fp, fn, fl = rows[at90]
        print(f"at 90: {name:<15} FP {fp:.2f} (x{fp / base[at90][0]:.2f} of raw), FN {fn:.2f}, "
              f"re-pages per incident {fl:.2f} (x{fl / base[at90][2]:.2f} of raw)")
    out = ROOT / "docs" / "systems" / "alert_tuning.png"
    plot(curves, out)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
