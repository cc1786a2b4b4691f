"""The gallery in a real browser: headless Chromium loads it from file://.

Skipped, with the reason, when no Chromium is installed (``.ci/run``
installs the Debian ``chromium`` package).  Each browser run is bounded by a
timeout and runs in its own process group, which is killed afterwards so no
Chromium process outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from racekit.gallery import build

FIX = Path(__file__).parent / "fixtures" / "counterexamples"
REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 90

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless browser check needs Chromium (apt-get install chromium)"
)


def _ours(marker: str) -> list[int]:
    """Live processes carrying ``marker`` in their environment: the browser we started
    and every helper it forked, including those that left its process group
    (Chromium's crash handler daemonizes with its own session)."""
    needle = marker.encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def chromium(args: list[str], profile: Path) -> str:
    """Run headless Chromium once; return its stdout.  Never leaves a process behind."""
    assert CHROMIUM is not None
    marker = f"racekit-gallery-test-{uuid.uuid4().hex}"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
        "--disable-dev-shm-usage", "--disable-breakpad", "--hide-scrollbars", "--mute-audio",
        f"--user-data-dir={profile}", *args,
    ]
    env = {**os.environ, "RACEKIT_BROWSER_RUN": marker}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        out = ""
        pytest.fail(f"chromium did not finish within {TIMEOUT}s: {' '.join(args)}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (left := _ours(marker)) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
    assert not _ours(marker), "chromium processes left behind"
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build(REPO, out, extra=[FIX / "counter-naive.json", FIX / "sim-kvstore.json", FIX / "hostile.json"], systems=[])
    return out


def test_browser_draws_one_lane_per_thread(site: Path, tmp_path: Path) -> None:
    dom = chromium(["--dump-dom", (site / "counter" / "counter-naive.html").as_uri()], tmp_path / "profile")
    m = re.search(r"<svg\b.*?</svg>", dom, re.S)
    assert m, "the rendered page has no SVG"
    svg = m.group(0)
    assert re.findall(r'<g class="lane" data-lane="([^"]*)"', svg) == ["T0", "T1", "final"]
    assert len(re.findall(r'<rect class="op[^"]*"', svg)) == 3
    assert 'class="preemption"' in svg and 'class="op stuck"' in svg


def test_browser_index_links_the_pages(site: Path, tmp_path: Path) -> None:
    dom = chromium(["--dump-dom", (site / "index.html").as_uri()], tmp_path / "profile")
    assert 'href="counter/counter-naive.html"' in dom and 'href="kvstore/sim-kvstore.html"' in dom


def test_browser_shows_hostile_strings_as_text(site: Path, tmp_path: Path) -> None:
    dom = chromium(["--dump-dom", (site / "counter" / "hostile.html").as_uri()], tmp_path / "profile")
    assert "<script" not in dom.lower() and "<img" not in dom.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert len(re.findall(r'<g class="lane"', dom)) == 2


def test_browser_screenshot(site: Path, tmp_path: Path) -> None:
    png = tmp_path / "page.png"
    chromium(
        [f"--screenshot={png}", "--window-size=1200,900", (site / "counter" / "counter-naive.html").as_uri()],
        tmp_path / "profile",
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    shot = os.environ.get("RACEKIT_GALLERY_SCREENSHOT")
    if shot:  # refresh docs/gallery.png: RACEKIT_GALLERY_SCREENSHOT=docs/gallery.png pytest ...
        shutil.copy(png, shot)
