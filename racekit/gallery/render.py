"""Build the static gallery: an index of every system and one page per counterexample.

The site is plain files: no server, no CDN, no JavaScript, CSS inline, so it
works offline from ``file://``.  Every value read from a counterexample file
is untrusted text: it reaches HTML (and the inline SVG) only through
jinja2's autoescaping, and each page forbids scripts with a
Content-Security-Policy as a second fence.  A file that does not load is
listed on the index as ``unreadable: <reason>`` and the build goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from racekit import store
from racekit.errors import RacekitError
from racekit.gallery.svg import layout
from racekit.project import Project
from racekit.timeline import Timeline, clean, timeline

__all__ = ["Site", "build", "environment", "render_page"]


def _template_source(name: str) -> str | None:
    node = resources.files("racekit.gallery").joinpath("templates")
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return None
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8") if node.is_file() else None


def environment() -> jinja2.Environment:
    """The template environment: package-data templates, autoescape on everywhere."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    return env


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------
# What the index shows


@dataclass
class Entry:
    """One counterexample file: loaded, or the one-line reason it could not be."""

    path: Path
    system: str  # directory (or the file's own system field for extra files)
    doc: dict[str, Any] | None = None
    error: str = ""
    href: str = ""  # page, relative to the index
    tl: Timeline | None = None

    @property
    def variant(self) -> str:
        return self.doc["variant"] if self.doc else ""


@dataclass
class Found:
    text: str
    href: str = ""
    cls: str = ""  # "ok" (as expected) | "bad" (not as expected) | "unknown"


@dataclass
class VariantRow:
    name: str
    expect: str  # "violation of <property>" | "correct"
    bug: str
    found: list[Found] = field(default_factory=list)


@dataclass
class SystemRow:
    name: str
    summary: str = ""
    kind: str = ""
    note: str = ""  # href to the copy of docs/systems/<id>.md, "" if there is none
    note_path: str = ""  # where the note is (or would be) in the project
    error: str = ""  # the system module did not load
    variants: list[VariantRow] = field(default_factory=list)
    unreadable: list[Entry] = field(default_factory=list)
    others: list[Entry] = field(default_factory=list)  # counterexamples of undeclared variants


@dataclass
class TxnEntry:
    """One saved transactional history (``<counterexamples>/txn/*.edn``), checked at build time."""

    path: Path
    error: str = ""  # one line: why it could not be read or checked
    href: str = ""
    verdict: str = ""  # valid / invalid / unknown
    workload: str = ""
    transactions: int = 0
    anomalies: list[str] = field(default_factory=list)
    ruled_out: list[str] = field(default_factory=list)


@dataclass
class Site:
    """What :func:`build` wrote: ``pages`` are the counterexamples' pages, ``txn`` the
    saved transactional histories (each with its page, or its error)."""

    index: Path
    pages: list[Path]
    unreadable: list[Entry]
    systems: list[SystemRow]
    txn: list[TxnEntry] = field(default_factory=list)


def _one_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return clean(first, 300)


def _load(path: Path, system: str) -> Entry:
    try:
        doc = store.load(path)
    except RacekitError as exc:
        return Entry(path, system, error=_one_line(str(exc)))
    except (RecursionError, MemoryError, ValueError) as exc:
        return Entry(path, system, error=_one_line(f"{path}: cannot load ({type(exc).__name__})"))
    return Entry(path, system, doc=doc)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "x"


def _system_row(proj: Project, name: str, out_dir: Path, env: jinja2.Environment) -> tuple[SystemRow, Any]:
    from racekit.registry import load_system

    note = proj.notes / f"{name}.md"
    row = SystemRow(name=name, note_path=clean(proj.rel(note), 300))
    if note.is_file():
        # Copied into the site as text, so the gallery stays whole when moved.
        try:
            text = note.read_text(encoding="utf-8", errors="replace")[:200_000]
        except OSError:
            text = None
        if text is not None:
            page = out_dir / "_notes" / f"{_slug(name)}.html"  # "_": no system is named so
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                env.get_template("note.html").render(
                    name=name, text=text, up="../", title=f"{name}: note"
                ),
                encoding="utf-8",
            )
            row.note = f"_notes/{_slug(name)}.html"
    try:
        system = load_system(name, proj)
    except Exception as exc:  # a broken catalogue module must not break the gallery
        row.error = _one_line(f"{type(exc).__name__}: {exc}")
        return row, None
    row.summary = clean(system.summary, 300)
    row.kind = clean(system.kind, 20)
    for v in system.variants:
        expect = f"violation of {v.property}" if v.expect == "violation" else "correct"
        row.variants.append(VariantRow(name=clean(v.name, 80), expect=clean(expect, 200), bug=clean(v.bug, 600)))
    return row, system


