"""The uncertainty check in the HTML report, the Markdown summary and the model card, from a
real run (a scikit-learn pipeline on the bundled breast-cancer data)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import assay
from assay.report import render_html, render_markdown, render_model_card
from browser_fixtures import CHROMIUM, MISSING, launch

CHECK = {
    "calibration_split": 0.5,
    "target_risk": 0.02,
    "conformal": {"alpha": 0.1, "method": "lac"},
    "operating_points": {"specificity": 0.9, "positive_label": "malignant"},
    "groups": ["band"],
}


@pytest.fixture(scope="module")
def report() -> assay.Report:
    data = load_breast_cancer()
    cols = [f"f{i}" for i in range(30)]
    frame = pd.DataFrame(data.data, columns=cols)
    frame["label"] = np.where(data.target == 0, "malignant", "benign")
    frame["band"] = np.where(frame["f0"] > frame["f0"].median(), "large", "small")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(frame[cols][:200], frame["label"][:200])
    return assay.evaluate(
        model=model,
        data=frame[200:].reset_index(drop=True),
        label="label",
        input=cols,
        checks={"uncertainty": CHECK},
        progress=False,
    )


def _figure_titles(html: str) -> list[str]:
    return re.findall(r'role="img" aria-label="([^"]+)"', html)


def test_html_has_the_uncertainty_section_and_its_four_figures(report):
    html = render_html(report)
    assert 'id="check-uncertainty"' in html
    titles = _figure_titles(html)
    for t in (
        "Risk–coverage curve",
        "Set sizes",
        "Conformal coverage by group",
        "Reliability before and after temperature scaling",
    ):
        assert t in titles
    r = report.result("uncertainty")
    sens = r.metrics["operating_point.sensitivity"]
    assert f"{sens.value:.3f}" in html
    assert "uncertainty.selective.at_risk" in html


def test_html_without_the_check_draws_none_of_its_figures(report):
    others = report.model_copy(update={"results": []})
    assert not any("Risk–coverage" in t for t in _figure_titles(render_html(others)))


def test_markdown_and_model_card_carry_the_same_numbers(report):
    r = report.result("uncertainty")
    md = render_markdown(report)
    card = render_model_card(report)
    for text in (md, card):
        assert "Uncertainty" in text
        for path in (
            "selective.coverage_0.9.risk",
            "conformal.coverage",
            "conformal.groups.band:small.coverage",
            "operating_point.sensitivity",
        ):
            e = r.metrics[path]
            line = next(ln for ln in text.splitlines() if f"uncertainty.{path}`" in ln)
            assert f"{e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}]" in line
    assert "error rate keeping 0.9 of cases" in md


def test_report_json_round_trip_renders_the_same(report, tmp_path):
    p = report.save(tmp_path / "report.json")
    again = assay.Report.load(p)
    assert render_html(again) == render_html(report)
    assert json.loads(p.read_text())["results"][0]["tables"]["split"]["n_test"] > 0


def test_console_line_gives_the_headline_numbers(report):
    from assay.report._console_pillars import pillar_lines

    (line,) = [str(t) for t in pillar_lines(report) if str(t).startswith("uncertainty")]
    r = report.result("uncertainty")
    e = r.metrics["conformal.coverage"]
    assert f"conformal coverage {e.value:.3f} [{e.lower:.3f}, {e.upper:.3f}]" in line
    assert "refer " in line and "sensitivity " in line and "at specificity 0.9" in line


@pytest.mark.slow
def test_uncertainty_section_draws_in_chromium(report, tmp_path):
    """Debian's chromium (Playwright, never ``playwright install``): the section's four figures
    are drawn by the inlined Plotly, with no console error."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    from assay.report._html import write_html

    path = write_html(report, tmp_path / "report.html")
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.plot .main-svg').length > 0")
        n_plots = page.eval_on_selector_all("#check-uncertainty .plot", "els => els.length")
        n_drawn = page.eval_on_selector_all("#check-uncertainty .plot .main-svg", "e => e.length")
        text = page.inner_text("#check-uncertainty")
        browser.close()
    assert problems == []
    assert n_plots == 4 and n_drawn >= n_plots
    assert "operating point" in text.lower() and "risk–coverage" in text.lower()
