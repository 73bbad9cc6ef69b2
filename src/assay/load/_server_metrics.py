"""The server's own view of a load level, from Prometheus text scraped at ``/metrics``.

The load generator scrapes the endpoint's ``/metrics`` before and after each level and samples it
a few times during the level; this module (pure) turns those scrapes into the level's server-side
view:

- **latency histograms** — a histogram whose name contains ``latency``, ``duration``,
  ``time_to_first_token``, ``time_per_output_token`` or ``inter_token`` (vLLM's
  ``vllm:e2e_request_latency_seconds`` and ``vllm:time_to_first_token_seconds``, TGI's
  ``tgi_request_duration``, llama.cpp's none): the level's *delta* histogram (after − before,
  summed over label sets) gives the request count, mean and p50/p95 **estimated from the buckets
  by linear interpolation within the bucket that holds the rank, as Prometheus'
  ``histogram_quantile`` does** (so an estimate is only as fine as the server's buckets; the
  bucket itself is reported too). Values are in seconds unless the name ends in ``_ms`` or
  ``_milliseconds``; the view gives milliseconds.
- **queue gauges** — a gauge whose name contains ``running``, ``waiting``, ``processing``,
  ``deferred``, ``queue`` or ``batch_current_size`` (vLLM ``vllm:num_requests_running`` /
  ``vllm:num_requests_waiting``, TGI ``tgi_queue_size``, llama.cpp
  ``llamacpp:requests_processing``): mean and max over the samples of the level.
- **counters** — every counter that grew during the level (``process_*`` and ``python_*`` left
  out), as a rate per second of the level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SERVER_QUANTILE_METHOD",
    "MetricsScrape",
    "histogram_quantile",
    "parse_metrics",
    "server_view",
]

SERVER_QUANTILE_METHOD = (
    "Prometheus histogram_quantile: linear interpolation within the bucket holding the rank "
    "(the first bucket starts at 0; a rank in the +Inf bucket gives the highest finite bound)"
)
_LATENCY_WORDS = (
    "latency",
    "duration",
    "time_to_first_token",
    "time_per_output_token",
    "inter_token",
)
_GAUGE_WORDS = ("running", "waiting", "processing", "deferred", "queue", "batch_current_size")
_SKIPPED_PREFIXES = ("process_", "python_")
_QUANTILES = {"p50": 0.5, "p95": 0.95}


@dataclass(frozen=True)
class MetricsScrape:
    """One scrape of ``/metrics``, reduced to what the server view uses (label sets summed).

    Attributes:
        histograms: latency histogram name → (cumulative bucket counts by upper bound, sum).
        gauges: queue gauge name → value.
        counters: counter name → value.
    """

    histograms: dict[str, tuple[dict[float, float], float]] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)


def parse_metrics(text: str) -> MetricsScrape:
    """Parse Prometheus text exposition (``prometheus_client``'s parser).

    Raises:
        ValueError: the text is not Prometheus exposition, or holds no metric at all.
        ImportError: prometheus-client (the ``monitor`` extra) is not installed.

    Example:
        >>> s = parse_metrics('# TYPE q_running gauge\\nq_running{m="a"} 2\\nq_running{m="b"} 1\\n')
        >>> s.gauges
        {'q_running': 3.0}
    """
    from prometheus_client.parser import text_string_to_metric_families

    histograms: dict[str, tuple[dict[float, float], float]] = {}
    gauges: dict[str, float] = {}
    counters: dict[str, float] = {}
    seen = 0
    for fam in text_string_to_metric_families(text):
        seen += 1
        name = fam.name
        if fam.type == "histogram" and any(w in name for w in _LATENCY_WORDS):
            buckets: dict[float, float] = {}
            total = 0.0
            for s in fam.samples:
                if s.name.endswith("_bucket"):
                    le = float(s.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + float(s.value)
                elif s.name.endswith("_sum"):
                    total += float(s.value)
            histograms[name] = (buckets, total)
        elif fam.type == "gauge" and any(w in name for w in _GAUGE_WORDS):
            gauges[name] = sum(float(s.value) for s in fam.samples)
        elif fam.type == "counter" and not name.startswith(_SKIPPED_PREFIXES):
            vals = [float(s.value) for s in fam.samples if s.name.endswith("_total")]
            counters[name] = sum(vals or [float(s.value) for s in fam.samples])
    if not seen:
        raise ValueError("no Prometheus metric in the text")
    return MetricsScrape(histograms, gauges, counters)


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """The ``q`` quantile of a histogram given as cumulative counts by upper bound (``le``),
    as Prometheus' ``histogram_quantile`` estimates it: find the first bucket whose cumulative
    count reaches ``q × total`` and interpolate linearly between its lower and upper bound
    (the first bucket's lower bound is 0). A rank in the ``+Inf`` bucket gives the highest
    finite bound; no ``+Inf`` bucket or no observation gives NaN.

    Example:
        >>> histogram_quantile(0.5, {1.0: 2, 2.0: 6, 4.0: 10, float("inf"): 10})
        1.75
    """
    les = sorted(buckets)
    if len(les) < 2 or not math.isinf(les[-1]):
        return math.nan
    total = float(buckets[les[-1]])
    if total <= 0:
        return math.nan
    rank = q * total
    b = next(i for i, le in enumerate(les) if buckets[le] >= rank)
    if math.isinf(les[b]):
        return float(les[-2])
    if b == 0 and les[0] <= 0:
        return float(les[0])
    start = 0.0 if b == 0 else float(les[b - 1])
    before = 0.0 if b == 0 else float(buckets[les[b - 1]])
    inside = float(buckets[les[b]]) - before
    if inside <= 0:
        return float(les[b])
    return start + (float(les[b]) - start) * (rank - before) / inside


def _bucket_of(value: float, les: Sequence[float]) -> list[float | None]:
    """The bounds ``[lower, upper]`` of the bucket holding ``value`` (``None`` for +Inf)."""
    lower = 0.0
    for le in les:
        if value <= le:
            return [lower, None if math.isinf(le) else le]
        lower = le
    return [lower, None]


def _to_ms(name: str) -> float:
    return 1.0 if name.endswith(("_ms", "_milliseconds")) else 1000.0


def server_view(
    before: MetricsScrape,
    after: MetricsScrape,
    during: Sequence[MetricsScrape],
    seconds: float,
) -> dict[str, Any]:
    """The level's server-side view: the delta of each latency histogram (count, mean, p50/p95
    from the buckets, and the bucket each falls in, in ms), each queue gauge's mean and max
    over ``during`` (plus ``after``), and each counter's rate over ``seconds``.

    A counter or histogram that went down (the server restarted) is reported from ``after``
    alone, with a note.
    """
    notes: list[str] = []
    histograms: dict[str, Any] = {}
    for name, (b_after, s_after) in after.histograms.items():
        b_before, s_before = before.histograms.get(name, ({}, 0.0))
        delta = {le: c - b_before.get(le, 0.0) for le, c in b_after.items()}
        total_s = s_after - s_before
        if any(v < 0 for v in delta.values()):
            notes.append(f"{name} went down during the level (server restart?): taken as is")
            delta, total_s = dict(b_after), s_after
        les = sorted(delta)
        count = delta[les[-1]] if les and math.isinf(les[-1]) else 0.0
        if count <= 0:
            continue
        scale = _to_ms(name)
        row: dict[str, Any] = {"count": round(count), "mean_ms": total_s / count * scale}
        for key, q in _QUANTILES.items():
            v = histogram_quantile(q, delta)
            row[f"{key}_ms"] = v * scale
            row[f"{key}_bucket_ms"] = [None if x is None else x * scale for x in _bucket_of(v, les)]
        histograms[name] = row
    gauges: dict[str, Any] = {}
    for name in after.gauges:
        values = [s.gauges[name] for s in [*during, after] if name in s.gauges]
        gauges[name] = {
            "mean": sum(values) / len(values),
            "max": max(values),
            "samples": len(values),
        }
    counters: dict[str, float] = {}
    for name, v in after.counters.items():
        d = v - before.counters.get(name, 0.0)
        if d < 0:
            notes.append(f"{name} went down during the level (server restart?): taken as is")
            d = v
        if d > 0 and seconds > 0:
            counters[name] = d / seconds
    return {
        "seconds": seconds,
        "histograms": histograms,
        "gauges": gauges,
        "counters_per_s": counters,
        "quantile_method": SERVER_QUANTILE_METHOD,
        "notes": notes,
    }