def _found(row: SystemRow, system: Any, entries: list[Entry]) -> None:
    """Fill in each variant's "found" column from the counterexamples."""
    loaded = [e for e in entries if e.doc is not None]
    declared = {v.name: v for v in system.variants} if system is not None else {}
    for vr in row.variants:
        v = declared.get(vr.name)
        if v is not None and v.expect == "violation":
            mine = [e for e in loaded if e.variant == vr.name]
            for e in mine:
                assert e.doc is not None
                vr.found.append(Found(f"violation: {clean(e.doc['message'], 240)}", e.href, "ok"))
            if not mine:
                vr.found.append(Found("no counterexample saved yet", cls="unknown"))
            continue
        clean_n, bad = 0, []
        for e in loaded:
            assert e.doc is not None
            r = e.doc["replay"].get(vr.name)
            if not isinstance(r, dict):
                continue
            if r.get("outcome") == "clean":
                clean_n += 1
            else:
                bad.append(e)
        for e in bad:
            vr.found.append(Found(f"violation on replay of {e.variant}", e.href, "bad"))
        if clean_n:
            vr.found.append(Found(f"clean: {clean_n} counterexample(s) replay clean", cls="ok"))
        if not clean_n and not bad:
            vr.found.append(Found("not replayed yet (no saved counterexample of a broken sibling)", cls="unknown"))
    for e in loaded:
        if e.variant not in declared:
            row.others.append(e)
    row.unreadable = [e for e in entries if e.doc is None]


def build(
    root: Path | Project,
    out_dir: Path,
    extra: Sequence[Path] = (),
    systems: Iterable[str] | None = None,
) -> Site:
    """Render the gallery of the project at ``root`` into ``out_dir``.

    Counterexamples are read from ``<counterexamples>/<system>/`` (the folder
    ``[tool.racekit]`` names; folders of systems outside the registry, such as
    a state machine in a test module, are listed under "Other
    counterexamples"); ``extra`` names more counterexample files (anywhere)
    to add (``.edn`` ones are transactional histories, listed with the saved
    ``<counterexamples>/txn/*.edn``).  ``systems`` restricts the catalogue
    systems listed (default: all).
    """
    from racekit.registry import project

    proj = project(root if isinstance(root, Project) else Path(root))
    root = proj.root
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()

    from racekit.registry import system_names

    names = list(systems) if systems is not None else (system_names(proj) if proj.has_systems() else [])
    ce_root = proj.counterexamples
    entries: dict[str, list[Entry]] = {}
    for name in names:
        entries[name] = [_load(p, name) for p in store.saved(ce_root, name)]
    outside: list[Entry] = []
    if systems is None and ce_root.is_dir():
        for folder in sorted(d for d in ce_root.iterdir() if d.is_dir() and d.name not in entries and d.name != "txn"):
            outside += [_load(p, folder.name) for p in store.saved(ce_root, folder.name)]
    seen = {e.path.resolve() for e in [*outside, *(x for xs in entries.values() for x in xs)]}
    histories = [Path(p) for p in extra if Path(p).suffix == ".edn"]  # transactional: their own section
    for p in extra:
        if Path(p).suffix == ".edn":
            continue
        if Path(p).resolve() in seen:
            continue  # already listed from the counterexample folder
        seen.add(Path(p).resolve())
        e = _load(Path(p), "extra")
        if e.doc is not None and e.doc["system"] in entries:
            e.system = e.doc["system"]
            entries[e.system].append(e)
        else:
            if e.doc is not None:
                e.system = e.doc["system"]
            outside.append(e)

    # -- one page per readable counterexample
    used: set[str] = set()
    pages: list[Path] = []
    page_t = env.get_template("counterexample.html")
    for e in [x for xs in entries.values() for x in xs] + outside:
        if e.doc is None:
            continue
        base = f"{_slug(e.system)}/{_slug(e.path.stem)}"
        href, n = f"{base}.html", 1
        while href in used:
            n += 1
            href = f"{base}-{n}.html"
        used.add(href)
        e.href = href
        e.tl = timeline(e.doc, root)
        page = out_dir / href
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(_page(page_t, e.tl, e.doc, _display(e.path, root)), encoding="utf-8")
        pages.append(page)

    # -- transactional anomalies: one page each, the history checked now, not trusted
    txn = _txn_pages(ce_root, histories, out_dir, root)

    # -- the index
    rows: list[SystemRow] = []
    for name in names:
        row, system = _system_row(proj, name, out_dir, env)
        _found(row, system, entries[name])
        rows.append(row)
    unreadable = [e for xs in entries.values() for e in xs if e.doc is None] + [e for e in outside if e.doc is None]
    unreadable += [Entry(t.path, "txn", error=t.error) for t in txn if t.error]
    for e in unreadable:
        e.error = e.error or "unknown error"
    index = out_dir / "index.html"
    index.write_text(
        env.get_template("index.html").render(
            systems=rows,
            outside=outside,
            txn=txn,
            txn_pages=sum(1 for t in txn if t.href),
            unreadable_count=len(unreadable),
            page_count=len(pages),
            display=lambda p: clean(_display(p, root), 300),
            up="",
            title="racekit counterexample gallery",
        ),
        encoding="utf-8",
    )
    return Site(index=index, pages=pages, unreadable=unreadable, systems=rows, txn=txn)


