"""The lattice of consistency models, and which anomalies each one forbids.

Three relations, as Elle draws them (``../shared/elle/FORMAT.md`` section 4;
Adya's thesis, Cerone et al., Bailis et al. and Daudjee & Salem are its
sources):

* ``MODEL_IMPLIES``: ``a -> b`` means a history satisfying ``a`` satisfies ``b``.
* ``ANOMALY_IMPLIES``: ``a -> b`` means finding ``a`` means ``b`` is present too
  (a G0 cycle is also a G1c cycle; every cycle is also its ``-process`` and
  ``-realtime`` form, since a process runs one transaction at a time).
* ``DIRECT``: the anomalies a model forbids beyond what the models it implies
  forbid.

From them: the anomalies a set of models forbids (every model they imply,
each one's direct anomalies, then every anomaly that implies one of those),
and, for a set of anomalies found, the models ruled out (the models directly
forbidding anything those anomalies imply, then every stronger model) and
the weakest of those.  Names are Elle's friendly ones; the Adya names
(``PL-2``, ``PL-SI``...) and ``strict-serializable`` are accepted as aliases.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

ALIASES: dict[str, str] = {
    "PL-1": "read-uncommitted",
    "PL-2": "read-committed",
    "PL-2+": "consistent-view",
    "PL-2L": "monotonic-view",
    "PL-2.99": "repeatable-read",
    "PL-3": "serializable",
    "PL-3U": "update-serializable",
    "PL-CS": "cursor-stability",
    "PL-FCV": "forward-consistent-view",
    "PL-MSR": "monotonic-snapshot-read",
    "PL-SI": "snapshot-isolation",
    "PL-SS": "strong-serializable",
    "conflict-serializable": "serializable",
    "strict-serializable": "strong-serializable",
    "strong-session-PL-1": "strong-session-read-uncommitted",
    "strong-session-PL-2": "strong-session-read-committed",
    "strong-PL-1": "strong-read-uncommitted",
    "strong-PL-2": "strong-read-committed",
}

MODEL_IMPLIES: dict[str, tuple[str, ...]] = {
    "causal-cerone": ("read-atomic",),
    "consistent-view": ("cursor-stability", "monotonic-view"),
    "cursor-stability": ("read-committed",),
    "forward-consistent-view": ("consistent-view",),
    "monotonic-atomic-view": ("read-committed",),
    "monotonic-snapshot-read": ("read-committed",),
    "monotonic-view": ("read-committed",),
    "parallel-snapshot-isolation": ("causal-cerone", "update-atomic"),
    "prefix": ("causal-cerone",),
    "read-atomic": ("monotonic-atomic-view",),
    "read-committed": ("read-uncommitted",),
    "repeatable-read": ("cursor-stability", "monotonic-atomic-view"),
    "serializable": ("repeatable-read", "snapshot-isolation", "update-serializable", "view-serializable"),
    "session-serializable": ("1SR",),
    "snapshot-isolation": ("forward-consistent-view", "monotonic-atomic-view", "monotonic-snapshot-read",
                           "parallel-snapshot-isolation", "prefix"),
    "strong-serializable": ("serializable", "linearizable", "snapshot-isolation", "strong-snapshot-isolation",
                            "strong-session-serializable", "session-serializable"),
    "strong-session-read-uncommitted": ("read-uncommitted",),
    "strong-session-read-committed": ("read-committed", "strong-session-read-uncommitted"),
    "strong-read-uncommitted": ("strong-session-read-uncommitted",),
    "strong-read-committed": ("strong-session-read-committed", "strong-read-uncommitted"),
    "strong-session-serializable": ("serializable", "strong-session-snapshot-isolation"),
    "strong-session-snapshot-isolation": ("snapshot-isolation", "strong-session-read-committed"),
    "strong-snapshot-isolation": ("strong-session-snapshot-isolation", "strong-read-committed"),
    "update-atomic": ("read-atomic",),
    "update-serializable": ("forward-consistent-view",),
    "linearizable": ("sequential",),
    "sequential": ("causal",),
    "causal": ("writes-follow-reads", "PRAM"),
    "PRAM": ("monotonic-reads", "monotonic-writes", "read-your-writes"),
}

DIRECT: dict[str, tuple[str, ...]] = {
    "causal-cerone": ("internal", "G1a"),
    "consistent-view": ("G1", "G-single"),
    "cursor-stability": ("G1", "G-cursor", "lost-update"),
    "forward-consistent-view": ("G1", "G-SIb"),
    "monotonic-snapshot-read": ("G1", "G-MSR"),
    "monotonic-view": ("G1", "G-monotonic"),
    "parallel-snapshot-isolation": ("internal", "G1a"),
    "prefix": ("internal", "G1a"),
    "read-atomic": ("internal", "G1a", "future-read"),
    "read-committed": ("G1", "PL-2-cycle-exists"),
    "read-uncommitted": ("G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"),
    "repeatable-read": ("G1", "G2-item", "lost-update", "PL-2.99-cycle-exists"),
    "serializable": ("internal", "G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"),
    "snapshot-isolation": ("internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"),
    "strong-serializable": ("G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"),
    "strong-session-read-uncommitted": ("G0-process", "strong-session-PL-1-cycle-exists"),
    "strong-session-read-committed": ("G1c-process", "strong-session-PL-2-cycle-exists"),
    "strong-read-uncommitted": ("G0-realtime", "strong-PL-1-cycle-exists"),
    "strong-read-committed": ("G1c-realtime", "strong-PL-2-cycle-exists"),
    "strong-session-snapshot-isolation": ("internal", "G1-process", "G-nonadjacent-process",
                                          "strong-session-snapshot-isolation-cycle-exists"),
    "strong-snapshot-isolation": ("internal", "G1-realtime", "G-nonadjacent-realtime",
                                  "strong-snapshot-isolation-cycle-exists"),
    "strong-session-serializable": ("G1-process", "G2-process", "strong-session-serializable-cycle-exists"),
    "update-atomic": ("lost-update",),
    "update-serializable": ("G1", "G-update"),
}

ANOMALY_IMPLIES: dict[str, tuple[str, ...]] = {
    "G0": ("G1c", "G0-process"),
    "G0-process": ("G1c-process", "G0-realtime"),
    "G0-realtime": ("G1c-realtime",),
    "G1a": ("G1",),
    "G1b": ("G1",),
    "G1c": ("G1", "G1c-process"),
    "G1c-process": ("G1c-realtime", "G1-process"),
    "G1c-realtime": ("G1-realtime",),
    "G1": ("G1-process",),
    "G1-process": ("G1-realtime",),
    "G-single-item": ("G-single", "G-single-item-process", "G-nonadjacent-item"),
    "G-single-item-process": ("G-single-process", "G-single-item-realtime", "G-nonadjacent-item-process"),
    "G-single-item-realtime": ("G-single-realtime", "G-nonadjacent-item-realtime"),
    "G-single": ("G-nonadjacent", "GSIb", "G-single-process"),
    "G-single-process": ("G-nonadjacent-process", "G-single-realtime"),
    "G-single-realtime": ("G-nonadjacent-realtime",),
    "G-nonadjacent-item": ("G-nonadjacent", "G2-item", "G-nonadjacent-item-process"),
    "G-nonadjacent-item-process": ("G-nonadjacent-process", "G2-item-process", "G-nonadjacent-item-realtime"),
    "G-nonadjacent-item-realtime": ("G2-item-realtime", "G-nonadjacent-realtime"),
    "G-nonadjacent": ("G2", "G-nonadjacent-process"),
    "G-nonadjacent-process": ("G2-process", "G-nonadjacent-realtime"),
    "G-nonadjacent-realtime": ("G2-realtime",),
    "G2": ("G2-process",),
    "G2-item": ("G2", "G2-item-process"),
    "G2-item-process": ("G2-process", "G2-item-realtime"),
    "G2-item-realtime": ("G2-realtime",),
    "G2-process": ("G2-realtime",),
    "GSIa": ("GSI",),
    "GSIb": ("GSI",),
    "incompatible-order": ("G1a",),
    "future-read": ("G1c",),
    "dirty-update": ("G1a",),
    "lost-update": ("write-skew", "G2-item"),
    "write-skew": ("G2",),
}

UNKNOWN_TYPES = frozenset({"empty-transaction-graph", "cycle-search-timeout"})
"""Anomalies that make a result ``unknown`` rather than invalid."""

OTHER_ANOMALIES = frozenset({"internal", "duplicate-elements", "cyclic-versions", "duplicate-appends",
                             "duplicate-writes"})

DEFAULT_MODELS = ("strict-serializable",)


def _invert(graph: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for a, bs in graph.items():
        for b in bs:
            out.setdefault(b, []).append(a)
    return {k: tuple(v) for k, v in out.items()}


_MODEL_IMPLIED_BY = _invert(MODEL_IMPLIES)
_ANOMALY_IMPLIED_BY = _invert(ANOMALY_IMPLIES)
_FORBIDDEN_BY = _invert(DIRECT)


def _closure(start: Iterable[str], step: Mapping[str, Iterable[str]]) -> set[str]:
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


MODELS: frozenset[str] = frozenset(
    set(MODEL_IMPLIES) | {b for bs in MODEL_IMPLIES.values() for b in bs} | set(DIRECT) | set(ALIASES)
)
"""Every model name accepted (friendly names and aliases)."""

ANOMALIES: frozenset[str] = frozenset(
    set(ANOMALY_IMPLIES) | {b for bs in ANOMALY_IMPLIES.values() for b in bs}
    | {a for bs in DIRECT.values() for a in bs} | UNKNOWN_TYPES | OTHER_ANOMALIES
)
"""Every anomaly name known."""


def canonical(model: str) -> str:
    """The friendly name of a model (``PL-2`` -> ``read-committed``)."""
    return ALIASES.get(model, model)


def _unknown(what: str, name: str, known: Iterable[str], common: str) -> ValueError:
    close = difflib.get_close_matches(name, list(known), n=2)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return ValueError(f"unknown {what} {name!r}; {hint}common ones: {common}")


def check_models(models: Iterable[str]) -> list[str]:
    """The models, canonical; ``ValueError`` naming the first unknown one."""
    out = []
    for m in models:
        if m not in MODELS:
            raise _unknown("consistency model", m, MODELS, "read-committed, repeatable-read, snapshot-isolation, "
                           "serializable, strict-serializable (docs/txncheck.md lists all)")
        out.append(canonical(m))
    return out


def check_anomalies(anomalies: Iterable[str]) -> list[str]:
    out = list(anomalies)
    for a in out:
        if a not in ANOMALIES:
            raise _unknown("anomaly", a, ANOMALIES, "G0, G1, G1a, G1b, G1c, G-single, G2-item, G2, lost-update, internal")
    return out


def implied_models(models: Iterable[str]) -> set[str]:
    """The models, and every model they imply (weaker ones)."""
    return _closure((canonical(m) for m in models), MODEL_IMPLIES)


def implied_anomalies(anomalies: Iterable[str]) -> set[str]:
    """The anomalies, and every anomaly they imply."""
    return _closure(anomalies, ANOMALY_IMPLIES)


def anomalies_implying(anomalies: Iterable[str]) -> set[str]:
    """The anomalies, and every anomaly that implies one of them."""
    return _closure(anomalies, _ANOMALY_IMPLIED_BY)


def forbidden_by(models: Iterable[str]) -> set[str]:
    """Every anomaly that cannot be present if all of ``models`` hold."""
    direct = {a for m in implied_models(models) for a in DIRECT.get(m, ())}
    return anomalies_implying(direct)


def prohibited(models: Iterable[str] | None, anomalies: Iterable[str] = ()) -> set[str]:
    """Anomalies that make a history invalid: forbidden by ``models``, or implying one of ``anomalies``.

    ``models=None`` means no model at all (Elle's explicit ``nil``).
    """
    return anomalies_implying(anomalies) | (forbidden_by(models) if models else set())


def impossible_models(anomalies: Iterable[str]) -> set[str]:
    """Every model ruled out by the anomalies: those forbidding what they imply, and stronger ones."""
    direct = {m for a in implied_anomalies(anomalies) for m in _FORBIDDEN_BY.get(a, ())}
    return _closure(direct, _MODEL_IMPLIED_BY)


def stronger_models(model: str) -> set[str]:
    """The model and every model that implies it."""
    return _closure([canonical(model)], _MODEL_IMPLIED_BY)


def weakest(models: Iterable[str]) -> set[str]:
    """The models in the set that no other model in the set is weaker than."""
    ms = set(models)
    return {m for m in ms if not (_closure(MODEL_IMPLIES.get(m, ()), MODEL_IMPLIES) & (ms - {m}))}


def boundary(anomalies: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(not, also_not)``: the weakest models ruled out, and the stronger ones ruled out too."""
    impossible = impossible_models(anomalies)
    weak = weakest(impossible)
    return sorted(weak), sorted(impossible - weak)
