"""Equivalent mutants: the judgments a person made, kept beside the catalogue.

Some mutants cannot be killed by any check because they do not change what
the program can do (a lock around a single atomic load, two locks taken in
the opposite but still global order).  Deciding that takes a person and an
argument; once made, the judgment is recorded in ``mutants/equivalent.toml``
at the catalogue root::

    [[equivalent]]
    system = "counter"
    variant = "locked"
    mutant = "remove_lock:LockedCounter.get"    # operator:function
    fingerprint = "0c1d2e3f4a5b"                # of the changed lines
    why = "a single attribute load is atomic; the lock orders nothing"

A judgment matches a mutant by system, variant, operator, function *and*
the fingerprint of the lines the mutant changes, so it survives unrelated
edits that move line numbers, and lapses as soon as the code it argued
about changes.  Matched mutants still run: one that is killed after all is
reported ``killed`` with a note that its judgment is wrong.  Survivors that
match are ``equivalent`` and leave the score's denominator.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from racekit.errors import InvalidDefinition
from racekit.mutation.generate import Mutant

LEDGER = Path("mutants") / "equivalent.toml"


@dataclass(frozen=True)
class Judgment:
    system: str
    variant: str
    mutant: str  # "operator:function"
    fingerprint: str
    why: str


def fingerprint(m: Mutant) -> str:
    """A short hash of the diff's lines - changed and one line of context each side - without positions.

    The context matters: splitting a lock block after its first or after its
    second statement adds the same line, ``with self.lock:``, in two places.
    """
    lines = [
        line[0] + line[1:].strip()
        for line in m.diff(context=1).splitlines()
        if line[:1] in "+- " and not line.startswith(("+++", "---"))
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def key(m: Mutant) -> str:
    return f"{m.operator}:{m.function}"


def load(root: Path) -> list[Judgment]:
    """The judgments of the catalogue at ``root`` (none when it keeps no ledger)."""
    path = root / LEDGER
    if not path.is_file():
        return []
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidDefinition(f"{LEDGER}: {exc}") from None
    out = []
    for i, entry in enumerate(doc.get("equivalent", [])):
        missing = [k for k in ("system", "variant", "mutant", "fingerprint", "why") if not isinstance(entry.get(k), str)]
        if missing:
            raise InvalidDefinition(f"{LEDGER}: entry {i + 1} lacks {', '.join(missing)}")
        if not entry["why"].strip():
            raise InvalidDefinition(f"{LEDGER}: entry {i + 1} ({entry['mutant']}) gives no argument in 'why'")
        out.append(Judgment(entry["system"], entry["variant"], entry["mutant"], entry["fingerprint"], entry["why"]))
    return out


def judged(m: Mutant, judgments: list[Judgment]) -> Judgment | None:
    """The judgment that declares ``m`` equivalent, if any."""
    fp = fingerprint(m)
    for j in judgments:
        if (j.system, j.variant, j.mutant, j.fingerprint) == (m.system, m.variant, key(m), fp):
            return j
    return None


def lapsed(judgments: list[Judgment], mutants: list[Mutant]) -> list[Judgment]:
    """Judgments about the selected variants that match no current mutant: the code they argued about changed."""
    selected = {(m.system, m.variant) for m in mutants}
    current = {(m.system, m.variant, key(m), fingerprint(m)) for m in mutants}
    return [
        j for j in judgments
        if (j.system, j.variant) in selected and (j.system, j.variant, j.mutant, j.fingerprint) not in current
    ]
