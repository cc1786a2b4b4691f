"""The last resort against a run that never comes back: a wall-clock alarm.

Every logical thread shares one OS thread, so a *real* blocking call made
under control - a ``threading.Lock`` racekit could neither swap nor see, a
socket read, ``time.sleep`` from a module it does not patch, a loop with no
switch point - blocks the whole run for good.  Everything else in a search
is measured in virtual steps; this alarm is the one thing that reads the
wall clock, and what it produces is a :class:`~racekit.errors.HarnessError`,
never a verdict or a counterexample.

How: one daemon OS thread per process sleeps until the armed deadline and
then sends ``SIGUSR2`` to the controlled thread.  A signal interrupts a
blocking lock acquire, ``sleep`` or socket call in CPython; the handler
raises :class:`WallClockExpired`, which unwinds the logical thread and the
run.  Signals reach Python handlers only in the main thread, so the alarm is
armed only for runs on the main thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from types import FrameType
from typing import Any

DEFAULT_SECONDS = float(os.environ.get("RACEKIT_WALL_TIMEOUT", "60"))
_SIGNAL = getattr(signal, "SIGUSR2", None)


class WallClockExpired(BaseException):  # noqa: N818 - a BaseException, like KeyboardInterrupt
    """Raised inside the run when its wall-clock alarm goes off.

    A BaseException so that ``except Exception`` in code under test does not
    swallow it.
    """


class _Alarm:
    """The alarm thread, armed and disarmed once per run.

    Arming must stay cheap (a search makes thousands of runs): it only sets
    the deadline under a lock.  The thread polls while runs keep coming
    (every 0.25 s at most) and is notified only when it has gone idle after
    a quiet spell, so runs do not hand the GIL to it.
    """

    _POLL = 0.25
    _IDLE_AFTER = 5.0

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadline: float | None = None
        self._target = 0
        self._armed = 0
        self._idle = True
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, target: int) -> int:
        with self._cond:
            self._armed += 1
            self._deadline = time.monotonic() + seconds
            self._target = target
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="racekit-watchdog", daemon=True)
                self._thread.start()
            if self._idle:
                self._idle = False
                self._cond.notify()
            return self._armed

    def disarm(self, token: int) -> None:
        with self._cond:
            if token == self._armed:
                self._deadline = None

    def _loop(self) -> None:
        quiet_since = time.monotonic()
        with self._cond:
            while True:
                now = time.monotonic()
                if self._deadline is None:
                    if now - quiet_since > self._IDLE_AFTER:
                        self._idle = True
                        self._cond.wait()
                        quiet_since = time.monotonic()
                    else:
                        self._cond.wait(self._POLL)
                    continue
                quiet_since = now
                remaining = self._deadline - now
                if remaining > 0:
                    self._cond.wait(min(remaining, self._POLL))
                    continue
                self._deadline = None
                if _SIGNAL is not None:
                    with contextlib.suppress(OSError, ValueError):  # the thread is gone
                        signal.pthread_kill(self._target, _SIGNAL)


_ALARM = _Alarm()
_active = False
_installed = False
_previous: Any = None


def _expired(signum: int, frame: FrameType | None) -> None:
    if _active:
        raise WallClockExpired()
    if callable(_previous):  # someone else's SIGUSR2, or a late alarm: not ours to act on
        _previous(signum, frame)


class armed:  # noqa: N801 - used as a context manager
    """Arm the alarm for the duration of one run (main thread only; else a no-op).

    The handler is installed once and stays (restoring the previous one
    could let a late signal hit the default action, which kills the
    process); outside an armed run it passes the signal on.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = DEFAULT_SECONDS if seconds is None else seconds
        self._token = 0

    def __enter__(self) -> armed:
        global _active, _installed, _previous
        if (
            _SIGNAL is None
            or self.seconds <= 0
            or threading.current_thread() is not threading.main_thread()
        ):
            return self
        if not _installed:
            _previous = signal.signal(_SIGNAL, _expired)
            _installed = True
        _active = True
        self._token = _ALARM.arm(self.seconds, threading.get_ident())
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        if self._token:
            _ALARM.disarm(self._token)
            _active = False
            self._token = 0
