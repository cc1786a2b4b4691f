"""Errors racekit raises, split by whose fault they are.

User errors (a bad definition, a bad file, a replay that diverges) carry a
sentence naming the problem and its likely cause; the CLI prints them as one
line.  ``RacekitInternalError`` means racekit itself is wrong.
"""

from __future__ import annotations


class RacekitError(Exception):
    """Base class of every error racekit raises on purpose."""


class UsageError(RacekitError, ValueError):
    """An API was called with arguments that cannot work (a None thread, a bad knob)."""


class InvalidDefinition(RacekitError):
    """A system, spec or state machine is declared in a way that cannot work."""


class CounterexampleError(RacekitError):
    """A counterexample file is unreadable, truncated or of the wrong schema."""


class UnknownSystem(RacekitError):
    """A name given on the command line or in a file is not in the registry."""


class ReplayDivergence(RacekitError):
    """A recorded choice list does not fit the run it is replayed on.

    The usual cause is that the code under test changed since the
    counterexample was saved, or that it is not deterministic (it reads the
    real clock, real randomness or the environment).
    """


class RacekitInternalError(RacekitError):
    """A bug in racekit itself, not in the code under test."""

    def __init__(self, message: str) -> None:
        super().__init__(f"[racekit internal bug] {message} - please file a bug")


class HistoryFormatError(RacekitError):
    """A history file (Jepsen, Porcupine, EDN) cannot be read.

    The message names the file and line, and what was expected there.
    """


class HarnessError(RacekitError):
    """A run could not be finished by racekit itself, so it has no verdict.

    The usual cause is a real blocking call made by code under control (a
    ``threading.Lock`` racekit could not swap, a socket read, ``time.sleep``
    from a module it does not patch): every logical thread shares one OS
    thread, so the call blocks all of them.  Never a counterexample.
    """
