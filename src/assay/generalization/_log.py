"""``TrainingLog``: the metric series of one training run, whatever wrote them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Series", "TrainingLog"]


@dataclass(frozen=True)
class Series:
    """One logged metric: values by step, sorted by step, one value per step (the last logged).

    Attributes:
        name: the name as logged (``"eval/loss"``, ``"eval_loss"``, ``"val_loss"``).
        steps: global steps (or epochs when the log has no steps), increasing.
        values: the metric at each step.
    """

    name: str
    steps: np.ndarray
    values: np.ndarray

    @classmethod
    def build(cls, name: str, steps: Any, values: Any) -> Series:
        """Sort by step, keep the last value logged at each step, drop non-finite values."""
        s = np.asarray(steps, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(s) & np.isfinite(v)
        s, v = s[ok], v[ok]
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
        if len(s):
            last = np.r_[s[1:] != s[:-1], True]
            s, v = s[last], v[last]
        return cls(name, s, v)

    def __len__(self) -> int:
        return len(self.steps)

    def describe(self) -> str:
        """``name (n points, steps a–b)`` for messages."""
        if not len(self):
            return f"{self.name} (no points)"
        return f"{self.name} ({len(self)} points, steps {_step(self.steps[0])}–{_step(self.steps[-1])})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "steps": self.steps.tolist(), "values": self.values.tolist()}


@dataclass
class TrainingLog:
    """The series of one run, by name, and where they came from.

    Attributes:
        source: the file, folder or URI read.
        format: ``tensorboard``, ``trainer_state``, ``mlflow``, ``csv`` or ``jsonl``.
        series: metric name → Series.
    """

    source: str
    format: str
    series: dict[str, Series] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.series)

    def describe(self) -> str:
        """Every series with its points and steps, for error messages."""
        return "; ".join(self.series[n].describe() for n in self.names()) or "no metrics"


def _step(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
