"""The monitor's dashboard in a real browser (Debian's chromium through Playwright; never
``playwright install``), drawn from window summaries computed on real data: the ACS employment
survey of Massachusetts that ships with the ``nannyml`` package (2015 as the reference, 2016–2018
as live traffic), read from its Parquet files without importing nannyml, and scored with
``assay.drift`` and ``assay.fairness``. Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from assay.drift import detect_drift, estimate_performance
from assay.fairness import group_metrics
from assay.monitor._dashboard import render_dashboard
from assay.stats import Estimate
from browser_fixtures import CHROMIUM, MISSING, launch, screenshot, watch

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")

FEATURES = ["AGEP", "SCHL", "MAR", "RELP", "DIS", "CIT", "MIG", "SEX", "RAC1P"]
SEX = {1: "male", 2: "female"}
GATE = "drift.share_drifted <= 0.2"


def _url(i: int) -> str:
    return f"/v1/windows/{i}/report.html"


def _data_folder() -> Path:
    spec = importlib.util.find_spec("nannyml")
    if spec is None or spec.origin is None:
        pytest.skip("the ACS employment data ship with nannyml: pip install --no-deps nannyml")
    return Path(spec.origin).parent / "datasets" / "data"


def _est(e: Estimate, **extra: Any) -> dict[str, Any]:
    return {"value": e.value, "lower": e.lower, "upper": e.upper, **extra}


def _summary(
    wid: int, ref: pd.DataFrame, part: pd.DataFrame, *, labelled: bool, latency_ms: np.ndarray
) -> dict[str, Any]:
    """One window in the spec's summary format, every number computed from ``part``."""
    drift = detect_drift(
        ref[[*FEATURES, "prediction"]],
        part[[*FEATURES, "prediction"]],
        prediction="prediction",
        column_types={c: "categorical" for c in FEATURES if c != "AGEP"},
        seed=0,
    ).to_dict()
    tested = [c for c in drift["columns"] if c["tested"] and c["role"] == "feature"]
    worst = sorted(tested, key=lambda c: (not c["drifted"], -(c["statistic"] or 0)))[:5]
    labels = part[["id", "employed"]] if labelled else None
    perf = estimate_performance(
        ref,
        part.drop(columns="employed"),
        y_true="employed",
        y_pred_proba="predicted_probability",
        y_pred="prediction",
        labels=labels,
        id_column="id",
        metrics=["accuracy", "f1"],
        n_bootstrap=50,
        seed=0,
    ).windows[0]
    s: dict[str, Any] = {
        "id": wid,
        "start": part["ts"].min().isoformat(),
        "end": part["ts"].max().isoformat(),
        "n_events": len(part),
        "n_labelled": len(part) if labelled else 0,
        "model_versions": ["v1"],
        "drift": {
            "share_drifted": drift["share_drifted"]["value"],
            "n_drifted": drift["n_drifted"],
            "top_columns": [
                {
                    "column": c["column"],
                    "statistic": c["method"],
                    "value": c["statistic"],
                    "p_value": c["p_value"],
                    "drifted": c["drifted"],
                }
                for c in worst
            ],
        },
        "estimated": {m: _est(e) for m, e in perf.estimated.items()},
        "latency": {
            "n": len(latency_ms),
            "p50_ms": float(np.percentile(latency_ms, 50)),
            "p95_ms": float(np.percentile(latency_ms, 95)),
            "p99_ms": float(np.percentile(latency_ms, 99)),
        },
    }
    if labelled:
        s["realised"] = {m: _est(e, n=e.n) for m, e in perf.realised.items()}
        gm = group_metrics(
            part["employed"], part["prediction"], part["SEX"].map(SEX), positive_label=1, seed=0
        )
        s["groups"] = {
            "sex": {
                g: {"selection_rate": _est(v["selection_rate"]), "accuracy": _est(v["accuracy"])}
                for g, v in gm.by_group.items()
            }
        }
    passed = s["drift"]["share_drifted"] <= 0.2
    s["passed"] = passed
    s["gates"] = [{"expression": GATE, "passed": passed, "value": s["drift"]["share_drifted"]}]
    s["alerts"] = [] if passed else [{"gate": GATE, "state": "firing"}]
    return s


