"""What a load test runs: the levels, how long, the SLO and the deadline (no model here: the
generator that runs a plan is ``assay._runner._load``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from assay.errors import ConfigError
from assay.load._slo import SLO, parse_slo

__all__ = ["LoadPlan", "Mode"]

#: A sweep's kind: open-loop rates, closed-loop concurrencies, or batch sizes.
Mode = Literal["rate", "concurrency", "batch_size"]


@dataclass(frozen=True)
class LoadPlan:
    """What to run. Each sweep is run in turn, each level for ``warmup_s + duration_s``.

    Attributes:
        rates: open-loop target rates (requests/s).
        concurrency: closed-loop concurrencies.
        batch_size: batch sizes (one worker; in-process models).
        arrivals: ``"poisson"`` (exponential gaps) or ``"constant"`` for the open loop.
        duration_s: the measured part of each level.
        warmup_s: the first seconds of each level, run and left out of the figures.
        max_requests: at most this many measured requests per level (``None``: the duration
            alone bounds it).
        timeout_s: a request longer than this is a timeout.
        slo: ``"p95<800ms,errors<1%"`` (:func:`assay.load.parse_slo`).
        deadline_s: a declared deadline, for the deadline miss rate.
        confidence: the level of every interval.
        seed: which inputs each level draws from the data.
        max_workers: threads sending to an in-process model in the open loop.
    """

    rates: tuple[float, ...] = ()
    concurrency: tuple[int, ...] = ()
    batch_size: tuple[int, ...] = ()
    arrivals: Literal["poisson", "constant"] = "poisson"
    duration_s: float = 30.0
    warmup_s: float = 1.0
    max_requests: int | None = None
    timeout_s: float = 60.0
    slo: str | None = None
    deadline_s: float | None = None
    confidence: float = 0.95
    seed: int = 0
    max_workers: int = 64

    def levels(self) -> list[tuple[Mode, float]]:
        out: list[tuple[Mode, float]] = [("rate", float(r)) for r in self.rates]
        out += [("concurrency", float(c)) for c in self.concurrency]
        out += [("batch_size", float(b)) for b in self.batch_size]
        return out

    def check(self) -> SLO | None:
        """Validate; return the parsed SLO. Raises ConfigError naming the option and the fix."""
        if not self.levels():
            raise ConfigError(
                "load: no load levels; give --rate (open loop, requests/s), --concurrency "
                "(closed loop) or --batch-size (in-process models)"
            )
        for name, values in (
            ("rate", self.rates),
            ("concurrency", self.concurrency),
            ("batch-size", self.batch_size),
        ):
            bad = [v for v in values if not (v > 0 and math.isfinite(v))]
            if bad:
                raise ConfigError(f"--{name}: {bad[0]} is not a positive number")
        if self.arrivals not in ("poisson", "constant"):
            raise ConfigError(f"--arrivals: {self.arrivals!r} is not poisson or constant")
        if not self.duration_s > 0:
            raise ConfigError(f"--duration: {self.duration_s} s is not positive")
        if self.warmup_s < 0:
            raise ConfigError(f"--warmup: {self.warmup_s} s is negative")
        if not self.timeout_s > 0:
            raise ConfigError(f"--timeout: {self.timeout_s} s is not positive")
        if self.deadline_s is not None and not self.deadline_s > 0:
            raise ConfigError(f"--deadline: {self.deadline_s} s is not positive")
        return parse_slo(self.slo) if self.slo else None
