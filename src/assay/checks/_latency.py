"""The ``latency`` check, and the ``latency`` result's metric paths and flags, read from a load
run's table.

A load run (``assay load``, :func:`assay.load_test`) is the runner's: it calls the model on a
schedule, past the engine (a load test must reach the model every time). What reaches this layer
is its JSON table (``LoadReport.to_dict()``); this module turns it into the flat metric paths
gates read — ``latency.rate_20.p95_ms.upper``, ``latency.capacity.max_rps_at_slo``,
``latency.deadline_miss_rate.upper`` — and the flags the console and HTML show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from assay._types import Request, Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.load import LoadPlan
from assay.report._schema import CheckResult
from assay.stats import Estimate

__all__ = [
    "LATENCY_GATE_PATTERNS",
    "LatencyCheck",
    "LatencyConfig",
    "latency_flags",
    "latency_metrics",
]

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
        server = step.get("server") or {}
        for note in [
            *(server.get("notes") or []),
            *([server["error"]] if server.get("error") else []),
        ]:
            flags.append(f"{name}: server-side view: {note}")
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


class LatencyConfig(CheckConfig):
    """Options of the latency check (latency under load; see ``docs/load.md``).

    Attributes:
        rates: open-loop target rates, requests per second (latency from the scheduled send).
        concurrency: closed-loop concurrencies.
        batch_size: batch sizes, one worker (in-process models).
        arrivals: ``poisson`` or ``constant`` arrivals in the open loop.
        duration_s: the measured seconds of each level.
        warmup_s: seconds run first at each level and left out.
        max_requests: at most this many measured requests per level.
        timeout_s: a request longer than this is a timeout.
        slo: a service-level objective, e.g. ``p95<800ms,errors<1%``.
        deadline_s: a per-request deadline, for ``deadline_miss_rate``.
        score: score the answers against the dataset's label column (accuracy under load).
    """

    rates: list[float] = Field(default_factory=list)
    concurrency: list[int] = Field(default_factory=list)
    batch_size: list[int] = Field(default_factory=list)
    arrivals: Literal["poisson", "constant"] = "poisson"
    duration_s: float = Field(default=10.0, gt=0)
    warmup_s: float = Field(default=1.0, ge=0)
    max_requests: int | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    slo: str | None = None
    deadline_s: float | None = Field(default=None, gt=0)
    score: bool = False

    def plan(self, seed: int, level: float) -> LoadPlan:
        return LoadPlan(
            rates=tuple(self.rates),
            concurrency=tuple(self.concurrency),
            batch_size=tuple(self.batch_size),
            arrivals=self.arrivals,
            duration_s=self.duration_s,
            warmup_s=self.warmup_s,
            max_requests=self.max_requests,
            timeout_s=self.timeout_s,
            slo=self.slo,
            deadline_s=self.deadline_s,
            confidence=level,
            seed=seed,
        )


@register_check("latency")
class LatencyCheck(Check):
    """How fast is the model under load: percentiles with intervals, SLO, capacity.

    It asks the engine for nothing (a load test must reach the model every time, past the cache):
    it declares its load plan (:class:`DeclaresLoad`), the runner runs it with the load generator
    and hands the measured table to :meth:`score`.
    """

    Config = LatencyConfig

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, LatencyConfig)
        try:
            config.plan(suite.seed, suite.level).check()
        except ConfigError as e:
            raise ConfigError(f"{source}: checks.latency: {e}") from None
        if config.score and suite.data[config.dataset or suite.primary_dataset].label is None:
            raise ConfigError(
                f"{source}: checks.latency.score: the dataset declares no label column to score "
                "the answers against; add `label:` to it or set score: false"
            )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        return list(LATENCY_GATE_PATTERNS)

    def plan(self, ctx: RunContext) -> list[Request]:
        return []

    def load_plan(self, ctx: RunContext) -> LoadPlan:
        assert isinstance(self.config, LatencyConfig)
        return self.config.plan(ctx.seed, ctx.level)

    def load_rows(self, ctx: RunContext) -> tuple[list[Any], list[Any] | None]:
        assert isinstance(self.config, LatencyConfig)
        ds = ctx.dataset(self.config.dataset)
        refs = ds.frame[ds.spec.label].tolist() if self.config.score and ds.spec.label else None
        return list(ds.payloads()), refs

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        assert isinstance(self.config, LatencyConfig)
        table = ctx.load_results.get((self.name, self.model)) or {}
        steps = [table.get(n) or {} for n in table.get("steps") or []]
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ctx.dataset(self.config.dataset).name,
            n=sum(int(s.get("n") or 0) for s in steps),
            metrics=latency_metrics(table),
            tables={"latency": table},
            flags=latency_flags(table),
        )