@pytest.fixture(scope="module")
def acs_windows() -> list[dict[str, Any]]:
    """Twelve windows of 600 rows spread over 2016–2018; the last three not yet labelled; the
    drift check did not run on window 5 (its keys are absent). Latency is measured: a real
    logistic regression answering single rows."""
    folder = _data_folder()
    ref = pd.read_parquet(folder / "employment_MA_reference.pq").sample(3000, random_state=0)
    cur = pd.read_parquet(folder / "employment_MA_analysis.pq")
    target = pd.read_parquet(folder / "employment_MA_analysis_target.pq")
    cur = cur.merge(target, on="id")
    for frame in (ref, cur):
        frame[FEATURES[1:]] = frame[FEATURES[1:]].astype(int)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES], ref["employed"])
    # ACS gives the survey year only: each year's rows are spread evenly over that year, in order
    year = cur["year"].astype(int)
    share = cur.groupby(year).cumcount() / year.map(year.value_counts())
    cur["ts"] = pd.to_datetime(year.astype(str) + "-01-01", utc=True) + pd.to_timedelta(
        (share * 365 * 24 * 60).round(), unit="min"
    )
    starts = np.linspace(0, len(cur) - 600, 12).astype(int)
    out = []
    for i, a in enumerate(starts, start=1):
        part = cur.iloc[a : a + 600].copy()
        lat = []
        for row in part[FEATURES].head(20).to_numpy():
            t0 = time.perf_counter()
            model.predict_proba(pd.DataFrame([row], columns=FEATURES))
            lat.append((time.perf_counter() - t0) * 1000)
        s = _summary(i, ref, part, labelled=i <= 9, latency_ms=np.asarray(lat))
        if i == 5:
            s.pop("drift")
            s["passed"], s["gates"], s["alerts"] = None, [], []
        out.append(s)
    return out


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    with playwright.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _open(browser: Any, html: str, tmp_path: Path, shot: str | None) -> tuple[Any, list[str]]:
    path = tmp_path / "dashboard.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "[...document.querySelectorAll('.plot')].every(el => el.querySelector('.main-svg'))"
    )
    if shot:
        screenshot(page, shot)
    return page, problems


def _traces(page: Any) -> dict[str, list[dict[str, Any]]]:
    """Every drawn figure's traces as Plotly holds them (title → [{name, type, y}])."""
    return page.evaluate("""() => {
        const out = {};
        document.querySelectorAll('.plot').forEach(el => {
            out[el.getAttribute('aria-label')] = (el.data || []).map(t => ({
                name: t.name, type: t.type, x: t.x, y: t.y,
                error_y: t.error_y ? {array: t.error_y.array} : null}));
        });
        return out;
    }""")


def _finite(ys: list[Any]) -> list[float]:
    return [y for y in ys if isinstance(y, (int, float))]


@pytest.mark.slow
def test_dashboard_draws_real_windows(browser, acs_windows, tmp_path: Path) -> None:
    alerts = [
        {"gate": GATE, "state": "firing", "window_id": s["id"], "started_at": s["start"]}
        for s in acs_windows
        if s["alerts"]
    ]
    html = render_dashboard(acs_windows, alerts, title="ACS employment monitor", report_url=_url)
    page, problems = _open(browser, html, tmp_path, "monitor-dashboard.png")
    assert problems == []
    traces = _traces(page)
    by_start = sorted(acs_windows, key=lambda s: s["start"])
    # Drift share: one point per window, the absent window a gap, values equal to the summaries.
    share = next(
        t
        for t in traces["Drift: share of columns drifted"]
        if t["name"] == "share of columns drifted"
    )
    expected = [s["drift"]["share_drifted"] if "drift" in s else None for s in by_start]
    assert share["y"] == expected
    assert share["x"] == [s["start"] for s in by_start]
    # Estimated vs realised accuracy: an estimate for every window, realised for the labelled ones.
    acc = {t["name"]: t for t in traces["accuracy: estimated vs realised"]}
    est = [s["estimated"]["accuracy"]["value"] for s in by_start]
    assert acc["estimated (no labels)"]["y"] == pytest.approx(est, abs=1e-12)
    realised = acc["realised (labelled)"]
    assert len(_finite(realised["y"])) == 9
    assert [y is None for y in realised["y"]] == ["realised" not in s for s in by_start]
    upper = [
        s["realised"]["accuracy"]["upper"] - s["realised"]["accuracy"]["value"]
        for s in by_start
        if "realised" in s
    ]
    assert _finite(realised["error_y"]["array"]) == pytest.approx(upper, abs=1e-12)
    assert min(_finite(realised["y"])) > 0.6 and max(_finite(realised["y"])) < 0.95
    # Group metrics and latency have data.
    sel = {t["name"]: t for t in traces["selection_rate by sex"] if t["name"] != "alert firing"}
    assert set(sel) == {"sex=male", "sex=female"}
    assert all(len(_finite(t["y"])) == 9 for t in sel.values())
    lat = {t["name"]: t for t in traces["Latency"]}
    assert all(len(_finite(lat[k]["y"])) == 12 for k in ("p50", "p95", "p99"))
    assert all(a <= b <= c for a, b, c in zip(lat["p50"]["y"], lat["p95"]["y"], lat["p99"]["y"]))
    # Alerts are marked on the time axis: one dotted line per firing window.
    n_lines = page.evaluate(
        "() => (document.querySelector('[aria-label=\"Latency\"]').layout.shapes || []).length"
    )
    assert n_lines == len(alerts) > 0
    # Every window's row links to its report.
    links = page.eval_on_selector_all(
        "#windows tr[data-window]",
        "rows => rows.map(r => [r.dataset.window, r.querySelector('a.report-link').getAttribute('href')])",
    )
    assert sorted(links, key=lambda r: int(r[0])) == [[str(i), _url(i)] for i in range(1, 13)]
    assert page.is_visible("#alerts td code")
    page.close()


