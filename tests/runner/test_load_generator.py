"""The load generator against real HTTP servers on 127.0.0.1 and real in-process models.

Tolerances: every measured latency is the server's scripted delay plus the loopback overhead
(client, server and scheduler, both Python, on a shared 2-core machine: 5–15 ms usually, up to
66 ms seen at a load average above 4), which is never negative. So a measured percentile is at least the scripted one (the k-th order statistic of
values each larger than its delay is larger than the k-th delay) and at most the scripted one
plus the largest overhead; we allow ``SLACK_MS`` for that overhead.
"""

from __future__ import annotations

import math
import random
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from assay._runner._load import run_load
from assay.errors import ConfigError, ModelError
from assay.load import LoadPlan
from assay.models import load_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
from latency_server import serve

SLACK_MS = 100.0


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve() as url:
        yield url


def _model(base: str, path: str, **options: object):  # type: ignore[no-untyped-def]
    return load_model(f"openai:m@{base}/{path}/v1", options=dict(options))


def test_fixed_delay_percentiles(base: str) -> None:
    model = _model(base, "fixed-a/fixed/100")
    report = run_load(
        model, ["a", "b"], LoadPlan(rates=(10,), concurrency=(2,), duration_s=2, warmup_s=0.3)
    )
    for step in report.steps:
        for name in ("p50", "p90", "mean"):
            assert 100.0 <= step.latency_ms[name].value <= 100.0 + SLACK_MS, (step.name, name)
        assert step.n_ok == step.n > 0
        assert step.latency_ms["p50"].method == "order-statistic (binomial)"


def test_heavy_tail_matches_its_known_quantiles(base: str) -> None:
    # The server's first 200 delays are exactly the lognormal's 200 quantiles (median 100 ms,
    # sigma 0.8: p90 ≈ 279 ms, p95 ≈ 373 ms), shuffled; the probe takes the first one.
    n, seed = 200, 7
    delays = [100.0 * math.exp(0.8 * NormalDist().inv_cdf((k + 0.5) / n)) for k in range(n)]
    random.Random(seed).shuffle(delays)
    scripted = np.array(delays[1:])
    model = _model(base, f"tail/lognormal/100/0.8/{n}/{seed}")
    plan = LoadPlan(rates=(50,), warmup_s=0, duration_s=10, max_requests=n - 1, arrivals="constant")
    step = run_load(model, ["x"], plan).steps[0]
    assert step.n == n - 1
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        truth = float(np.quantile(scripted, q, method="inverted_cdf"))
        assert truth <= step.latency_ms[name].value <= truth + SLACK_MS, name
    assert step.latency_ms["max"].value >= scripted.max()


def test_a_stall_shows_in_open_loop_and_hides_in_closed_loop(base: str) -> None:
    # The server freezes for 1 s, 1 s after its first request (the probe) on each path.
    open_model = _model(base, "stall-open/stall/1000/1000/5")
    closed_model = _model(base, "stall-closed/stall/1000/1000/5")
    plan_open = LoadPlan(rates=(50,), warmup_s=0, duration_s=3, arrivals="constant")
    plan_closed = LoadPlan(concurrency=(1,), warmup_s=0, duration_s=4)
    opened = run_load(open_model, ["x"], plan_open).steps[0]
    closed = run_load(closed_model, ["x"], plan_closed).steps[0]
    # Open loop: a third of the requests were scheduled during the freeze and waited up to 1 s:
    # p90 ≈ 700 ms, p95 ≈ 850 ms.
    assert opened.latency_ms["p90"].value > 500
    assert opened.latency_ms["p95"].value > 500
    assert opened.latency_ms["max"].value > 900
    # Closed loop: one request waited, the client sent nothing meanwhile: p95 looks healthy.
    assert closed.latency_ms["max"].value > 900
    assert closed.latency_ms["p95"].value < 100
    assert closed.n > 40


