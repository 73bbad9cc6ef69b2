"""One load step summarised: percentiles with intervals, rates, throughput, goodput, lag.

Which requests count where:

- **latency percentiles** are over the requests that were answered *or timed out* (a timeout's
  latency is its timeout, a lower bound of what the user would have waited: leaving timeouts out
  would make a saturated server look fast). Failed requests are left out of the latencies (a
  refused connection answers in microseconds) and counted in ``error_rate``.
- ``latency`` is from each request's **scheduled** send time; ``service`` from its actual send
  (the closed-loop view, which hides a server stall behind a waiting client).
- ``throughput_rps``: answered requests per second of the step (first scheduled send to last
  answer); ``goodput_rps``: those that met every SLO term as a per-request bound (vLLM).
- mean: Student-t interval (the latency's mean, not its tail); max: no interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from scipy import stats as sps

from assay.load._quantiles import quantile_estimate, samples_needed
from assay.load._samples import Sample
from assay.load._slo import SLO
from assay.stats import Estimate, wilson_interval

__all__ = ["PERCENTILES", "StepSummary", "histogram_of", "summarize_step"]

#: The percentiles every step reports, by name.
PERCENTILES: dict[str, float] = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p99_9": 0.999}
#: HdrHistogram range: 1 µs to 1 hour, 3 significant digits (0.1% resolution).
_HDR_MAX_US = 3_600_000_000
#: The generator is behind its schedule when the median send is later than this.
_LAG_TOLERANCE_S = 0.005


@dataclass(frozen=True)
class StepSummary:
    """What one load level measured.

    Attributes:
        mode: ``"rate"`` (open loop), ``"concurrency"`` (closed loop) or ``"batch_size"``.
        level: the offered rate (requests/s), concurrency or batch size.
        n: requests measured (warm-up excluded); ``n_ok``, ``n_error``, ``n_timeout`` split it.
        duration_s: first scheduled send to last completion.
        offered_rps: requests scheduled per second (open loop: the realised arrival rate, which
            differs from the target by chance under Poisson arrivals).
        latency_ms: p50 … p99.9, mean and max of the latency from the scheduled send (ms).
        service_ms: the same from the actual send (the closed-loop view).
        ttft_ms / itl_ms / tpot_ms: streamed answers' timings (empty when none streamed).
        error_rate / timeout_rate: Wilson intervals over ``n``.
        throughput_rps / goodput_rps: answered (and SLO-meeting) requests per second.
        output_tokens_per_s: all answers' output tokens per second of the step.
        lag_ms: how late the generator sent requests (mean, p99, max), and ``behind`` when it
            fell behind its schedule.
        accuracy: the share of scored answers that were right (``None`` when none were scored).
        deadline_miss_rate: the share of requests that failed or took longer than the declared
            deadline (Wilson interval; ``None`` without a deadline).
        slo: each SLO term's measured value and whether it held (``None`` without an SLO).
        meets_slo: every term held (``None`` without an SLO).
        notes: what the reader must know (too few samples for a percentile, a lagging generator).
        histogram: the latency HdrHistogram, encoded (mergeable: ``HdrHistogram.decode``).
        ttft_histogram: the time to first token's, likewise (empty when nothing streamed).
        server: the server's own view of the level from its ``/metrics`` (see
            :func:`assay.load.server_view`; ``None`` when the server exposes none).
    """

    mode: str
    level: float
    n: int
    n_ok: int
    n_error: int
    n_timeout: int
    duration_s: float
    offered_rps: float
    latency_ms: dict[str, Estimate]
    service_ms: dict[str, Estimate]
    ttft_ms: dict[str, Estimate]
    itl_ms: dict[str, Estimate]
    tpot_ms: dict[str, Estimate]
    error_rate: Estimate
    timeout_rate: Estimate
    throughput_rps: float
    goodput_rps: float | None
    output_tokens_per_s: float | None
    lag_ms: dict[str, float]
    behind: bool
    accuracy: Estimate | None
    deadline_miss_rate: Estimate | None
    slo: dict[str, dict[str, Any]] | None
    meets_slo: bool | None
    notes: tuple[str, ...] = field(default=())
    histogram: str = ""
    ttft_histogram: str = ""
    server: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """``rate_20``, ``concurrency_4``, ``batch_size_8``: the step's key in gate paths."""
        return f"{self.mode}_{_num(self.level)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: latency statistics flattened as ``p95_ms`` etc. so gates read
        ``latency.rate_20.p95_ms.upper``."""

        def table(prefix: str, stats: dict[str, Estimate]) -> dict[str, Any]:
            return {f"{prefix}{k}_ms": v.to_dict() for k, v in stats.items()}

        out: dict[str, Any] = {
            "mode": self.mode,
            "level": self.level,
            "n": self.n,
            "n_ok": self.n_ok,
            "n_error": self.n_error,
            "n_timeout": self.n_timeout,
            "duration_s": self.duration_s,
            "offered_rps": self.offered_rps,
            **table("", self.latency_ms),
            "service": table("", self.service_ms),
            "ttft": table("", self.ttft_ms),
            "itl": table("", self.itl_ms),
            "tpot": table("", self.tpot_ms),
            "error_rate": self.error_rate.to_dict(),
            "timeout_rate": self.timeout_rate.to_dict(),
            "throughput_rps": self.throughput_rps,
            "goodput_rps": self.goodput_rps,
            "output_tokens_per_s": self.output_tokens_per_s,
            "lag_ms": self.lag_ms,
            "behind": self.behind,
            "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
            "deadline_miss_rate": (
                None if self.deadline_miss_rate is None else self.deadline_miss_rate.to_dict()
            ),
            "slo": self.slo,
            "meets_slo": self.meets_slo,
            "notes": list(self.notes),
            "histogram": self.histogram,
            "ttft_histogram": self.ttft_histogram,
            "server": self.server,
        }
        return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x).replace(".", "_")


def _stats_ms(values: Sequence[float] | np.ndarray, level: float) -> dict[str, Estimate]:
    x = np.asarray(values, dtype=np.float64) * 1000.0
    if x.size == 0:
        return {}
    out = {name: quantile_estimate(x, q, level=level) for name, q in PERCENTILES.items()}
    mean = float(x.mean())
    if x.size > 1:
        half = float(sps.t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
        out["mean"] = Estimate(mean, mean - half, mean + half, level, "t", int(x.size))
    else:
        out["mean"] = Estimate.point(mean, n=1, level=level)
    out["max"] = Estimate.point(float(x.max()), n=int(x.size), level=level)
    return out


def histogram_of(latencies_s: Sequence[float] | np.ndarray) -> HdrHistogram:
    """An HdrHistogram of latencies (recorded in microseconds, 3 significant digits)."""
    h = HdrHistogram(1, _HDR_MAX_US, 3)
    for v in np.asarray(latencies_s, dtype=np.float64):
        h.record_value(int(min(max(round(v * 1e6), 1), _HDR_MAX_US)))
    return h


def summarize_step(
    samples: Sequence[Sample],
    *,
    mode: str,
    level: float,
    slo: SLO | None = None,
    deadline_s: float | None = None,
    confidence: float = 0.95,
) -> StepSummary:
    """Summarise the measured (post-warm-up) samples of one load level.

    Args:
        samples: the step's requests, warm-up excluded.
        mode: ``"rate"``, ``"concurrency"`` or ``"batch_size"``.
        level: the offered rate, concurrency or batch size.
        slo: checked against the step (and the per-request bound for goodput).
        deadline_s: a declared deadline: a request that failed or took longer missed it.
        confidence: the level of every interval.
    """
    n = len(samples)
    ok = [s for s in samples if s.ok]
    timed_out = [s for s in samples if s.outcome == "timeout"]
    timed = ok + timed_out
    n_error = n - len(ok) - len(timed_out)
    start = min((s.scheduled_s for s in samples), default=0.0)
    end = max((s.done_s for s in samples), default=0.0)
    duration = max(end - start, 0.0)
    last = max((s.scheduled_s for s in samples), default=0.0)
    offered = (n - 1) / (last - start) if n > 1 and last > start else math.nan
    latency = [s.latency_s for s in timed]
    service = [s.service_s for s in timed]
    ttft = [s.ttft_s for s in ok if s.ttft_s is not None]
    itl = [v for v in (s.itl_s for s in ok) if v is not None]
    tpot = [v for v in (s.tpot_s for s in ok) if v is not None]
    throughput = len(ok) / duration if duration > 0 else math.nan
    tokens = [s.output_tokens for s in ok if s.output_tokens is not None]
    tokens_per_s = sum(tokens) / duration if tokens and duration > 0 else None
    lags = np.array([s.lag_s for s in samples], dtype=np.float64) * 1000.0
    lag_ms = (
        {
            "mean": float(lags.mean()),
            "p50": float(np.quantile(lags, 0.5)),
            "p99": float(np.quantile(lags, 0.99)),
            "max": float(lags.max()),
        }
        if lags.size
        else {}
    )
    behind = bool(lags.size and lag_ms["p50"] > _LAG_TOLERANCE_S * 1000.0)
    notes: list[str] = []
    if behind:
        notes.append(
            f"the load generator fell behind its schedule: requests were sent {lag_ms['mean']:.1f} ms "
            f"late on average (median {lag_ms['p50']:.1f} ms, max {lag_ms['max']:.1f} ms); the "
            "latencies count that wait (measured from the scheduled send), but the offered load "
            "was not reached — lower the rate or give the generator more CPU"
        )
    latency_ms = _stats_ms(latency, confidence)
    short = [
        (name.replace("_", "."), samples_needed(q, level=confidence))
        for name, q in PERCENTILES.items()
        if name in latency_ms and math.isnan(latency_ms[name].upper)
    ]
    if short:
        notes.append(
            f"{len(latency)} latencies are too few for an upper bound on "
            + ", ".join(name for name, _ in short)
            + " (at "
            + f"{confidence:.0%}: "
            + ", ".join(f"{name} needs {need:,}" for name, need in short)
            + "); run longer or at a higher rate"
        )
    scored = [s.correct for s in ok if s.correct is not None]
    accuracy = wilson_interval(sum(scored), len(scored), level=confidence) if scored else None
    error_rate = wilson_interval(n - len(ok), n, level=confidence)
    timeout_rate = wilson_interval(len(timed_out), n, level=confidence)
    missed = (
        None
        if deadline_s is None
        else wilson_interval(
            sum(not s.ok or s.latency_s > deadline_s for s in samples), n, level=confidence
        )
    )
    goodput = None
    slo_table: dict[str, dict[str, Any]] | None = None
    meets = None
    if slo is not None:
        goodput = (
            sum(slo.request_meets(s) for s in samples) / duration if duration > 0 else math.nan
        )
        tables = {"latency": latency, "ttft": ttft, "itl": itl, "tpot": tpot}
        slo_table = _slo_table(slo, tables, error_rate, timeout_rate, confidence)
        meets = all(v["met"] for v in slo_table.values())
    hist = histogram_of(latency) if latency else None
    return StepSummary(
        mode=mode,
        level=float(level),
        n=n,
        n_ok=len(ok),
        n_error=n_error,
        n_timeout=len(timed_out),
        duration_s=duration,
        offered_rps=offered,
        latency_ms=latency_ms,
        service_ms=_stats_ms(service, confidence),
        ttft_ms=_stats_ms(ttft, confidence),
        itl_ms=_stats_ms(itl, confidence),
        tpot_ms=_stats_ms(tpot, confidence),
        error_rate=error_rate,
        timeout_rate=timeout_rate,
        throughput_rps=throughput,
        goodput_rps=goodput,
        output_tokens_per_s=tokens_per_s,
        lag_ms=lag_ms,
        behind=behind,
        accuracy=accuracy,
        deadline_miss_rate=missed,
        slo=slo_table,
        meets_slo=meets,
        notes=tuple(notes),
        histogram=hist.encode().decode("ascii") if hist is not None else "",
        ttft_histogram=histogram_of(ttft).encode().decode("ascii") if ttft else "",
    )


def _slo_table(
    slo: SLO,
    tables: dict[str, list[float]],
    error_rate: Estimate,
    timeout_rate: Estimate,
    confidence: float,
) -> dict[str, dict[str, Any]]:
    """Each SLO term's measured value (seconds or a fraction, with its interval) and verdict."""
    out: dict[str, dict[str, Any]] = {}
    for term in slo.terms:
        est: Estimate | None
        if term.stat == "errors":
            est = error_rate
        elif term.stat == "timeouts":
            est = timeout_rate
        else:
            ms = _stats_ms(tables[term.timing or "latency"], confidence).get(term.stat)
            est = (
                None
                if ms is None
                else Estimate(
                    ms.value / 1000.0,
                    ms.lower / 1000.0,
                    ms.upper / 1000.0,
                    ms.level,
                    ms.method,
                    ms.n,
                )
            )
        out[term.text] = {
            "key": term.key,
            "limit": term.limit,
            "measured": None if est is None else est.to_dict(),
            "met": est is not None and est.defined and term.holds(est.value),
        }
    return out
