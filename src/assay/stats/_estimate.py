"""``Estimate``: a number together with its uncertainty."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Estimate"]


@dataclass(frozen=True)
class Estimate:
    """A metric value with its confidence interval.

    Attributes:
        value: the point estimate on the full data. ``nan`` when undefined.
        lower: lower bound of the interval (``nan`` when no interval could be computed).
        upper: upper bound of the interval.
        level: confidence level of the interval, e.g. ``0.95``.
        method: how the interval was computed, e.g. ``"wilson"``, ``"bootstrap-counts"``,
            ``"delong"``, ``"bootstrap"``, or ``"none"``.
        n: number of examples the value is computed from.

    Example:
        >>> Estimate(0.9, 0.85, 0.94, 0.95, "wilson", 200).contains(0.88)
        True
    """

    value: float
    lower: float
    upper: float
    level: float = 0.95
    method: str = "none"
    n: int = 0

    @property
    def width(self) -> float:
        """Upper minus lower bound."""
        return self.upper - self.lower

    @property
    def defined(self) -> bool:
        """Whether the point value is a number (not NaN)."""
        return not math.isnan(self.value)

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies inside the closed interval."""
        return self.lower <= x <= self.upper

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN becomes ``None``."""
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        """Inverse of :meth:`to_dict`; ``None`` becomes NaN."""

        def num(key: str) -> float:
            v = data.get(key)
            return math.nan if v is None else float(v)

        return cls(
            value=num("value"),
            lower=num("lower"),
            upper=num("upper"),
            level=float(data.get("level", 0.95)),
            method=str(data.get("method", "none")),
            n=int(data.get("n", 0)),
        )

    @classmethod
    def point(cls, value: float, *, n: int = 0, level: float = 0.95) -> Estimate:
        """An estimate with no interval (bounds are NaN, method ``"none"``)."""
        return cls(float(value), math.nan, math.nan, level, "none", n)

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        if not self.defined:
            return "undefined"
        if math.isnan(self.lower):
            return format(self.value, spec)
        return (
            f"{format(self.value, spec)} [{format(self.lower, spec)}, {format(self.upper, spec)}]"
        )