def test_errors_and_timeouts_are_counted(base: str) -> None:
    errors = run_load(
        _model(base, "err/errors/4/10"),
        ["x"],
        LoadPlan(rates=(40,), warmup_s=0, duration_s=1, arrivals="constant"),
    ).steps[0]
    assert errors.n_ok + errors.n_error == errors.n == 40
    assert errors.n_error == 10  # every 4th request of 41 (the probe is the first)
    assert errors.error_rate.value == pytest.approx(0.25)
    hung = run_load(
        _model(base, "hang/hang"),
        ["x"],
        LoadPlan(rates=(10,), warmup_s=0, duration_s=0.5, timeout_s=0.3),
    ).steps[0]
    assert hung.n_timeout == hung.n > 0
    assert hung.timeout_rate.value == 1.0
    assert hung.latency_ms["p50"].value >= 300


def test_streaming_timings(base: str) -> None:
    # First token after 80 ms, then one every 20 ms, 6 tokens.
    model = _model(base, "stream/stream/80/20/6", stream=True)
    step = run_load(model, ["x"], LoadPlan(rates=(10,), warmup_s=0.2, duration_s=1.5)).steps[0]
    assert 80 <= step.ttft_ms["p50"].value <= 80 + SLACK_MS
    # ITL is a span over 5 gaps, each end off by at most the overhead: ±8 ms
    assert step.itl_ms["p50"].value == pytest.approx(20, abs=8)
    assert step.tpot_ms["p50"].value == pytest.approx(20, abs=8)
    assert 180 <= step.latency_ms["p50"].value <= 180 + SLACK_MS
    assert step.output_tokens_per_s is not None and step.output_tokens_per_s > 0


def test_endpoint_down_fails_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = load_model(f"openai:m@http://127.0.0.1:{port}/v1")
    with pytest.raises(ModelError, match="connection refused") as info:
        run_load(model, ["x"], LoadPlan(rates=(10,), duration_s=5))
    assert "is the server running" in str(info.value)


def test_generator_that_falls_behind_says_so(base: str) -> None:
    model = _model(base, "fast/trivial")
    step = run_load(
        model, ["x"], LoadPlan(rates=(20000,), warmup_s=0, duration_s=0.01, arrivals="constant")
    ).steps[0]
    assert step.behind
    assert any("fell behind its schedule" in n for n in step.notes)


def test_in_process_model_batches_concurrency_deadline_accuracy(tmp_path: Path) -> None:
    code = tmp_path / "slow.py"
    code.write_text(
        "import time\n"
        "def predict(batch):\n"
        "    time.sleep(0.01 + 0.001 * len(batch))\n"
        "    return ['pos' if 'good' in x else 'neg' for x in batch]\n"
    )
    model = load_model(f"python:{code}:predict", options={"task": "classification"})
    texts = ["good film", "bad film", "good", "awful"]
    refs = ["pos", "neg", "pos", "pos"]  # the last is wrong on purpose: accuracy 3/4 in the mean
    plan = LoadPlan(
        concurrency=(1, 2),
        batch_size=(1, 8),
        rates=(20,),
        duration_s=0.6,
        warmup_s=0.1,
        deadline_s=0.015,
    )
    report = run_load(model, texts, plan, references=refs)
    steps = {s.name: s for s in report.steps}
    assert set(steps) == {
        "rate_20",
        "concurrency_1",
        "concurrency_2",
        "batch_size_1",
        "batch_size_8",
    }
    assert 11 <= steps["batch_size_1"].latency_ms["p50"].value <= 11 + SLACK_MS
    assert 18 <= steps["batch_size_8"].latency_ms["p50"].value <= 18 + SLACK_MS
    # a batch of 8 answers 8 inputs per call: several times the throughput of one at a time
    assert steps["batch_size_8"].throughput_rps > 3 * steps["batch_size_1"].throughput_rps
    acc = steps["concurrency_1"].accuracy
    assert acc is not None and 0.5 < acc.value < 1.0
    # every batch of 8 takes 18 ms > 15 ms: all miss the deadline; the worst level is reported
    assert steps["batch_size_8"].deadline_miss_rate is not None
    assert steps["batch_size_8"].deadline_miss_rate.value == 1.0
    assert report.deadline_miss_rate is not None and report.deadline_miss_rate.value == 1.0
    assert report.peak_rss_mb > 0


