"""The HTML report in a real browser: Debian's chromium driven by Playwright (never
``playwright install``). It loads offline, logs no console error, has every section, and a report
over 100,000 examples opens quickly. Screenshots are kept under ``test-artifacts/``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from assay.report import CheckResult, Report
from assay.report._html import write_html
from browser_fixtures import CHROMIUM, MISSING, launch, screenshot, watch

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING),
]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _open(browser, path: Path, shot: str) -> tuple[list[str], float, object]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    start = time.perf_counter()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "document.querySelectorAll('.plot .main-svg').length > 0 || "
        "document.querySelectorAll('.plot').length === 0"
    )
    elapsed = time.perf_counter() - start
    screenshot(page, shot)
    return problems, elapsed, page


def test_report_loads_with_every_section(browser, shared_report: Report, tmp_path: Path) -> None:
    from test_markdown import comparison_result

    report = shared_report.model_copy(deep=True)
    report.results.insert(0, comparison_result(better=True))
    path = write_html(report, tmp_path / "report.html")
    problems, elapsed, page = _open(browser, path, "report.png")
    assert problems == []
    ids = page.eval_on_selector_all("main > section", "els => els.map(e => e.id)")
    expected = [
        "summary",
        *[f"check-{c}" for c in ("compare", "performance", "slices")],
        "errors",
        "examples",
        "provenance",
    ]
    assert [i for i in ids if i in expected] == expected
    assert all(page.is_visible(f"#{i} h2") for i in expected)
    # Every figure was drawn by the inlined Plotly.
    n_plots = page.eval_on_selector_all(".plot", "els => els.length")
    n_drawn = page.eval_on_selector_all(".plot .main-svg", "els => els.length")
    assert n_plots > 5 and n_drawn >= n_plots
    assert (
        page.get_attribute("#check-compare [data-compare-verdict]", "data-compare-verdict") == "go"
    )
    # A hostile input (an example's <script>alert(...)) is shown as text: no dialog opened.
    assert "<script>alert('pwned')</script>" in page.inner_text("#examples")
    page.close()
    assert elapsed < 10


def test_report_over_100k_examples_opens_quickly(
    browser, shared_report: Report, tmp_path: Path
) -> None:
    n = 100_000
    report = shared_report.model_copy(deep=True)
    perf = report.result("performance", "candidate")
    assert isinstance(perf, CheckResult)
    perf.n = n
    perf.tables["per_example"] = {
        "id": [f"r{i}" for i in range(n)],
        "y_true": ["positive"] * n,
        "y_pred": ["negative" if i % 7 == 0 else "positive" for i in range(n)],
        "score": [((i * 7919) % 1000) / 1000 for i in range(n)],
        "n_total": n,
        "truncated": False,
    }
    perf.examples = [
        {
            "id": f"r{i}",
            "input": "a long review " * 20,
            "label": "positive",
            "prediction": "negative",
        }
        for i in range(0, n, 7)
    ]
    started = time.perf_counter()
    path = write_html(report, tmp_path / "big.html")
    render_s = time.perf_counter() - started
    size_mb = path.stat().st_size / 1e6
    problems, load_s, page = _open(browser, path, "report-100k.png")
    rows = page.eval_on_selector_all("#examples tbody tr", "els => els.length")
    page.close()
    print(
        f"100k-example report: render {render_s:.2f} s, {size_mb:.1f} MB, "
        f"browser load {load_s:.2f} s, {rows} example rows shown"
    )
    assert problems == []
    assert rows <= 100  # examples are sampled, not all 14,286 failures
    assert size_mb < 10
    assert render_s < 10 and load_s < 5


def test_chromium_binary_is_debian(browser) -> None:
    assert shutil.which("chromium") == str(CHROMIUM) or CHROMIUM.exists()
    assert browser.version  # launched, not downloaded


def test_tables_never_overflow_at_1400_px(browser, shared_report: Report, tmp_path: Path) -> None:
    """At 1,400 px no table is wider than its card, and no card scrolls sideways, even with long
    model names, long gate expressions and five models side by side."""
    from test_markdown import comparison_result

    report = shared_report.model_copy(deep=True)
    report.results.insert(0, comparison_result(better=False))
    base = next(r for r in report.results if r.check == "performance" and r.model == "candidate")
    long = "distilbert-base-uncased-finetuned-sst2-with-a-very-long-checkpoint-name"
    for i in range(4):
        report.results.append(base.model_copy(update={"model": f"{long}-{i}"}))
    report.gates[
        0
    ].gate = (
        "performance.per_class.a_label_with_a_really_long_name_that_goes_on.recall.lower >= 0.5"
    )
    path = write_html(report, tmp_path / "report.html")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri(), wait_until="load")
    wide = page.evaluate(
        """() => {
        const out = [];
        for (const card of document.querySelectorAll("main section.card")) {
          if (card.scrollWidth > card.clientWidth + 1) out.push("card " + card.id);
          const right = card.getBoundingClientRect().right;
          for (const t of card.querySelectorAll("table")) {
            if (t.getBoundingClientRect().right > right + 1 && t.offsetParent !== null)
              out.push("table in " + card.id + ": " + t.className);
          }
        }
        if (document.documentElement.scrollWidth > window.innerWidth) out.push("page");
        return out;
      }"""
    )
    screenshot(page, "report-1400.png")
    page.close()
    assert wide == []
