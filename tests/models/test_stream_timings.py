"""Stream timings against a literal transcription of vLLM's ``benchmark_serving`` definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.models._timings import stream_timings


def _vllm(chunk_times: list[float], n_tokens: int) -> dict[str, float]:
    """What benchmark_serving computes for one request: ttft is the first chunk, itl the list of
    gaps between chunks, latency the last chunk, tpot = (latency - ttft) / (output_len - 1) when
    output_len > 1 (0 otherwise, which it leaves out of its TPOT statistics)."""
    ttft = chunk_times[0]
    itl = [b - a for a, b in itertools.pairwise(chunk_times)]
    latency = chunk_times[-1]
    out = {"ttft": ttft, "itl_mean": float(np.mean(itl)) if itl else float("nan")}
    if n_tokens > 1:
        out["tpot"] = (latency - ttft) / (n_tokens - 1)
    return out


@given(
    gaps=st.lists(st.floats(1e-4, 2.0), min_size=1, max_size=40),
    start=st.floats(1e-3, 5.0),
    extra=st.integers(0, 10),
)
def test_ttft_itl_tpot_match_vllm(gaps: list[float], start: float, extra: int) -> None:
    times = list(np.cumsum([start, *gaps[:-1]]))
    n = len(times) + extra  # a server may bundle several tokens into one chunk
    got = stream_timings(times, end_s=times[-1] + 0.01, n_tokens=n)
    want = _vllm(times, n)
    assert got["ttft_s"] == pytest.approx(want["ttft"])
    if len(times) > 1:
        assert got["itl_s"] == pytest.approx(want["itl_mean"])
        assert got["itl_gaps"] == len(times) - 1
    if "tpot" in want and want["tpot"] > 0:
        assert got["tpot_s"] == pytest.approx(want["tpot"])
        # tokens per second is (n - 1) / decode span, the inverse of TPOT
        assert got["tokens_per_s"] == pytest.approx((n - 1) / (times[-1] - times[0]))
        assert got["tokens_per_s"] * got["tpot_s"] == pytest.approx(1.0)


def test_one_token_has_no_rate_and_the_old_formula_overstated_it() -> None:
    """It was n / (total - ttft): 1,580 tokens/s for a one-token answer, +13% at 8 tokens."""
    one = stream_timings([0.2], end_s=0.2006, n_tokens=1)
    assert "tokens_per_s" not in one and "tpot_s" not in one and "itl_s" not in one
    assert one["ttft_s"] == 0.2 and one["latency_s"] == 0.2006
    eight = stream_timings([0.1 + 0.05 * i for i in range(8)], end_s=0.1 + 0.05 * 7, n_tokens=8)
    assert eight["tokens_per_s"] == pytest.approx(7 / 0.35)  # 20/s, not 8 / 0.35 = 22.9/s


def test_no_chunk_means_no_token_timing() -> None:
    assert stream_timings([], end_s=0.3) == {"latency_s": 0.3}
