"""What every command shares: one-line user errors, exit codes, progress on stderr."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

from racekit.errors import RacekitError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """A user error: one line on stderr, exit status 2, no traceback."""
    first = message.splitlines()[0] if message else "error"
    click.echo(f"racekit: error: {first}", err=True)
    sys.exit(2)


def friendly(fn: F) -> F:
    """Turn racekit's user errors into one line on stderr; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RacekitError as exc:
            fail(str(exc) or type(exc).__name__)
        except KeyboardInterrupt:
            click.echo("racekit: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


class Progress:
    """Schedules/s, depth and time on stderr, when stderr is a terminal.

    Also counts runs, so an interrupted search can say what it explored.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        forced = os.environ.get("RACEKIT_PROGRESS") == "1"  # for logs and tests: progress without a terminal
        self.enabled = (sys.stderr.isatty() or forced) if enabled is None else enabled
        self.runs = 0
        self.depth = 0
        self.started = time.monotonic()  # display only: never steers a search
        self._shown = 0.0

    def __call__(self, strategy: str, runs: int, result: Any) -> None:
        self.runs += 1
        self.depth = max(self.depth, int(getattr(result, "steps", 0)))
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.25:
            return
        self._shown = now
        elapsed = now - self.started
        rate = self.runs / elapsed if elapsed > 0 else 0.0
        click.echo(
            f"\r{strategy}: {self.runs} schedules, {rate:.0f}/s, depth {self.depth}, {elapsed:.1f}s ",
            err=True, nl=False,
        )

    def done(self) -> None:
        if self.enabled and self.runs:
            click.echo("", err=True)

    def summary(self) -> str:
        return f"{self.runs} schedules explored (deepest {self.depth} steps) in {time.monotonic() - self.started:.1f}s"
