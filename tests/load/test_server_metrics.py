"""The server-side view's math: Prometheus text parsed, histogram_quantile as Prometheus does it."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from assay.load import histogram_quantile, parse_metrics, server_view

INF = float("inf")


def test_histogram_quantile_hand_computed() -> None:
    # 10 observations: 2 in (0, 0.1], 4 in (0.1, 0.2], 3 in (0.2, 0.4], 1 above 0.4.
    buckets = {0.1: 2.0, 0.2: 6.0, 0.4: 9.0, INF: 10.0}
    # p50: rank 5 lies in (0.1, 0.2] (cumulative 2 -> 6): 0.1 + 0.1 * (5 - 2) / 4 = 0.175
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.175)
    # p10: rank 1 in the first bucket, which starts at 0: 0.1 * 1 / 2 = 0.05
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.05)
    # p80: rank 8 in (0.2, 0.4] (6 -> 9): 0.2 + 0.2 * 2 / 3
    assert histogram_quantile(0.8, buckets) == pytest.approx(0.2 + 0.4 / 3)
    # p95: rank 9.5 in +Inf: the highest finite bound, as Prometheus answers
    assert histogram_quantile(0.95, buckets) == 0.4
    assert math.isnan(histogram_quantile(0.5, {0.1: 0.0, INF: 0.0}))
    assert math.isnan(histogram_quantile(0.5, {0.1: 3.0}))  # no +Inf bucket


def _registry() -> tuple[CollectorRegistry, Histogram, Gauge, Counter]:
    reg = CollectorRegistry()
    hist = Histogram(
        "vllm:e2e_request_latency_seconds",
        "e2e",
        ["model_name"],
        buckets=(0.1, 0.2, 0.4),
        registry=reg,
    )
    gauge = Gauge("vllm:num_requests_running", "running", registry=reg)
    counter = Counter("vllm:request_success", "ok", registry=reg)
    return reg, hist, gauge, counter


def test_server_view_is_the_delta_of_a_real_registry() -> None:
    reg, hist, gauge, counter = _registry()
    hist.labels("a").observe(5.0)  # before the level: must not count
    counter.inc(3)
    before = parse_metrics(generate_latest(reg).decode())
    values = [0.05, 0.15, 0.15, 0.15, 0.15, 0.12, 0.3, 0.3, 0.3, 0.9]
    for k, v in enumerate(values):
        hist.labels("a" if k % 2 else "b").observe(v)  # two label sets, summed
    counter.inc(len(values))
    gauge.set(4)
    during = [parse_metrics(generate_latest(reg).decode())]
    gauge.set(2)
    after = parse_metrics(generate_latest(reg).decode())
    view = server_view(before, after, during, seconds=2.0)
    row = view["histograms"]["vllm:e2e_request_latency_seconds"]
    assert row["count"] == 10
    assert row["mean_ms"] == pytest.approx(sum(values) / 10 * 1000)
    # delta buckets: 0.1 -> 1, 0.2 -> 6, 0.4 -> 9, +Inf -> 10; p50: 100 + 100 * (5 - 1) / 5
    assert row["p50_ms"] == pytest.approx(180.0)
    assert row["p50_bucket_ms"] == [100.0, 200.0]
    assert row["p95_ms"] == pytest.approx(400.0)
    assert view["gauges"]["vllm:num_requests_running"] == {"mean": 3.0, "max": 4.0, "samples": 2}
    assert view["counters_per_s"] == {"vllm:request_success": pytest.approx(5.0)}
    assert "histogram_quantile" in view["quantile_method"]


def test_text_that_is_not_prometheus_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_metrics("")
    with pytest.raises(ValueError):
        parse_metrics('{"error": "not found"}')