def test_plan_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="--rate"):
        LoadPlan(rates=(0,)).check()
    with pytest.raises(ConfigError, match="no load levels"):
        LoadPlan().check()
    with pytest.raises(ConfigError, match="grammar|STAT"):
        LoadPlan(rates=(1,), slo="p95 > 1s").check()


def test_server_side_view_from_prometheus_metrics(base: str) -> None:
    # The server observes its own service time (120 ms scripted) in a real prometheus_client
    # histogram with buckets 50/100/200/400/800 ms; its /metrics is scraped around each level.
    model = _model(base, "prom/metered/120")
    plan = LoadPlan(rates=(20,), concurrency=(2,), duration_s=1.5, warmup_s=0.2)
    report = run_load(model, ["x"], plan)
    assert not any("server-side" in n for n in report.notes)
    for step in report.steps:
        server = step.server
        assert server is not None, step.name
        row = server["histograms"]["vllm:e2e_request_latency_seconds"]
        # every request of the level (warm-up included: a scrape cannot split it), not the probe
        assert row["count"] == server["client_requests"] == step.n + report.warmup[step.name]
        client_bucket = [100.0, 200.0]  # 120 ms + loopback overhead (< 80 ms, see SLACK_MS)
        for q in ("p50", "p95"):
            assert client_bucket[0] <= step.service_ms[q].value <= client_bucket[1], (step.name, q)
            assert row[f"{q}_bucket_ms"] == client_bucket, (step.name, q)
            assert client_bucket[0] <= row[f"{q}_ms"] <= client_bucket[1]
        gauge = server["gauges"]["vllm:num_requests_running"]
        assert gauge["samples"] >= 2 and 0 <= gauge["mean"] <= gauge["max"]
        rate = server["counters_per_s"]["vllm:request_success"]
        assert rate == pytest.approx(row["count"] / server["seconds"])
    assert report.to_dict()["rate_20"]["server"]["histograms"]


def test_a_server_without_metrics_gives_one_note(base: str) -> None:
    report = run_load(
        _model(base, "noprom/fixed/5"), ["x"], LoadPlan(concurrency=(1, 2), duration_s=0.3)
    )
    notes = [n for n in report.notes if "server-side" in n]
    assert len(notes) == 1 and "HTTP 404" in notes[0], report.notes
    assert all(s.server is None for s in report.steps)
    assert report.to_dict()["concurrency_1"]["server"] is None


def test_metrics_that_are_refused_or_not_prometheus_give_a_note(base: str) -> None:
    from assay._runner._load import _MetricsScraper

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    refused = _MetricsScraper(f"http://127.0.0.1:{closed}/metrics", {})
    assert not refused.on and "no server-side view" in refused.notes[0]
    # a path of the loopback server that answers 200 with a chat completion (JSON)
    not_text = _MetricsScraper(f"{base}/json/trivial/v1/chat/completions", {})
    assert not not_text.on and "not Prometheus text" in not_text.notes[0], not_text.notes
    for s in (refused, not_text):
        s.close()


def test_metrics_scrape_reuses_the_endpoint_auth(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay._runner._load import _MetricsScraper

    monkeypatch.setenv("ASSAY_OPENAI_API_KEY", "sk-test-123")
    scraper = _MetricsScraper.of(_model(base, "auth/metered/1"))
    assert scraper.url == f"{base}/auth/metered/1/metrics"
    assert scraper.client is not None
    assert scraper.client.headers["Authorization"] == "Bearer sk-test-123"
    scraper.close()
