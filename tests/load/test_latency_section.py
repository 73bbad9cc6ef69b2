"""The latency section of the HTML report renders a full load table and an empty one."""

from __future__ import annotations

from assay.load import Sample, capacity, parse_slo, summarize_step
from assay.report._html import render_html
from assay.report._schema import CheckResult, Report


def _report(*results: CheckResult) -> Report:
    return Report(
        assay_version="0", suite_name="s", suite={}, created_at="2026-01-01T00:00:00+00:00",
        duration_s=1.0, seed=0, level=0.95, datasets=[], models=[], environment={},
        results=list(results), gates=[],
    )  # fmt: skip


def test_section_renders_levels_plots_and_an_empty_run() -> None:
    slo = parse_slo("p95<100ms")
    steps = []
    for rate in (10, 20):
        samples = [
            Sample(i / rate, i / rate, i / rate + 0.02 + 0.001 * (i % 7), "ok", ttft_s=0.01)
            for i in range(100)
        ]
        steps.append(summarize_step(samples, mode="rate", level=rate, slo=slo))
    table = {
        "model": {"spec": "openai:m@http://127.0.0.1:1/v1"},
        **{s.name: s.to_dict() for s in steps},
        "steps": [s.name for s in steps],
        "capacity": capacity(steps).to_dict(),
        "deadline_miss_rate": None,
        "cold_start_s": 0.5,
        "peak_rss_mb": 100.0,
    }
    full = CheckResult(check="latency", model="m", dataset="d", n=200, tables={"latency": table})
    empty = CheckResult(check="latency", model="m2", dataset="d", n=0, tables={"latency": {}})
    html = render_html(_report(full, empty))
    assert "Latency under load" in html
    assert "Highest rate meeting the SLO: <strong>20.0</strong>" in html
    assert "latency against rate" in html and "time to first token" in html
    assert "No load level was measured" in html


def test_section_shows_the_server_side_view() -> None:
    samples = [Sample(i / 10, i / 10, i / 10 + 0.12, "ok") for i in range(30)]
    step = summarize_step(samples, mode="rate", level=10).to_dict()
    step["server"] = {
        "seconds": 3.0,
        "client_requests": 30,
        "histograms": {
            "vllm:e2e_request_latency_seconds": {"count": 30, "p50_ms": 150.0, "p95_ms": 195.0,
                                                 "mean_ms": 120.4}
        },
        "gauges": {"vllm:num_requests_running": {"mean": 1.25, "max": 3.0, "samples": 6}},
        "counters_per_s": {},
        "notes": [],
    }  # fmt: skip
    table = {"model": {"spec": "openai:m"}, "rate_10": step, "steps": ["rate_10"]}
    html = render_html(_report(CheckResult(check="latency", model="m", dataset="d", n=30,
                                           tables={"latency": table})))  # fmt: skip
    assert "Server-side view" in html and "histogram_quantile" in html
    assert "vllm:e2e_request_latency_seconds (ms)" in html and "195.0" in html
    assert "vllm:num_requests_running" in html and "1.25" in html
