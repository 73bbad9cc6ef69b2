"""Capacity: throughput against offered load, the saturation knee, the highest load meeting the SLO.

- **Knee**: the last level before the throughput stops following the load. Open loop: the level
  before the first whose answered rate fell below 90% of the rate its requests were scheduled
  at (the realised arrival rate, not the nominal one: Poisson arrivals over a short run differ
  from the target by chance) *and* whose median latency is more than twice the lowest level's
  (a queue is building; a short run's answered rate alone also drops while the last answers
  drain, which is not saturation). Closed loop and batch sizes: the first step ``i → i+1`` where the
  relative throughput gain is below half the relative load increase,
  ``(T[i+1] - T[i]) / T[i] < 0.5 (L[i+1] - L[i]) / L[i]``; the knee is ``L[i]``. ``None`` when
  the throughput kept up at every level tried (the knee lies beyond them).
- **Highest load meeting the SLO**: the largest level whose step met every SLO term (point values),
  with the p95 latency's interval at that level, so a reader sees how sure it is; ``None`` when no
  level met it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.load._summary import StepSummary
from assay.stats import Estimate

__all__ = ["Capacity", "capacity"]

_GAIN_SHARE = 0.5
_KEEP_UP = 0.9
_QUEUED = 2.0


def _p50(step: StepSummary) -> float:
    est = step.latency_ms.get("p50")
    return est.value if est is not None else float("nan")


@dataclass(frozen=True)
class Capacity:
    """The capacity view of a sweep (see the module docstring for the definitions).

    Attributes:
        mode: ``"rate"``, ``"concurrency"`` or ``"batch_size"``.
        levels / throughput_rps: the curve, in the order of increasing level.
        knee: the saturation knee (a level), ``None`` when none was reached.
        max_level_at_slo: the highest level meeting the SLO (``None``: none did, or no SLO).
        max_rps_at_slo: the throughput achieved at that level.
        p95_ms_at_slo: p95 latency with its interval at that level.
    """

    mode: str
    levels: tuple[float, ...]
    throughput_rps: tuple[float, ...]
    knee: float | None
    max_level_at_slo: float | None
    max_rps_at_slo: float | None
    p95_ms_at_slo: Estimate | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "levels": list(self.levels),
            "throughput_rps": list(self.throughput_rps),
            "knee": self.knee,
            "max_level_at_slo": self.max_level_at_slo,
            "max_rps_at_slo": self.max_rps_at_slo,
            "p95_ms_at_slo": None if self.p95_ms_at_slo is None else self.p95_ms_at_slo.to_dict(),
        }


def capacity(steps: Sequence[StepSummary]) -> Capacity:
    """The capacity view of the steps of one sweep (one mode).

    Example:
        >>> from assay.load._summary import summarize_step
        >>> from assay.load._samples import Sample
        >>> def step(rate, most=22):  # a server that answers at most 22 requests a second
        ...     s = [Sample(i / rate, i / rate, max(i / rate, i / most) + 0.01, "ok")
        ...          for i in range(rate)]
        ...     return summarize_step(s, mode="rate", level=rate)
        >>> capacity([step(10), step(20), step(40)]).knee
        20.0
    """
    ordered = sorted(steps, key=lambda s: s.level)
    levels = tuple(s.level for s in ordered)
    tput = tuple(s.throughput_rps for s in ordered)
    knee = None
    if ordered and ordered[0].mode == "rate":
        base = _p50(ordered[0])
        for i, step in enumerate(ordered):
            queued = _p50(step) > _QUEUED * base
            if step.throughput_rps < _KEEP_UP * step.offered_rps and queued:
                knee = levels[i - 1] if i > 0 else None
                break
    else:
        for i in range(len(ordered) - 1):
            gain = (tput[i + 1] - tput[i]) / tput[i] if tput[i] > 0 else 0.0
            more = (levels[i + 1] - levels[i]) / levels[i]
            if gain < _GAIN_SHARE * more:
                knee = levels[i]
                break
    meeting = [s for s in ordered if s.meets_slo]
    best = meeting[-1] if meeting else None
    return Capacity(
        mode=ordered[0].mode if ordered else "",
        levels=levels,
        throughput_rps=tput,
        knee=knee,
        max_level_at_slo=None if best is None else best.level,
        max_rps_at_slo=None if best is None else best.throughput_rps,
        p95_ms_at_slo=None if best is None else best.latency_ms.get("p95"),
    )
