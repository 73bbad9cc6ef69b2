"""The ``latency`` result's metric paths and flags, read from a load run's table.

A load run (``assay load``, :func:`assay.load_test`) is the runner's: it calls the model on a
schedule, past the engine (a load test must reach the model every time). What reaches this layer
is its JSON table (``LoadReport.to_dict()``); this module turns it into the flat metric paths
gates read — ``latency.rate_20.p95_ms.upper``, ``latency.capacity.max_rps_at_slo``,
``latency.deadline_miss_rate.upper`` — and the flags the console and HTML show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.stats import Estimate

__all__ = ["LATENCY_GATE_PATTERNS", "latency_flags", "latency_metrics"]

_TIMED = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms", "mean_ms", "max_ms")
_STEP_ESTIMATES = ("error_rate", "timeout_rate", "accuracy", "deadline_miss_rate")
_STEP_POINTS = ("throughput_rps", "goodput_rps", "output_tokens_per_s")
_NESTED = ("ttft", "itl", "tpot", "service")
_CAPACITY = ("max_rps_at_slo", "max_level_at_slo", "knee")

#: Every metric path a latency result can hold (``*``: a level, ``rate_20``, ``concurrency_4``).
LATENCY_GATE_PATTERNS: tuple[str, ...] = (
    *(f"*.{k}" for k in _TIMED),
    *(f"*.{n}.{k}" for n in _NESTED for k in _TIMED),
    *(f"*.{k}" for k in _STEP_ESTIMATES + _STEP_POINTS),
    *(f"capacity.{k}" for k in _CAPACITY),
    "deadline_miss_rate",
    "cold_start_s",
    "peak_rss_mb",
)


def _point(x: Any, n: int = 0) -> Estimate | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return Estimate.point(float(x), n=n)


def latency_metrics(table: Mapping[str, Any]) -> dict[str, Estimate]:
    """The flat metric paths of a load run's table (``LoadReport.to_dict()``).

    Example:
        >>> m = latency_metrics({"steps": ["rate_5"], "rate_5": {"n": 3, "throughput_rps": 4.9},
        ...                      "capacity": {"max_rps_at_slo": 4.9}})
        >>> sorted(m)
        ['capacity.max_rps_at_slo', 'rate_5.throughput_rps']
    """
    out: dict[str, Estimate] = {}
    for name in table.get("steps") or []:
        step = table.get(name) or {}
        n = int(step.get("n") or 0)
        for k in (*_TIMED, *_STEP_ESTIMATES):
            if isinstance(step.get(k), Mapping):
                out[f"{name}.{k}"] = Estimate.from_dict(dict(step[k]))
        for nested in _NESTED:
            for k, v in (step.get(nested) or {}).items():
                if isinstance(v, Mapping):
                    out[f"{name}.{nested}.{k}"] = Estimate.from_dict(dict(v))
        for k in _STEP_POINTS:
            e = _point(step.get(k), n)
            if e is not None:
                out[f"{name}.{k}"] = e
    for k in _CAPACITY:
        e = _point((table.get("capacity") or {}).get(k))
        if e is not None:
            out[f"capacity.{k}"] = e
    if isinstance(table.get("deadline_miss_rate"), Mapping):
        out["deadline_miss_rate"] = Estimate.from_dict(dict(table["deadline_miss_rate"]))
    for k in ("cold_start_s", "peak_rss_mb"):
        e = _point(table.get(k))
        if e is not None:
            out[k] = e
    return out


def latency_flags(table: Mapping[str, Any]) -> list[str]:
    """What the reader must see: each level's notes, SLO terms that failed, and the knee."""
    flags: list[str] = []
    for name in table.get("steps") or []:
        step = table.get(name) or {}
        for note in step.get("notes") or []:
            flags.append(f"{name}: {note}")
        for term, row in (step.get("slo") or {}).items():
            if not row.get("met"):
                flags.append(f"{name}: the SLO term {term} does not hold")
    cap = table.get("capacity") or {}
    if cap.get("knee") is not None:
        flags.append(
            f"throughput stops following the load past {cap['mode']} {cap['knee']:g} (the knee)"
        )
    flags += list(table.get("notes") or [])
    return flags
