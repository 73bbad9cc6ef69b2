"""The monitor as one service (``start_monitor``, what ``assay monitor serve`` runs) on a real
uvicorn server on 127.0.0.1: ACS events in, windows scored by the suite, an alert to a real
webhook receiver, realised metrics once labels arrive, the window gauges in ``/metrics``, the
live shadow comparison, and the dashboard in Debian's chromium after a login."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _monitor_parts import TOKENS, Receiver, serve_in_thread, wait_until
from monitor_fixtures import FEATURES, NUMERIC, acs_fixture, as_events, reference_table

from assay.monitor._config import MonitorSettings, TokenSet
from assay.monitor._server import open_store
from assay.monitor._service import start_monitor
from browser_fixtures import CHROMIUM, MISSING, launch, screenshot

__all__ = ["acs_fixture"]

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
GATE = "drift.n_drifted <= 0"
#: survey codes are categories: chi-squared; age and ordered codes: Kolmogorov-Smirnov
METHODS = {c: ("ks" if c in NUMERIC else "chi2") for c in FEATURES}


def _suite(folder: Path) -> Path:
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: acs-live\n"
        f"data: {{path: reference.parquet, input: {FEATURES}, label: label, groups: [sex]}}\n"
        "models: {production: 'predictions:reference.parquet'}\n"
        "checks:\n"
        f"  drift: {{reference: reference.parquet, methods: {METHODS}}}\n"
        "  performance: {}\n"
        f"gates: ['{GATE}', 'performance.accuracy.lower >= 0.5']\n"
    )
    return suite


@pytest.mark.slow
def test_served_monitor_scores_windows_alerts_and_compares_a_candidate(
    acs: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    ref_rows = acs["reference"].sample(3000, random_state=0)
    reference_table(ref_rows).to_parquet(tmp_path / "reference.parquet", index=False)
    same = acs["reference"].drop(ref_rows.index).sample(1500, random_state=1)  # 2015 again
    later = acs["current"][acs["current"]["year"] == 2018].sample(1500, random_state=2)
    first = as_events(same, start=T0, step_s=2.0, prefix="a")
    second = as_events(later, start=T0 + timedelta(hours=1), step_s=2.0, prefix="b")
    closer = as_events(later.head(1), start=T0 + timedelta(hours=2), prefix="c")
    # a candidate version answers the second hour's events: production's answer, every 10th flipped
    candidate = [
        {**e, "model_version": "v2", "prediction": 1 - e["prediction"] if i % 10 == 0 else e["prediction"]}
        for i, e in enumerate(second)
    ]  # fmt: skip
    rx = Receiver()
    settings = MonitorSettings(
        db=f"sqlite:///{tmp_path / 'monitor.db'}",
        webhook_url=rx.url,
        production_version="v1",
        window={"every": "1h", "rescore_every": "90s"},
    )
    tokens = TokenSet.from_env_value(f"ingest:{TOKENS['ingest']} read:{TOKENS['read']}")
    store = open_store(settings)
    service = start_monitor(
        settings, _suite(tmp_path), tmp_path / "reference.parquet", store=store, tokens=tokens,
        start_worker=False,
    )  # fmt: skip
    service.worker.rescore_interval_s = 0.0  # the test decides when windows are scored again
    ingest = {"Authorization": f"Bearer {TOKENS['ingest']}"}
    read = {"Authorization": f"Bearer {TOKENS['read']}"}
    try:
        with serve_in_thread(service.app) as url:
            with httpx.Client(base_url=url, headers=ingest, timeout=60) as c:
                for batch in (first, second, candidate, closer):
                    for i in range(0, len(batch), 500):
                        r = c.post("/v1/events", json={"events": batch[i : i + 500]})
                        assert r.status_code == 200, r.text
            service.worker.run_once(now=T0 + timedelta(hours=2, minutes=30))
            with httpx.Client(base_url=url, headers=read, timeout=60) as c:
                windows = c.get("/v1/windows").json()
                assert [w["n_events"] for w in windows] == [1500, 1500]  # v1 only, hour 3 open
                calm, drifted = windows
                assert calm["drift"]["n_drifted"] == 0 and calm["passed"] is True
                assert drifted["drift"]["n_drifted"] >= 1 and drifted["passed"] is False
                assert "accuracy" in drifted["estimated"] and not drifted.get("realised")
                pending = [g for g in drifted["gates"] if g.get("pending")]
                assert [g["expression"] for g in pending] == ["performance.accuracy.lower >= 0.5"]
                wait_until(lambda: len(rx.received) == 1)
                assert rx.received[0]["gate"] == GATE and rx.received[0]["state"] == "firing"
                alerts = c.get("/v1/alerts").json()
                assert [(a["gate"], a["state"]) for a in alerts] == [(GATE, "firing")]

                # the labels of the drifted hour arrive: scored again, realised beside estimated
                labels = [{"event_id": f"b-{i}", "label": int(y)}
                          for i, y in zip(later["id"], later["employed"])]  # fmt: skip
                with httpx.Client(base_url=url, headers=ingest) as ci:
                    assert ci.post("/v1/labels", json={"labels": labels}).status_code == 200
                service.worker.run_once(now=T0 + timedelta(hours=2, minutes=31))
                drifted = c.get("/v1/windows").json()[1]
                want = float(
                    np.mean(later["prediction"].to_numpy() == later["employed"].to_numpy())
                )
                assert drifted["realised"]["accuracy"]["value"] == pytest.approx(want, abs=1e-12)
                assert drifted["n_labelled"] == 1500

                metrics = c.get("/metrics").text
                share = drifted["drift"]["share_drifted"]
                assert f"assay_monitor_window_drift_share {share}" in metrics
                assert 'assay_monitor_window_estimated{bound="value",metric="accuracy"}' in metrics
                assert "assay_monitor_window_passed 0.0" in metrics

                shadow = c.get("/v1/shadow", params={"candidate": "v2"})
                assert shadow.status_code == 200, shadow.text
                result = next(r for r in shadow.json()["results"] if r["check"] == "shadow")
                assert result["metrics"]["agreement"]["value"] == pytest.approx(0.9, abs=1e-12)
                assert c.get("/v1/shadow", params={"candidate": "v9"}).status_code == 404
                _dashboard_in_chromium(url, drifted_id=drifted["id"])
    finally:
        service.stop()
        rx.stop()
        store.close()


def _dashboard_in_chromium(url: str, *, drifted_id: int) -> None:
    """Log in with the read token (a cookie), open the dashboard and a window's report."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type == "error" else None,
            )
            page.goto(f"{url}/dashboard")
            assert "/login" in page.url  # no cookie yet: sent to the login form
            page.fill("input[name=token]", TOKENS["read"])
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(f"{url}/dashboard")
            page.wait_for_function(
                "[...document.querySelectorAll('.plot')].every(el => el.querySelector('.main-svg'))"
            )
            traces: dict[str, Any] = page.evaluate(
                "() => Object.fromEntries([...document.querySelectorAll('.plot')].map("
                "el => [el.getAttribute('aria-label'), (el.data || []).map(t => (t.y || []).length)]))"
            )
            assert traces and all(sum(n) > 0 for n in traces.values()), traces
            screenshot(page, "monitor-served-dashboard.png")
            page.click(f"a[href='/v1/windows/{drifted_id}/report.html']")
            page.wait_for_load_state("load")
            assert page.url.endswith(f"/v1/windows/{drifted_id}/report.html")
            assert "Drift" in page.content()
        finally:
            browser.close()
    assert not problems, problems
