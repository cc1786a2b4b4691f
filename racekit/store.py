"""Counterexample files: write, load, validate, render.

A counterexample is data, never code: JSON with sorted keys and no
timestamps, so the same counterexample always has the same bytes; written
atomically (temp file + rename) so concurrent ``pytest -n auto`` workers
never leave a torn file; a rendered Markdown twin beside it for reading on
GitHub.  Loading validates the schema and resolves the system by registered
name only - nothing in a file is ever imported or unpickled.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from racekit.choice import Result
from racekit.declarations import System, Variant
from racekit.errors import CounterexampleError

VERSION = 2
FORMAT = f"racekit-counterexample/{VERSION}"

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "system": str,
    "variant": str,
    "property": str,
    "kind": str,
    "engine": str,
    "message": str,
    "scenario": (dict, list),
    "choices": list,
    "trace": list,
    "replay": dict,
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "property"


def path_for(root: Path, system: str, variant: str, prop: str) -> Path:
    return root / system / f"{variant}--{slug(prop)}.json"


def document(
    system: System,
    variant: Variant,
    outcome: Result,
    replays: Mapping[str, Result],
    path: str | None = None,
    machine: str | None = None,
) -> dict[str, Any]:
    """The JSON document for a failing outcome of a broken variant.

    ``machine`` (``PATH.py:CLASS``) names the Machine when it is not the
    registered one of ``system`` (a state machine in the user's test module),
    so ``racekit replay`` can find it; see :func:`racekit.registry.machine_for`.
    """
    if not outcome.failed or outcome.kind is None:
        raise CounterexampleError("only a failing outcome makes a counterexample")
    prop = outcome.property or outcome.kind
    stats = {k: v for k, v in sorted(outcome.stats.items()) if k in ("operations", "preemptions", "steps", "faults", "kills", "requests")}
    doc: dict[str, Any] = {
        "format": FORMAT,
        "system": system.name,
        "variant": variant.name,
        "property": prop,
        "kind": outcome.kind,
        "engine": outcome.engine,
        "bug": variant.bug,
        "message": outcome.message,
        "scenario": outcome.scenario,
        "choices": list(outcome.choices),
        "trace": outcome.trace,
        "history": outcome.history,
        "explanation": _without_timings(outcome.explanation),
        "stats": stats,
        "notes": list(outcome.notes),
        "replay": {
            name: {
                "outcome": "violation" if r.failed else "clean",
                "message": r.message,
                **{k: v for k, v in sorted(r.stats.items()) if k in ("schedules", "exhaustive", "runs")},
            }
            for name, r in sorted(replays.items())
        },
        "replay_command": f"racekit replay {path or path_for(Path('counterexamples'), system.name, variant.name, prop).as_posix()}",
    }
    if machine is not None:
        doc["machine"] = machine
    return doc


def _without_timings(value: Any) -> Any:
    """Wall-clock figures differ run to run; files must not."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in ("seconds", "states")}
    return value


def dumps(doc: Mapping[str, Any]) -> str:
    """Deterministic bytes: sorted keys, fixed indentation, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return repr(value)


def _umask() -> int:
    """The process's umask, read without changing it where the system says it
    (Linux: /proc/self/status); elsewhere set and put straight back."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode() -> int:
    """What ``open()`` would give a new file: 0o666 less the umask (0o644 usually).

    ``mkstemp`` makes its file 0600; a counterexample is meant to be
    committed and read by others, so it gets the ordinary mode.
    """
    return 0o666 & ~_umask()


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(path: Path, doc: Mapping[str, Any]) -> None:
    """Write the JSON and its Markdown twin, each atomically."""
    validate(json.loads(dumps(doc)), source=str(path))
    atomic_write(path, dumps(doc))
    atomic_write(path.with_suffix(".md"), render_markdown(doc))


def loads(text: str, source: str = "<string>") -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CounterexampleError(f"{source}: not valid JSON (line {exc.lineno}: {exc.msg}); truncated file?") from None
    return validate(doc, source)


def load(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CounterexampleError(f"{p}: no such counterexample file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CounterexampleError(f"{p}: cannot read ({exc})") from None
    return loads(text, str(p))


def validate(doc: Any, source: str = "<string>") -> dict[str, Any]:
    """Check the schema; raise one readable CounterexampleError otherwise."""
    if not isinstance(doc, dict):
        raise CounterexampleError(f"{source}: a counterexample is a JSON object, found {type(doc).__name__}")
    fmt = doc.get("format")
    old = fmt.rpartition("/")[2] if isinstance(fmt, str) and fmt.startswith("racekit-counterexample/") else ""
    if old.isdigit() and int(old) < VERSION:
        system, variant = doc.get("system", "SYSTEM"), doc.get("variant", "VARIANT")
        raise CounterexampleError(
            f"{source}: written in {fmt}, this racekit reads {FORMAT}; write it again with "
            f"`racekit check {system} --variant {variant}`"
        )
    if fmt != FORMAT:
        raise CounterexampleError(f"{source}: unsupported format {fmt!r} (this racekit reads {FORMAT})")
    for key, typ in _REQUIRED.items():
        if key not in doc:
            raise CounterexampleError(f"{source}: missing field {key!r}")
        if not isinstance(doc[key], typ):
            raise CounterexampleError(f"{source}: field {key!r} has the wrong type ({type(doc[key]).__name__})")
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in doc["choices"]):
        raise CounterexampleError(f"{source}: choices must be non-negative integers")
    for name in ("system", "variant"):
        if not re.match(r"^[a-z][a-z0-9_]*$", doc[name]):
            raise CounterexampleError(f"{source}: {name} {doc[name]!r} is not a valid name")
    if "machine" in doc and not (isinstance(doc["machine"], str) and MACHINE_REF.match(doc["machine"])):
        raise CounterexampleError(f"{source}: machine {str(doc['machine'])[:80]!r} is not PATH.py:CLASS")
    return doc


MACHINE_REF = re.compile(r"^(?P<path>[A-Za-z0-9_][A-Za-z0-9_./-]*\.py):(?P<cls>[A-Za-z_][A-Za-z0-9_]*)$")
"""``PATH.py:CLASS``: a Machine outside the registry, relative to the project root."""


def saved(root: Path, system: str) -> list[Path]:
    """Committed counterexamples of one system, in a stable order."""
    d = root / system
    return sorted(d.glob("*.json")) if d.is_dir() else []


def render_markdown(doc: Mapping[str, Any]) -> str:
    """A readable twin of the JSON for browsing on a forge."""
    lines = [
        f"# {doc['system']} / {doc['variant']}: {doc['property']}",
        "",
        f"**Bug:** {_md(doc.get('bug') or '')}",
        "",
        f"**Found:** {_md(doc['message'])}",
        "",
        f"Replay: `{_md(doc.get('replay_command', ''))}`",
        "",
    ]
    scenario = doc.get("scenario")
    if isinstance(scenario, dict) and "threads" in scenario:
        lines += ["## Scenario", ""]
        for t, ops in enumerate(scenario["threads"]):
            calls = ", ".join(f"{_md(str(o[0]))}({', '.join(_md(json.dumps(a)) for a in o[1])})" for o in ops)
            lines.append(f"- T{t}: {calls}")
        lines.append("")
    lines += ["## Schedule", "", "| step | thread | what | where |", "|---|---|---|---|"]
    for row in doc["trace"]:
        mark = " (preempted)" if row.get("preemption") else ""
        lines.append(
            f"| {row.get('step', '')} | {_md(str(row.get('name', row.get('node', ''))))}{mark} | "
            f"{_md(str(row.get('what', '')))} | {_md(str(row.get('where', '')))} |"
        )
    lines += ["", "## On the fixed variants", ""]
    for name, r in sorted(doc["replay"].items()):
        extra = f" ({r['schedules']} schedules{', exhaustive' if r.get('exhaustive') else ''})" if "schedules" in r else ""
        lines.append(f"- {_md(name)}: {_md(r['outcome'])}{extra}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")
