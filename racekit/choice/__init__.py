"""The exploration kernel: choosers, strategies, the core loop, the minimizer.

Every engine (threads, simulator, real processes) asks a
:class:`~racekit.choice.chooser.Chooser` at each nondeterministic decision;
a :class:`~racekit.choice.strategy.Strategy` hands out the chooser for each
run; :func:`~racekit.choice.strategy.drive` is the one loop; and
:mod:`~racekit.choice.minimize` shrinks what was found.  Nothing here knows
about threads, messages or processes (DPOR reads thread accesses through a
:class:`~racekit.choice.chooser.View` the thread engine provides).
"""

from __future__ import annotations

from racekit.choice.chooser import (
    Boring,
    ByLabel,
    ChoicePoint,
    Chooser,
    Prune,
    Recorder,
    Replay,
    View,
)
from racekit.choice.coverage import Coverage
from racekit.choice.draw import Draw, HypothesisDraw, MinimalDraw, RandomDraw
from racekit.choice.result import Result
from racekit.choice.strategy import Knobs, Report, Strategy, Trial, drive, make, names

__all__ = [
    "Boring",
    "ByLabel",
    "ChoicePoint",
    "Chooser",
    "Coverage",
    "Draw",
    "HypothesisDraw",
    "Knobs",
    "MinimalDraw",
    "Prune",
    "RandomDraw",
    "Recorder",
    "Replay",
    "Report",
    "Result",
    "Strategy",
    "Trial",
    "View",
    "drive",
    "make",
    "names",
]
