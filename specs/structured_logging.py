"""What a shared JSON log must look like, as pure functions of its text.

* **valid JSON lines** - the file is a sequence of lines, each ending in a
  newline, each one JSON object with the record fields (``worker``,
  ``request``, ``msg``): no two records on one line, no torn record, no
  empty line.
* **each record once, with the right context** - every record a worker
  logged (and said so) appears exactly once; a record whose worker was
  killed while logging it may appear at most once; nothing else appears;
  and each record carries the context it was logged in: its ``request``
  field is the request its message is about.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from typing import Any

FIELDS = frozenset({"worker", "request", "msg"})
Key = tuple[str, str]  # (worker, request)


def parse(line: str) -> dict[str, Any] | None:
    """A log line as a record, or None if it is not one JSON object with the record fields."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not set(obj) >= FIELDS:
        return None
    return obj


def lines_of(text: str) -> list[str]:
    """The file's lines; a last line without its newline is kept (it is a torn record).

    post: "\\n".join(__return__) + ("\\n" if text.endswith("\\n") else "") == text
    """
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines if text else []


def invalid_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) of every line that is not one record."""
    lines = lines_of(text)
    bad = [(i + 1, line) for i, line in enumerate(lines) if parse(line) is None]
    if text and not text.endswith("\n") and (len(lines), lines[-1]) not in bad:
        bad.append((len(lines), lines[-1]))
    return bad


def record_problem(text: str, logged: Collection[Key], maybe: Collection[Key]) -> str | None:
    """The first record missing, duplicated, unknown or out of its context; None if all is well."""
    records = [r for r in map(parse, lines_of(text)) if r is not None]
    for r in records:
        if r["msg"] != f"handled {r['request']}":
            return f"record {json.dumps(r, sort_keys=True)} carries request {r['request']!r} but is about {r['msg']!r}"
    counts = Counter((str(r["worker"]), str(r["request"])) for r in records)
    for key in sorted(logged):
        if counts[key] != 1:
            return f"{key[0]} logged {key[1]} and the file holds it {counts[key]} times"
    for key, n in sorted(counts.items()):
        if key not in logged and key not in maybe:
            return f"the file holds a record of {key[0]}/{key[1]} that was never logged"
        if n > 1:
            return f"the record of {key[0]}/{key[1]} is in the file {n} times"
    return None
