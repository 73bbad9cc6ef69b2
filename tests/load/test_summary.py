"""A load step's summary: rates, throughput, notes for lag and too few samples; capacity."""

from __future__ import annotations

import numpy as np
import pytest

from assay.load import Sample, capacity, parse_slo, summarize_step


def _step(rate: float, most: float, service: float, n: int = 100) -> list[Sample]:
    """``n`` requests scheduled at ``rate`` on a server answering at most ``most`` a second,
    each taking ``service`` seconds once it starts."""
    return [Sample(i / rate, i / rate, max(i / rate, i / most) + service, "ok") for i in range(n)]


def test_counts_errors_and_timeouts_never_drops_them() -> None:
    samples = [Sample(i * 0.01, i * 0.01, i * 0.01 + 0.02, "ok") for i in range(90)]
    samples += [Sample(1.0, 1.0, 1.5, "timeout", error="ReadTimeout")] * 6
    samples += [Sample(1.0, 1.0, 1.0001, "error", error="HTTP 500")] * 4
    s = summarize_step(samples, mode="rate", level=100)
    assert (s.n, s.n_ok, s.n_timeout, s.n_error) == (100, 90, 6, 4)
    assert s.error_rate.value == pytest.approx(0.10)  # timeouts are failures too
    assert s.timeout_rate.value == pytest.approx(0.06)
    # timeouts enter the latencies (at their timeout): the max is 500 ms, not 20 ms
    assert s.latency_ms["max"].value == pytest.approx(500.0)
    assert s.latency_ms["p50"].n == 96


def test_lagging_generator_is_named_with_how_far() -> None:
    samples = [Sample(i * 0.01, i * 0.01 + 0.05, i * 0.01 + 0.06, "ok") for i in range(100)]
    s = summarize_step(samples, mode="rate", level=100)
    assert s.behind
    assert "fell behind its schedule" in s.notes[0] and "50.0 ms late" in s.notes[0]
    # latency from the schedule counts the lag; the service time does not
    assert s.latency_ms["p50"].value == pytest.approx(60.0)
    assert s.service_ms["p50"].value == pytest.approx(10.0)


def test_short_run_says_how_many_samples_p99_9_needs() -> None:
    samples = [Sample(i * 0.01, i * 0.01, i * 0.01 + 0.01, "ok") for i in range(300)]
    s = summarize_step(samples, mode="rate", level=100)
    (note,) = s.notes
    assert "300 latencies are too few for an upper bound on p99, p99.9" in note
    assert "p99.9 needs 3,688" in note and "p99 needs 368" in note
    assert "p95" not in note


def test_streaming_timings_and_token_rate() -> None:
    # first token at 100 ms, then one every 20 ms: the adapter's ITL and TPOT are 20 ms
    samples = [
        Sample(
            i * 0.5,
            i * 0.5,
            i * 0.5 + 0.3,
            "ok",
            ttft_s=0.1,
            itl_s=0.02,
            tpot_s=0.02,
            output_tokens=11,
        )
        for i in range(20)
    ]
    s = summarize_step(samples, mode="rate", level=2)
    assert s.ttft_ms["p50"].value == pytest.approx(100.0)
    assert s.itl_ms["p95"].value == pytest.approx(20.0)
    assert s.tpot_ms["mean"].value == pytest.approx(20.0)
    duration = 19 * 0.5 + 0.3
    assert s.output_tokens_per_s == pytest.approx(20 * 11 / duration)
    d = s.to_dict()
    assert d["ttft"]["p50_ms"]["value"] == pytest.approx(100.0)
    assert d["p95_ms"]["method"] == "order-statistic (binomial)"


def test_capacity_knee_and_highest_rate_meeting_the_slo() -> None:
    slo = parse_slo("p95<50ms")
    steps = [
        summarize_step(_step(rate, 50, 0.01 * rate / 10), mode="rate", level=rate, slo=slo)
        for rate in (10, 20, 40, 80)
    ]
    cap = capacity(steps)
    # 80/s on a server answering 50/s: answered ≈ 50/s < 90% of 80/s; 40/s keeps up
    assert cap.knee == 40.0
    assert cap.max_level_at_slo == 40.0  # 40 ms at 40/s; 80/s queues far past 50 ms
    assert cap.max_rps_at_slo == pytest.approx(steps[2].throughput_rps)
    assert cap.p95_ms_at_slo is not None and cap.p95_ms_at_slo.value == pytest.approx(40.0)
    assert capacity(steps[:3]).knee is None  # it kept up: the knee lies beyond the levels tried
    closed = [
        summarize_step(_step(c * 10, 25, 0.01), mode="concurrency", level=c) for c in (1, 2, 4)
    ]
    assert capacity(closed).knee == 2.0  # 10 → 20 → 25 answered a second


def test_mean_interval_is_students_t(seed: int) -> None:
    from scipy import stats as sps

    x = np.random.default_rng(seed).gamma(2.0, 0.05, size=400)
    samples = [Sample(0.0, 0.0, float(v), "ok") for v in x]
    s = summarize_step(samples, mode="concurrency", level=1)
    lo, hi = sps.t.interval(0.95, x.size - 1, loc=x.mean() * 1000, scale=sps.sem(x) * 1000)
    assert s.latency_ms["mean"].lower == pytest.approx(lo)
    assert s.latency_ms["mean"].upper == pytest.approx(hi)


def test_draining_a_short_run_is_not_saturation() -> None:
    # Each request takes 2 s. At 1/s for 40 s the answered rate keeps up; at 10/s for 1 s it is
    # far below the offered one only because the run is short next to the latency (the last
    # answers drain); the median latency does not grow: no queue, no knee.
    steps = [
        summarize_step(_step(1, 1e9, 2.0, n=40), mode="rate", level=1),
        summarize_step(_step(10, 1e9, 2.0, n=10), mode="rate", level=10),
    ]
    assert steps[1].throughput_rps < 0.5 * steps[1].offered_rps
    assert capacity(steps).knee is None
