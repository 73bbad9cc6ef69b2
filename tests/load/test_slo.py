"""The SLO grammar, goodput and the per-step SLO verdict."""

from __future__ import annotations

import pytest

from assay.errors import ConfigError
from assay.load import SLO_GRAMMAR, Sample, parse_slo, summarize_step


def test_parse_units_and_keys() -> None:
    slo = parse_slo(
        "p95<800ms, ttft.p99<=0.3s, itl_p50<50000us, p99.9<2s, errors<1%, timeouts<0.5%"
    )
    got = [(t.key, t.limit, t.inclusive) for t in slo.terms]
    assert got == [
        ("p95_ms", pytest.approx(0.8), False),
        ("ttft.p99_ms", pytest.approx(0.3), True),
        ("itl.p50_ms", pytest.approx(0.05), False),
        ("p99_9_ms", pytest.approx(2.0), False),
        ("error_rate", pytest.approx(0.01), False),
        ("timeout_rate", pytest.approx(0.005), False),
    ]


@pytest.mark.parametrize(
    "text",
    ["p95>800ms", "p96<1s", "errors<1ms", "p95<10%", "ttft.errors<1%", "p95<800", "", "lat<1s"],
)
def test_bad_terms_name_themselves_and_give_the_grammar(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_slo(text)
    assert SLO_GRAMMAR in str(info.value)
    assert str(info.value).startswith("--slo:")


def test_goodput_counts_requests_meeting_every_per_request_bound() -> None:
    # 10 requests in 1 s: 6 fast and ok, 2 slow, 1 fast with a slow first token, 1 failed.
    fast = [Sample(i * 0.1, i * 0.1, i * 0.1 + 0.05, "ok", ttft_s=0.01) for i in range(6)]
    slow = [Sample(0.6 + i * 0.1, 0.6 + i * 0.1, 0.6 + i * 0.1 + 0.5, "ok") for i in range(2)]
    late_first = [Sample(0.8, 0.8, 0.85, "ok", ttft_s=0.04)]
    failed = [Sample(0.9, 0.9, 0.95, "error", error="HTTP 500")]
    samples = fast + slow + late_first + failed
    step = summarize_step(
        samples, mode="rate", level=10, slo=parse_slo("p50<100ms,ttft.p95<20ms,errors<50%")
    )
    # first scheduled send to last completion (a slow one ends at 1.2 s)
    duration = max(s.done_s for s in samples) - min(s.scheduled_s for s in samples)
    assert step.goodput_rps == pytest.approx(6 / duration)
    assert step.error_rate.value == pytest.approx(0.1)
    assert step.slo is not None and step.meets_slo is not None
    assert step.slo["p50<100ms"]["met"] is True
    assert step.slo["errors<50%"]["met"] is True
