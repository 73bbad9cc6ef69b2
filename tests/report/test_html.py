"""The HTML report: structure, formatting, escaping, self-containment and determinism."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assay.report._html import (
    BUNDLE_TRACES,
    PLOTLY_BUNDLE,
    SECTIONS,
    fmt_estimate,
    fmt_num,
    render_html,
    write_html,
)
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate


class _Page(HTMLParser):
    """Collects ids, attributes, visible text and script bodies of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)
        for k, v in attrs:
            self.attrs.append((tag, k, v or ""))
            if k == "id" and v:
                self.ids.add(v)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "script":
            self.scripts.append(data)
        elif not (self._in and self._in[-1] == "style"):
            self.text.append(data)

    @property
    def visible(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.text))


def _parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def report(shared_report: Report) -> Report:
    return shared_report


@pytest.fixture(scope="module")
def html(report: Report) -> str:
    return render_html(report)


@pytest.fixture(scope="module")
def page(html: str) -> _Page:
    return _parse(html)


def test_parses_and_has_every_section(page: _Page) -> None:
    for section in ("summary", "check-performance", "check-slices", "errors", "examples",
                    "provenance"):
        assert section in page.ids, section


def test_summary_shows_verdict_and_every_gate(report: Report, page: _Page) -> None:
    text = page.visible
    assert "FAIL" in text and "3 of 4 gates failed" in text
    for g in report.gates:
        assert g.gate in text
        assert fmt_num(g.threshold) in text
    assert "0.926" in text  # the failing AUC gate's observed value
    assert "undefined" in text  # a gate whose observed value is None is not shown as 0


def test_verdicts_pass_and_no_gates(report: Report) -> None:
    passing = report.model_copy(update={"gates": [g for g in report.gates if g.passed]})
    assert 'data-verdict="PASS"' in render_html(passing)
    assert 'data-verdict="NO GATES"' in render_html(report.model_copy(update={"gates": []}))


def test_metric_values_are_formatted_with_intervals(report: Report, page: _Page) -> None:
    text = page.visible
    for model in ("candidate", "baseline", "topic-clf"):
        r = report.result("performance", model)
        assert r is not None
        e = r.metrics["accuracy"]
        assert f"{e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}]" in text
    reg = report.result("performance", "price-reg")
    assert reg is not None
    rmse = reg.metrics["rmse"]
    assert f"{rmse.value:.2f} [{rmse.lower:.2f}, {rmse.upper:.2f}]" in text
    assert "95% interval" in text


def test_nan_is_undefined_never_zero() -> None:
    nan = Estimate(math.nan, math.nan, math.nan, 0.95, "wilson", 0)
    assert "undefined" in fmt_estimate(nan)
    assert fmt_num(math.nan) == "undefined" and fmt_num(None) == "undefined"
    assert "no interval" in fmt_estimate(Estimate.point(0.5, n=10))
    other_level = fmt_estimate(Estimate(0.5, 0.4, 0.6, 0.9, "wilson", 10), level=0.95)
    assert "at 90%" in other_level


def test_per_class_slices_and_provenance_content(report: Report, page: _Page) -> None:
    text = page.visible
    for label in ("negative", "positive", "world", "sports", "business", "sci/tech"):
        assert label in text
    assert "flagged" in text and "too small" in text and "< 0.001" in text
    for d in report.datasets:
        assert d["fingerprint"] in text
    assert "empty_input" in text and "unknown_label" in text and "non_finite_label" in text
    for m in report.models:
        assert m["spec"] in text
    assert "scikit-learn" in text and "cache hit rate" in text and "48.3%" in text
    assert "TimeoutError: no answer after 30 s" in text and "exclude" in text


def test_models_are_grouped_primary_first(html: str) -> None:
    # baseline's result comes first in report.results, but candidate is the primary model.
    assert html.index('data-model="candidate"') < html.index('data-model="baseline"')


def test_user_text_is_escaped(html: str, page: _Page, script_input: str) -> None:
    assert "<script>alert(" not in html
    assert "<b>fr</b>" not in html.replace("\\u003cb\\u003efr\\u003c/b\\u003e", "")
    assert "<html>Internal error</html>" not in html
    assert script_input in page.visible  # shown, as text
    assert "&lt;script&gt;alert(" in html


def test_figures_json_is_script_safe_and_valid(page: _Page, html: str) -> None:
    blob = html.split('<script type="application/json" id="assay-figures">', 1)[1]
    blob = blob.split("</script>", 1)[0]
    assert "<" not in blob
    figures = json.loads(blob)
    # ROC, PR, reliability for three classifiers (the confusion matrix is a table); scatter and
    # quantiles; 2 forests.
    assert len(figures) == 3 * 3 + 2 + 2
    for fid in figures:
        assert fid in page.ids
    names = [t.get("name", "") for f in figures.values() for t in f["data"]]
    assert "&lt;b&gt;fr&lt;/b&gt; (n=0)" not in names  # forest labels are y values, not names
    ys = [y for f in figures.values() for t in f["data"] for y in (t.get("y") or [])
          if isinstance(y, str)]
    assert "lang=&lt;b&gt;fr&lt;/b&gt; (n=0)" in ys