@pytest.mark.slow
def test_dashboard_with_one_window_without_labels(browser, acs_windows, tmp_path: Path) -> None:
    one = {k: v for k, v in acs_windows[-1].items()}  # unlabelled: no realised, no groups
    html = render_dashboard([one], [], title="one window", report_url=_url)
    page, problems = _open(browser, html, tmp_path, "monitor-dashboard-one-window.png")
    assert problems == []
    traces = _traces(page)
    assert "selection_rate by sex" not in traces
    assert [t["name"] for t in traces["accuracy: estimated vs realised"] if t["name"]] == [
        "estimated interval",
        "estimated (no labels)",
    ]
    assert page.eval_on_selector_all(".plot .main-svg", "e => e.length") >= len(traces)
    assert page.get_attribute("a.report-link", "href") == _url(one["id"])
    page.close()


@pytest.mark.slow
def test_dashboard_with_200_windows(browser, acs_windows, tmp_path: Path) -> None:
    """200 windows (the real ones repeated along the time axis) stay readable: the page renders
    every window's point, in time order, without console errors, quickly."""
    many = []
    for i in range(200):
        s = json.loads(json.dumps(acs_windows[i % len(acs_windows)]))
        s["id"] = i + 1
        s["start"] = (pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=i)).isoformat()
        many.append(s)
    html = render_dashboard(list(reversed(many)), [], title="200 windows", report_url=_url)
    assert len(html) < 2_500_000  # the Plotly bundle is 1.2 MB of it
    t0 = time.perf_counter()
    page, problems = _open(browser, html, tmp_path, "monitor-dashboard-200.png")
    elapsed = time.perf_counter() - t0
    assert problems == []
    share = next(
        t
        for t in _traces(page)["Drift: share of columns drifted"]
        if t["name"] == "share of columns drifted"
    )
    assert len(share["y"]) == 200 and share["x"] == sorted(share["x"])
    assert page.eval_on_selector_all("#windows a.report-link", "e => e.length") == 200
    # 200 sets of error bars would hide the line: intervals are bands past MANY_WINDOWS
    acc = {t["name"]: t for t in _traces(page)["accuracy: estimated vs realised"]}
    assert "realised (labelled) interval" in acc and acc["realised (labelled)"]["error_y"] is None
    page.close()
    assert elapsed < 15


def test_dashboard_without_windows_says_so() -> None:
    html = render_dashboard([], [], title="empty", report_url=_url)
    assert "No windows yet" in html and "report-link" not in html


def test_dashboard_of_a_window_where_no_check_ran() -> None:
    """Only the counts: no drift, performance, group or latency chart, gaps in the table."""
    bare = {
        "id": 7,
        "start": "2026-12-07T10:00:00Z",
        "end": "2026-12-07T11:00:00Z",
        "n_events": 3,
        "n_labelled": 0,
    }
    html = render_dashboard([bare], [], title="bare", report_url=_url)
    figures = json.loads(html.split('id="assay-figures">', 1)[1].split("</script>", 1)[0])
    titles = [f["layout"]["title"]["text"] for f in figures.values()]
    assert titles == ["Events and labels per window"]
    assert 'id="drift"' not in html and 'id="performance"' not in html
    assert 'href="/v1/windows/7/report.html"' in html and "2026-12-07 10:00" in html
