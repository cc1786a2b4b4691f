"""The gallery's transactional anomalies: saved EDN histories, checked at build
time, one page each with its cycle; hostile and broken files stay harmless."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from racekit.cli import main
from racekit.gallery import build
from racekit.txn import saved
from racekit.txn.history import parse

REPO = Path(__file__).resolve().parents[1]
COMMITTED = saved.saved(REPO / "counterexamples")

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
# Write skew (G2-item) whose keys are markup: every place a key reaches the
# page - cycle labels, step table, tooltips, bindings - must show it as text.
IMG_EDN = IMG.replace('"', '\\"')  # as an EDN string literal
HOSTILE = f"""; {SCRIPT}
{{:index 0, :type :invoke, :process 0, :f :txn, :value [[:append "{SCRIPT}" 1] [:r "{IMG_EDN}" nil]]}}
{{:index 1, :type :invoke, :process 1, :f :txn, :value [[:r "{SCRIPT}" nil] [:append "{IMG_EDN}" 1]]}}
{{:index 2, :type :ok, :process 0, :f :txn, :value [[:append "{SCRIPT}" 1] [:r "{IMG_EDN}" []]]}}
{{:index 3, :type :ok, :process 1, :f :txn, :value [[:r "{SCRIPT}" []] [:append "{IMG_EDN}" 1]]}}
"""


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, object]:
    root = tmp_path / "proj"
    folder = root / "counterexamples" / "txn"
    folder.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n[tool.racekit]\n')
    (folder / "hostile.edn").write_text(HOSTILE)
    (folder / f"{SCRIPT.replace('/', '')}.edn").write_text(HOSTILE)  # a hostile file name too
    (folder / "truncated.edn").write_text("{:index 0, :type :ok, :process 0, :f :txn, :value [[:append :x 1]")
    (folder / "empty.edn").write_text("; nothing here\n")
    (folder / "binary.edn").write_bytes(b"\xff\xfe\x00garbage")
    if COMMITTED:
        (folder / COMMITTED[0].name).write_text(COMMITTED[0].read_text())
    out = tmp_path / "site"
    return out, build(root, out)


def test_each_history_is_checked_and_drawn(site: tuple[Path, object]) -> None:
    out, result = site
    txn = {t.path.name: t for t in result.txn}  # type: ignore[attr-defined]
    hostile = txn["hostile.edn"]
    assert hostile.verdict == "invalid" and hostile.anomalies == ["G2-item"] and hostile.transactions == 2
    page = (out / hostile.href).read_text()
    assert page.count("<svg") == 1 and "G2-item cycle" in page
    assert '<a href="../index.html">' in page  # back to the gallery
    index = (out / "index.html").read_text()
    assert 'id="txn"' in index and "Transactional anomalies" in index and f'href="{hostile.href}"' in index


def test_unreadable_histories_are_listed_with_their_reason(site: tuple[Path, object]) -> None:
    out, result = site
    bad = {t.path.name: t.error for t in result.txn if t.error}  # type: ignore[attr-defined]
    assert set(bad) == {"truncated.edn", "empty.edn", "binary.edn"}
    assert "not UTF-8" in bad["binary.edn"] and "neither :append nor :w" in bad["empty.edn"]
    assert all("\n" not in e for e in bad.values())
    index = (out / "index.html").read_text()
    for name, error in bad.items():
        assert name in index
    assert index.count("unreadable: ") >= 3
    assert len(result.unreadable) == 3  # type: ignore[attr-defined]


def test_a_hostile_history_is_text_everywhere(site: tuple[Path, object]) -> None:
    out, _ = site
    files = sorted(p for p in out.rglob("*.html"))
    assert len(files) >= 3
    for path in files:
        text = path.read_text()
        assert SCRIPT not in text and "<img" not in text, path
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        for tag, attrs in _tags(text):
            assert tag not in ("script", "img", "iframe", "object", "embed"), (path, tag)
            assert not [a for a in attrs if a.startswith("on")], (path, tag, attrs)
    page = next(p for p in files if p.name == "hostile.html").read_text()
    svg = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert svg and "&lt;script&gt;" in svg.group(0)  # the key, in the cycle's labels and tooltips
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page


@pytest.mark.skipif(not COMMITTED, reason="no histories under counterexamples/txn/: write them with "
                    "`python benchmarks/txn_databases.py --save` (needs PostgreSQL)")
def test_the_committed_histories_show_the_anomalies_their_names_say() -> None:
    for path in COMMITTED:
        history, result = saved.read(path)
        named = set(path.stem.split("--", 1)[1].split("+"))
        assert result.valid is False and named <= set(result.found), (path.name, result.found)
        assert saved.file_name(path.stem.split("--")[0], named) == path.name
        assert saved.dumps(history, path.stem.split("--")[0], named) == path.read_text()  # same bytes


def test_written_histories_are_data_with_stable_names(tmp_path: Path) -> None:
    history = parse(HOSTILE.replace(":index 3,", ":index 3, :time 123456789,"), "list-append")
    assert history.ops[-1].time == 123456789
    path = saved.write(tmp_path, "postgres-repeatable-read", history, ["G2-item"])
    assert path.name == "postgres-repeatable-read--G2-item.edn"
    again = saved.write(tmp_path, "postgres-repeatable-read", history, {"G2-item"})
    assert again == path and ":time" not in path.read_text()
    assert saved.file_name("PG read committed", ["internal", "G-single-item"]) == \
        "pg-read-committed--G-single-item+internal.edn"
    _, result = saved.read(path)
    assert result.anomaly_types == ["G2-item"]


def test_edn_files_named_on_the_command_line_are_histories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``racekit gallery -o DIR FILE.edn``: a history from elsewhere gets its page in the
    transactional section (not "not valid JSON"), a saved one named again is listed once."""
    root = tmp_path / "proj"
    (root / "counterexamples" / "txn").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n[tool.racekit]\n')
    mine = root / "counterexamples" / "txn" / "hostile.edn"
    mine.write_text(HOSTILE)
    theirs = tmp_path / "report" / "hostile.edn"  # same name, from a bug report
    theirs.parent.mkdir()
    theirs.write_text(HOSTILE)
    broken = tmp_path / "report" / "broken.edn"
    broken.write_text("{:index 0, :type")
    out = tmp_path / "site"
    site = build(root, out, extra=[mine, theirs, broken])
    pages = sorted(t.href for t in site.txn if t.href)
    assert pages == ["_txn/hostile-2.html", "_txn/hostile.html"]
    assert [t.path for t in site.txn if t.error] == [broken]
    assert [e.path for e in site.unreadable] == [broken] and not site.pages

    monkeypatch.chdir(root)
    monkeypatch.delenv("RACEKIT_CATALOGUE", raising=False)
    res = CliRunner().invoke(main, ["gallery", "-o", str(tmp_path / "site2"), str(theirs)])
    assert res.exit_code == 0, res.output
    assert "2 transactional history page(s), 0 unreadable" in res.output