def test_self_contained_offline(page: _Page, html: str) -> None:
    for tag, attr, value in page.attrs:
        if attr in ("src", "href"):
            assert not value.startswith(("http://", "https://", "//")), (tag, attr, value)
    assert "<link" not in html
    assert "@import" not in html
    js = PLOTLY_BUNDLE.read_text(encoding="utf-8")
    assert html.count(js[:200]) == 1
    assert len(re.findall(r"plotly\.js (\(basic - minified\) )?v\d", html)) == 1


def test_size_is_modest_apart_from_plotly(html: str) -> None:
    assert len(html) - len(PLOTLY_BUNDLE.read_text(encoding="utf-8")) < 400_000


def test_plotly_is_the_basic_bundle_of_plotly_pys_version(html: str) -> None:
    """The page carries plotly.js's basic bundle (1.2 MB, not the whole 4.8 MB library), of the
    version plotly.py writes figures for, and every figure is of a trace type it draws."""
    from plotly.offline import get_plotlyjs_version

    js = PLOTLY_BUNDLE.read_text(encoding="utf-8")
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in js[:200]
    assert len(html) < 1_500_000 and len(js) < 1_300_000
    blob = html.split('<script type="application/json" id="assay-figures">', 1)[1]
    kinds = {t.get("type", "scatter") for f in json.loads(blob.split("</script>", 1)[0]).values()
             for t in f["data"]}
    assert kinds <= BUNDLE_TRACES


def test_round_trip_renders_identically(report: Report, html: str) -> None:
    again = Report.model_validate_json(report.to_json())
    assert render_html(again) == html


def test_unknown_check_gets_generic_table(report: Report) -> None:
    extra = CheckResult(
        check="carbon", model="candidate", dataset="reviews", n=50,
        metrics={"p95_s": Estimate(0.21, 0.19, 0.24, 0.95, "bootstrap", 50)},
        tables={"histogram": {"edges": [0, 0.1, 0.2], "counts": [10, 40]}},
    )
    assert "carbon" not in SECTIONS
    html = render_html(report.model_copy(update={"results": [*report.results, extra]}))
    page = _parse(html)
    assert "check-carbon" in page.ids
    assert "0.210 [0.190, 0.240]" in page.visible
    assert "histogram" in page.visible


def test_failed_rows_say_how_many_of_them_are_listed(sample_report: Report) -> None:
    """The report keeps the first failed rows; the page said "2 of 2 shown" for 3 failures."""
    text = _parse(render_html(sample_report)).visible
    assert "candidate · reviews — showing 2 of 3" in text


def test_examples_are_truncated(sample_report: Report) -> None:
    r = sample_report.results[1]
    r.examples = [{"id": str(i), "input": "x" * 5000} for i in range(100)]
    text = _parse(render_html(sample_report)).visible
    assert "20 of 100 shown" in text
    assert "x" * 239 + "…" in text and "x" * 241 not in text
    assert text.count("x" * 239 + "…") == 20


def test_minimal_report_renders() -> None:
    r = Report(assay_version="0.1.0", suite_name="empty", suite={}, created_at="2024-01-01",
               duration_s=0.0, seed=0, level=0.9, datasets=[], models=[], environment={})
    html = render_html(r)
    assert "NO GATES" in html and 'id="provenance"' in html


def test_write_html(tmp_path: Path, report: Report, html: str) -> None:
    p = write_html(report, tmp_path / "out" / "report.html")
    assert p.read_text(encoding="utf-8") == html


def test_directions_and_names_come_from_the_catalogue(report: Report) -> None:
    """Every lower-is-better metric gets the ↓ mark (the report's own list knew only eight, so
    TER, Hamming loss, refusal rate and the error rates were marked ↑), and generation metrics
    get their display names."""
    from assay.metrics import CATALOG
    from assay.report._html import _direction, pretty

    for m in CATALOG:
        assert _direction(m.name) == m.direction, m.name
        assert _direction(f"slices.genre.drama.{m.name}") == m.direction, m.name
    assert _direction("unknown_thing") == "higher"
    assert pretty("token_f1") == "Token F1" and pretty("rouge1") == "ROUGE-1"
    assert pretty("f1_macro") == "F1 (macro)" and pretty("made_up_macro") == "Made up (macro)"
    extra = CheckResult(
        check="ml", model="candidate", dataset="reviews", n=50,
        metrics={
            "hamming_loss": Estimate(0.2, 0.1, 0.3, 0.95, "bootstrap", 50),
            "support": Estimate.point(3.0, n=50),
        },
    )
    html = render_html(report.model_copy(update={"results": [*report.results, extra]}))
    block = html[html.index('id="check-ml"'):]
    assert 'title="lower is better">↓</span><span class="key">hamming_loss' in block
    assert '<td>Support<span class="key">support</span></td>' in block  # no better direction