def _txn_pages(ce_root: Path, extra: Sequence[Path], out_dir: Path, root: Path) -> list[TxnEntry]:
    """Check each saved history (and each extra ``.edn`` file) with racekit.txn and draw
    its anomaly cycles on a page of its own."""
    from racekit.txn import render as txn_render
    from racekit.txn import saved as txn_saved

    out: list[TxnEntry] = []
    used: set[str] = set()
    paths = list(txn_saved.saved(ce_root))
    seen = {q.resolve() for q in paths}
    for q in extra:
        if q.resolve() not in seen:  # a committed one named again is listed once
            seen.add(q.resolve())
            paths.append(q)
    for path in paths:
        entry = TxnEntry(path)
        out.append(entry)
        try:
            history, result = txn_saved.read(path)
        except RacekitError as exc:
            entry.error = _one_line(str(exc))
            continue
        except (RecursionError, MemoryError, ValueError) as exc:
            entry.error = _one_line(f"{path}: cannot check ({type(exc).__name__})")
            continue
        entry.verdict = {True: "valid", False: "invalid", "unknown": "unknown"}[result.valid]
        entry.workload = result.workload
        entry.transactions = result.operations
        entry.anomalies = [clean(a, 80) for a in result.anomaly_types]
        entry.ruled_out = [clean(m, 80) for m in result.not_]
        href = f"_txn/{_slug(path.stem)}.html"  # "_": no system is named so
        while href in used:
            href = href[:-5] + "-2.html"
        used.add(href)
        entry.href = href
        page = out_dir / href
        page.parent.mkdir(parents=True, exist_ok=True)
        title = f"{_display(path, root)}: {', '.join(result.anomaly_types) or entry.verdict}"
        page.write_text(txn_render.render_page(result, title=clean(title, 300), up="../"), encoding="utf-8")
    return out


def _page(template: jinja2.Template, tl: Timeline, doc: dict[str, Any], source: str) -> str:
    return template.render(tl=tl, svg=layout(tl), scenario=_scenario(doc), up="../",
                           source=clean(source, 300), title=f"{tl.system} / {tl.variant}")


def render_page(doc: dict[str, Any], root: Path | None = None, source: str = "") -> str:
    """The HTML page of one counterexample document (what :func:`build` writes)."""
    return _page(environment().get_template("counterexample.html"), timeline(doc, root), doc, source)


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _scenario(doc: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The operations each thread was given, when the scenario is per-thread."""
    sc = doc.get("scenario")
    threads = sc.get("threads") if isinstance(sc, dict) else None
    if not isinstance(threads, list):
        return []
    out = []
    for t, ops in enumerate(threads[:64]):
        calls = []
        for op in ops[:64] if isinstance(ops, list) else []:
            if isinstance(op, list) and op and isinstance(op[0], str):
                args = op[1] if len(op) > 1 and isinstance(op[1], list) else []
                calls.append(clean(f"{op[0]}({', '.join(clean(a, 60) if not isinstance(a, str) else repr(a) for a in args)})", 200))
            else:
                calls.append(clean(op, 200))
        out.append((f"T{t}", calls))
    return out
