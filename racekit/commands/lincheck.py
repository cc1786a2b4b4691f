"""``racekit lincheck FILE``: check a recorded history for linearizability.

Reads a Jepsen etcd log, a Porcupine kv log or a Jepsen ``history.edn``
(``-`` reads standard input; a UTF-8 byte-order mark is fine), checks it
against a model and prints the verdict and the check time.  Values in
messages are written the way the input wrote them (``nil``, ``[1 2]``,
``"x"``).  Exit status: 0 linearizable, 1 violation, 3 unknown (timed out),
2 bad input (unreadable or empty file, malformed line, unknown format or
model, ops the model has no such operation for) with a one-line message on
stderr.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import click

from racekit.errors import RacekitError
from racekit.formats import FORMATS, load, parse, sniff
from racekit.formats.edn import FrozenMap, dumps
from racekit.formats.edn import loads as edn_loads
from racekit.history import History, Operation
from racekit.linearizability import LinResult, check
from racekit.models import MODELS
from racekit.spec import Spec

DEFAULT_MODEL = {"jepsen-etcd": "register", "porcupine-kv": "kv", "jepsen-edn": "cas-register"}
DEFAULT_INITIAL: dict[str, Any] = {"register": None, "cas-register": 0, "multi-register": {}, "counter": 0,
                                   "circuit-breaker": {}}
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
        raise BadInput("missing FILE: the history to check ('-' reads standard input)")
    text = sys.stdin.read() if file == "-" else None
    name = "standard input" if file == "-" else file
    if fmt is None:
        fmt = SUFFIXES.get(Path(file).suffix) if text is None else sniff(text)
    if fmt is None:
        raise BadInput(f"cannot tell the format of {name}; pass --format ({' | '.join(FORMATS)})")
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    model = model or DEFAULT_MODEL[fmt]
    spec = _spec(model, initial)
    seconds = _timeout(timeout)
    try:
        history = load(file, fmt) if text is None else parse(text, fmt, "<stdin>")
    except RacekitError as exc:
        raise BadInput(str(exc)) from None
    if not len(history):
        raise BadInput(f"{name} holds no operations (an empty file, or only ops of no client process?)")
    history = _as_written(history)
    _fits(history, spec, model, fmt)
    result = _check(history, spec, model, seconds)
    result.message = edn_words(result.message)
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
    if model == "circuit-breaker" and not isinstance(value, dict):
        raise BadInput(f"--initial for circuit-breaker must be a map such as '{{:threshold 3 :cooldown 1000 "
                       f":probes 1}}', got {initial!r}")
    try:
        spec: Spec = cls(value)
    except RacekitError as exc:
        raise BadInput(str(exc)) from None
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


class _Vector(tuple):  # type: ignore[type-arg]
    """A tuple that prints as the EDN vector it was read from."""

    def __repr__(self) -> str:
        return "[" + " ".join(repr(v) for v in self) + "]"


class _Text(str):
    """A string that prints with EDN's double quotes."""

    def __repr__(self) -> str:
        return dumps(str(self))


class _Map(FrozenMap):
    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r} {v!r}" for k, v in self.items()) + "}"


class _Set(frozenset):  # type: ignore[type-arg]
    def __repr__(self) -> str:
        return "#{" + " ".join(sorted(repr(v) for v in self)) + "}"


def _written(value: Any) -> Any:
    """``value`` with containers and strings that print as EDN; equal and hashing the same."""
    if isinstance(value, str) and not isinstance(value, _Text):
        return _Text(value)
    if isinstance(value, tuple):
        return _Vector(_written(v) for v in value)
    if isinstance(value, dict):
        return _Map((_written(k), _written(v)) for k, v in value.items())
    if isinstance(value, frozenset):
        return _Set(_written(v) for v in value)
    return value


def _as_written(history: History) -> History:
    return History([dataclasses.replace(op, args=tuple(_written(a) for a in op.args), result=_written(op.result))
                    for op in history])


_PY_WORDS = re.compile(r'"(?:[^"\\]|\\.)*"|(\'(?:[^\'\\]|\\.)*\')|\b(None|True|False)\b')
_EDN_WORD = {"None": "nil", "True": "true", "False": "false"}


def edn_words(message: str) -> str:
    """Python's ``None``/``True``/``False`` and ``'text'`` in a message, written as EDN.

    Values from the history already print as EDN (:func:`_written`); this
    catches what a model computes itself, such as its initial state.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            try:
                return dumps(ast.literal_eval(m.group(1)))
            except (ValueError, SyntaxError):
                return m.group(0)
        return _EDN_WORD[m.group(2)] if m.group(2) else m.group(0)

    return _PY_WORDS.sub(sub, message)


def _fits(history: History, spec: Spec, model: str, fmt: str) -> None:
    """One op of each kind must be something the model can step; else one line saying so."""
    seen: set[tuple[str, int]] = set()
    for op in history:
        if (op.name, len(op.args)) in seen:
            continue
        seen.add((op.name, len(op.args)))
        try:
            spec.partition_key(op.name, op.args)
            spec.step(spec.init(), op.name, op.args)
        except (RacekitError, TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
            doc = (type(spec).__doc__ or "").strip().splitlines()[0].replace("``", "").rstrip(".")
            hint = "" if model == DEFAULT_MODEL[fmt] else f"; {fmt} histories default to --model {DEFAULT_MODEL[fmt]}"
            what = f": {exc}" if isinstance(exc, RacekitError) else f" does not fit the {model} model"
            raise BadInput(f"{edn_words(_call(op))}{what} ({doc}){hint}") from None


def _call(op: Operation) -> str:
    return op.call_repr()


def _check(history: History, spec: Spec, model: str, timeout: float | None) -> LinResult:
    try:
        return check(history, spec, timeout=timeout)
    except RacekitError as exc:
        raise BadInput(str(exc)) from None
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise BadInput(f"the history does not fit the {model} model: {type(exc).__name__}: {exc}") from None
