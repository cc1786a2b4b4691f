"""``racekit lincheck FILE``: check a recorded history for linearizability.

Reads a Jepsen etcd log, a Porcupine kv log or a Jepsen ``history.edn``,
checks it against a model and prints the verdict and the check time.  Exit
status: 0 linearizable, 1 violation, 3 unknown (timed out), 2 bad input
(unreadable file, malformed line, unknown format or model) with a one-line
message on stderr.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from racekit.errors import RacekitError
from racekit.formats import FORMATS, load
from racekit.formats.edn import loads as edn_loads
from racekit.history import History
from racekit.linearizability import LinResult, check
from racekit.models import MODELS
from racekit.spec import Spec

DEFAULT_MODEL = {"jepsen-etcd": "register", "porcupine-kv": "kv", "jepsen-edn": "cas-register"}
DEFAULT_INITIAL: dict[str, Any] = {"register": None, "cas-register": 0, "multi-register": {}, "counter": 0}
SUFFIXES = {".log": "jepsen-etcd", ".txt": "porcupine-kv", ".edn": "jepsen-edn"}
EXIT = {"linearizable": 0, "violation": 1, "unknown": 3}


class BadInput(click.ClickException):
    """A user error: one line on stderr, exit status 2."""

    exit_code = 2


@click.command("lincheck")
@click.argument("file", required=False)
@click.option("--format", "fmt", metavar="FORMAT", help="jepsen-etcd | porcupine-kv | jepsen-edn (default: by suffix)")
@click.option("--model", metavar="MODEL", help="cas-register | multi-register | mutex | register | kv | ...")
@click.option("--initial", metavar="EDN", help="initial value, e.g. 0, nil or '{:x 0 :y 0}'")
@click.option("--timeout", metavar="S", help="give up after S seconds (verdict unknown)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def lincheck(
    file: str | None, fmt: str | None, model: str | None, initial: str | None, timeout: str | None, as_json: bool
) -> None:
    """Check the history in FILE for linearizability against a model.

    Defaults: jepsen-etcd logs use the register model (Porcupine's etcd
    semantics), porcupine-kv logs the kv model, Jepsen EDN histories the
    cas-register model with initial value 0.
    """
    if not file:
        raise BadInput("missing FILE: the history to check")
    fmt = fmt or SUFFIXES.get(Path(file).suffix)
    if fmt is None:
        raise BadInput(f"cannot tell the format of {file}; pass --format ({' | '.join(FORMATS)})")
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    model = model or DEFAULT_MODEL[fmt]
    spec = _spec(model, initial)
    seconds = _timeout(timeout)
    try:
        history = load(file, fmt)
    except RacekitError as exc:
        raise BadInput(str(exc)) from None
    result = _check(history, spec, model, seconds)
    if as_json:
        payload = {"file": file, "format": fmt, "model": model, "operations": len(history), **result.to_json()}
        click.echo(json.dumps(payload, sort_keys=True, default=repr))
    else:
        click.echo(f"{result.verdict} ({len(history)} operations, checked in {result.seconds:.3f} s)")
        if result.message:
            click.echo(f"  {result.message}")
    raise SystemExit(EXIT[result.verdict])


def _spec(model: str, initial: str | None) -> Spec:
    if model not in MODELS:
        raise BadInput(f"unknown model {model!r}; known models: {', '.join(sorted(MODELS))}")
    cls: Any = MODELS[model]
    if initial is None:
        made: Spec = cls(DEFAULT_INITIAL[model]) if model in DEFAULT_INITIAL else cls()
        return made
    if model not in DEFAULT_INITIAL:
        raise BadInput(f"the {model} model takes no --initial value")
    try:
        value = edn_loads(initial, "--initial")
    except RacekitError as exc:
        raise BadInput(str(exc)) from None
    if model == "multi-register" and not isinstance(value, dict):
        raise BadInput(f"--initial for multi-register must be a map such as '{{:x 0}}', got {initial!r}")
    spec: Spec = cls(value)
    return spec


def _timeout(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"--timeout must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise BadInput(f"--timeout must be positive, got {text!r}")
    return value


def _check(history: History, spec: Spec, model: str, timeout: float | None) -> LinResult:
    try:
        return check(history, spec, timeout=timeout)
    except RacekitError as exc:
        raise BadInput(str(exc)) from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise BadInput(f"the history does not fit the {model} model: {type(exc).__name__}: {exc}") from None
