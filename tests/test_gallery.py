"""racekit.gallery: the static site, its escaping, and `racekit gallery`."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from racekit import store
from racekit.registry import system_names
from racekit.commands.gallery import gallery as gallery_command
from racekit.gallery import build, environment

REPO = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "counterexamples"
COUNTER = FIX / "counter-naive.json"
HOSTILE = FIX / "hostile.json"
SIM = FIX / "sim-kvstore.json"
TRUNCATED = FIX / "truncated.json"
WRONG = FIX / "wrong-format.json"

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def svg_of(html: str) -> str:
    m = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert m, "page has no SVG timeline"
    return m.group(0)


# --------------------------------------------------------------------------
# Templates


def test_templates_ship_as_package_data_with_autoescape() -> None:
    folder = resources.files("racekit.gallery").joinpath("templates")
    for name in ("base.html", "index.html", "counterexample.html", "timeline.svg", "note.html"):
        assert folder.joinpath(name).is_file(), name
    env = environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x=SCRIPT) == "&lt;script&gt;alert(1)&lt;/script&gt;"


# --------------------------------------------------------------------------
# Building from fixtures


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, object]:
    """A gallery of the fixtures alone: an empty catalogue plus explicit files."""
    root = tmp_path / "catalogue"
    root.mkdir()
    out = tmp_path / "site"
    result = build(root, out, extra=[COUNTER, SIM, HOSTILE, TRUNCATED, WRONG])
    return out, result


def test_one_page_per_readable_file_and_unreadable_ones_listed(site: tuple[Path, object]) -> None:
    out, result = site
    assert {p.relative_to(out).as_posix() for p in result.pages} == {  # type: ignore[attr-defined]
        "counter/counter-naive.html", "kvstore/sim-kvstore.html", "counter/hostile.html"}
    index = (out / "index.html").read_text()
    lines = [line for line in index.splitlines() if "unreadable: " in line]
    assert len(lines) == 2
    assert any("truncated.json" in line and "not valid JSON" in line for line in lines)
    assert any("wrong-format.json" in line and "unsupported format" in line for line in lines)
    assert 'href="counter/counter-naive.html"' in index and 'href="kvstore/sim-kvstore.html"' in index


def test_counterexample_page_has_the_timeline_the_verdict_and_the_fix(site: tuple[Path, object]) -> None:
    out, _ = site
    page = (out / "counter" / "counter-naive.html").read_text()
    svg = svg_of(page)
    lanes = re.findall(r'<g class="lane" data-lane="([^"]*)"', svg)
    assert lanes == ["T0", "T1", "final"]
    assert svg.count('class="op prefix"') == 2 and svg.count('class="op stuck"') == 1
    assert svg.count('class="preemption"') == 1
    assert "get() returned 1" in page
    # before / after: the broken variant fails, each fixed one replays clean
    for variant in ("cas", "locked", "sharded"):
        assert re.search(rf'<td class="mono">{variant}</td>\s*<td><span class="pill clean">clean</span>', page)
    assert '<span class="pill violation">violation</span>' in page
    assert "racekit replay counterexamples/counter/naive--linearizability.json" in page
    assert "systems/counter.py:24" in page
    # source lines are read from the catalogue root: an empty root has none
    assert '<td class="mono src">self.value += 1</td>' not in page


def test_source_lines_come_from_the_catalogue(tmp_path: Path) -> None:
    build(REPO, tmp_path, extra=[COUNTER], systems=[])
    page = (tmp_path / "counter" / "counter-naive.html").read_text()
    assert '<td class="mono src">self.value += 1</td>' in page


def test_sim_page_has_a_lane_per_node_and_client(site: tuple[Path, object]) -> None:
    out, _ = site
    svg = svg_of((out / "kvstore" / "sim-kvstore.html").read_text())
    assert re.findall(r'<g class="lane" data-lane="([^"]*)"', svg) == ["n1", "n2", "c1", "c2", "world"]
    assert 'class="preemption"' not in svg
    # one dot per event of the lane, even when two lanes act at the same step
    groups = re.findall(r'<g class="lane" data-lane="([^"]*)">(.*?)</g>\s*(?=<g class="lane"|</svg>)', svg, re.S)
    dots = {name: len(re.findall(r'<(?:circle|path) class="(?:step|fault)', body)) for name, body in groups}
    assert dots == {"n1": 3, "n2": 3, "c1": 2, "c2": 2, "world": 1}
    assert 'step 9: deliver @ n1-&gt;n2 replicate x=1' in svg


def test_hostile_file_renders_as_text_everywhere(site: tuple[Path, object]) -> None:
    out, _ = site
    for path in outputs(out):
        text = path.read_text()
        assert SCRIPT not in text, path
        assert "<img" not in text, path
        for tag, attrs in tags(text):
            assert tag not in ("script", "img", "iframe", "object", "embed"), (path, tag)
            assert not [a for a in attrs if a.startswith("on")], (path, tag, attrs)
    page = (out / "counter" / "hostile.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    svg = svg_of(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg  # lane names and op labels in the SVG
    assert "&#34;&gt;&lt;img" in svg
    index = (out / "index.html").read_text()
    assert "message &lt;script&gt;alert(1)&lt;/script&gt;" in index
    # a path that escapes the catalogue is never read for a source line
    assert "root:" not in page


def test_site_is_self_contained(site: tuple[Path, object]) -> None:
    out, _ = site
    for path in outputs(out):
        text = path.read_text()
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        assert "<script" not in text.lower()
        for tag, attrs in tags(text):
            for key in ("href", "src"):
                value = attrs.get(key)
                if value is None or (tag == "svg" and key == "href"):
                    continue
                assert "://" not in value and not value.startswith(("/", "javascript:", "data:")), (path, value)
                if key == "href":
                    assert (path.parent / value).resolve().is_file(), (path, value)


def test_file_in_counterexamples_dir_that_is_corrupt_does_not_break_the_gallery(tmp_path: Path) -> None:
    root = tmp_path / "catalogue"
    d = root / "counterexamples" / "counter"
    d.mkdir(parents=True)
    shutil.copy(COUNTER, d / "naive--linearizability.json")
    (d / "naive--other.json").write_text('{"format": "racekit-counterexample/2"')
    (d / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    result = build(root, tmp_path / "site", systems=["counter"])
    assert len(result.pages) == 1 and len(result.unreadable) == 2
    index = (tmp_path / "site" / "index.html").read_text()
    assert index.count("unreadable: ") == 2
    assert "system did not load" in index  # no systems/ here: reported, not raised


# --------------------------------------------------------------------------
# The real catalogue


def test_index_lists_every_system_and_variant(tmp_path: Path) -> None:
    from racekit.registry import load_system

    names = system_names(REPO)  # before the build: others may add systems meanwhile
    result = build(REPO, tmp_path, extra=[COUNTER])
    index = (tmp_path / "index.html").read_text()
    for name in names:
        assert f'id="system-{name}"' in index
        try:
            system = load_system(name, REPO)
        except Exception:  # a system being edited elsewhere: listed with its error
            continue
        for v in system.variants:
            assert f">{v.name}</td>" in index, (name, v.name)
    counter = next(s for s in result.systems if s.name == "counter")
    naive = next(v for v in counter.variants if v.name == "naive")
    assert naive.found and naive.found[0].cls == "ok" and naive.found[0].href
    locked = next(v for v in counter.variants if v.name == "locked")
    assert locked.found[-1].cls == "ok" and "replay clean" in locked.found[-1].text
    if (REPO / "docs" / "systems" / "counter.md").is_file():
        assert counter.note == "_notes/counter.html" and (tmp_path / counter.note).is_file()


def test_gallery_of_saved_counterexamples(tmp_path: Path) -> None:
    saved = [p for name in system_names(REPO) for p in store.saved(REPO / "counterexamples", name)]
    assert saved, "no counterexamples under counterexamples/: write them with `racekit check`"
    result = build(REPO, tmp_path)
    assert len(result.pages) + len(result.unreadable) == len(saved)
    for page in result.pages:
        html = page.read_text()
        assert html.count('<g class="lane"') >= 1 and "Before and after the fix" in html


# --------------------------------------------------------------------------
# racekit gallery


def test_gallery_command_builds_the_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RACEKIT_CATALOGUE", str(REPO))
    result = CliRunner().invoke(gallery_command, ["-o", str(tmp_path / "site"), str(HOSTILE)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "index.html").is_file()
    assert "gallery:" in result.stdout and "index.html" in result.stdout


@pytest.mark.parametrize("case", ["output-is-a-file", "missing-extra", "no-catalogue"])
def test_gallery_command_bad_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RACEKIT_CATALOGUE", str(REPO))
    out = tmp_path / "site"
    args = ["-o", str(out)]
    if case == "output-is-a-file":
        out.write_text("not a directory")
    elif case == "missing-extra":
        args.append(str(tmp_path / "nope.json"))
    else:
        monkeypatch.setenv("RACEKIT_CATALOGUE", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(gallery_command, args)
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("racekit: error: ")
    assert "Traceback" not in result.output
