"""``racekit txncheck FILE``: check a transactional history for isolation anomalies.

Reads an Elle/Jepsen EDN history (list-append or rw-register; ``-`` reads
standard input), checks it (:func:`racekit.txn.check`) and prints valid /
invalid / unknown, each anomaly type with one example explained, and the
weakest consistency models the history rules out.  Exit status: 0 valid,
1 invalid, 3 unknown, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from racekit.errors import RacekitError
from racekit.formats.edn import Keyword, Symbol
from racekit.formats.edn import loads as edn_loads
from racekit.txn import WORKLOADS, TxnHistory, check, load, normalize_options
from racekit.txn.check import TxnResult
from racekit.txn.explain import Cycle

EXIT = {True: 0, False: 1, "unknown": 3}
_WORDS = {True: "valid", False: "invalid", "unknown": "unknown"}


class BadInput(click.ClickException):
    """A user error: one line on stderr, exit status 2."""

    exit_code = 2


def _plain(value: Any) -> Any:
    """EDN options as plain Python: keywords become names, vectors lists."""
    if isinstance(value, (Keyword, Symbol)):
        return value.name
    if isinstance(value, (tuple, list, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _options(text: str | None, models: str | None, anomalies: str | None) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if text is not None:
        try:
            value = edn_loads(text, "--options")
        except RacekitError as exc:
            raise BadInput(str(exc)) from None
        if not isinstance(value, Mapping):
            raise BadInput(f"--options must be an EDN map such as '{{:consistency-models [:serializable]}}', got {text!r}")
        opts = _plain(value)
    if models is not None:
        names = [m.strip().lstrip(":") for m in models.split(",") if m.strip()]
        opts["consistency-models"] = names or None
    if anomalies is not None:
        opts["anomalies"] = [a.strip().lstrip(":") for a in anomalies.split(",") if a.strip()]
    try:
        return normalize_options(opts)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def _guess_workload(file: str) -> str:
    """The workload from the micro-ops a history uses (``:append``: list-append, ``:w``: rw-register)."""
    try:
        text = Path(file).read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError:
        return "list-append"  # the load below reports the real problem
    has_append, has_w = "[:append " in text, "[:w " in text
    if has_append and not has_w:
        return "list-append"
    if has_w and not has_append:
        return "rw-register"
    raise BadInput(f"cannot tell the workload of {file}; pass --workload ({' | '.join(WORKLOADS)})")


@click.command("txncheck")
@click.argument("file", required=False)
@click.option("--workload", type=click.Choice(WORKLOADS), help="list-append | rw-register (default: from the micro-ops)")
@click.option("--consistency-models", "models", metavar="MODELS",
              help="comma-separated models the history must satisfy (default: strict-serializable)")
@click.option("--anomalies", metavar="NAMES", help="comma-separated anomalies to look for as well, e.g. G1,G2")
@click.option("--options", "options", metavar="EDN",
              help="Elle's option map, e.g. '{:consistency-models [:serializable] :sequential-keys? true}'")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option("--html", "html", metavar="OUT", help="also write the anomaly cycles as an HTML page")
def txncheck(file: str | None, workload: str | None, models: str | None, anomalies: str | None,
             options: str | None, as_json: bool, html: str | None) -> None:
    """Check the transactional history in FILE (EDN; '-' for stdin) for isolation anomalies.

    Prints valid / invalid / unknown, each anomaly type found with one
    explained example, and the weakest consistency models ruled out.
    """
    if not file:
        raise BadInput("missing FILE: the history to check ('-' reads standard input)")
    opts = _options(options, models, anomalies)
    if workload is None:
        workload = "list-append" if file == "-" else _guess_workload(file)
    try:
        history = load(file, workload)  # type: ignore[arg-type]
        result = check(history, opts)
    except RacekitError as exc:
        raise BadInput(str(exc).splitlines()[0]) from None
    if html:
        from racekit.txn.render import write_page

        try:
            write_page(result, html, title=f"txncheck: {file}")
        except OSError as exc:
            raise BadInput(f"{html}: cannot write the page ({exc.strerror or exc})") from None
    if as_json:
        click.echo(json.dumps({"file": file, **result.to_json()}, default=str))
    else:
        for line in report(result, history):
            click.echo(line)
    raise SystemExit(EXIT[result.valid])


def report(result: TxnResult, history: TxnHistory) -> list[str]:
    """The text report: verdict line, one example per anomaly type, models ruled out."""
    lines = [f"{_WORDS[result.valid]} ({result.workload}, {len(history.ops)} operations, "
             f"{result.operations} transactions, checked in {result.seconds:.3f} s)"]
    for kind in result.anomaly_types:
        cases = result.anomalies.get(kind, [])
        more = f" (+{len(cases) - 1} more)" if len(cases) > 1 else ""
        lines.append(f"  {kind}{more}: {_example(kind, cases[0] if cases else None)}")
    if result.not_:
        lines.append(f"  ruled out: {', '.join(result.not_)}"
                     + (f" (and the stronger {', '.join(result.also_not)})" if result.also_not else ""))
    return lines


def _example(kind: str, case: Any) -> str:
    if isinstance(case, Cycle):
        return case.explanation
    if kind == "empty-transaction-graph":
        return "no dependency between transactions could be inferred, so no cycle could be looked for"
    if isinstance(case, dict):
        if "explanation" in case:
            return str(case["explanation"])
        if "model" in case:
            return (f"a cycle that {case['model']} forbids exists among {case['scc-size']} transactions "
                    "(no specific cycle named)")
    return str(case)
