"""The anomaly page: a drawing per cycle, everything escaped, no script."""

from __future__ import annotations

from racekit.txn import check, parse
from racekit.txn.render import layout, render_page

EVIL = '"<script>alert(1)</script>"'


def _result():  # type: ignore[no-untyped-def]
    text = (f"{{:index 0, :type :ok, :process 0, :value [[:append {EVIL} 1] [:r :y nil]]}}\n"
            f"{{:index 1, :type :ok, :process 1, :value [[:append :y 1] [:r {EVIL} nil]]}}\n")
    return check(parse(text, "list-append"), {"consistency-models": ["serializable"]})


def test_page_escapes_history_text_and_has_no_script() -> None:
    result = _result()
    assert result.anomaly_types == ["G2-item"]
    page = render_page(result, title="<b>t</b>")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;t&lt;/b&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count("<svg") == 1 and 'class="edge rw"' in page


def test_layout_puts_every_transaction_on_the_drawing() -> None:
    cycle = _result().cycles[0]
    svg = layout(cycle, "x")
    assert len(svg.nodes) == 2 and len(svg.edges) == 2 and svg.rels == ["rw"]
    for node in svg.nodes:
        assert 0 < node.x < svg.width and 0 < node.y < svg.height


def test_valid_result_page() -> None:
    text = "{:type :ok, :process 0, :value [[:append :x 1]]}\n{:type :ok, :process 1, :value [[:r :x [1]]]}\n"
    result = check(parse(text, "list-append"))
    assert result.valid is True
    page = render_page(result)
    assert "No anomaly found" in page and "<svg" not in page
