"""The ``zero_division`` policy: what to do when a metric is undefined (a zero denominator)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Literal

from assay.errors import MetricError, UndefinedMetricWarning

__all__ = ["ZeroDivision", "check_zero_division", "report_undefined"]

ZeroDivision = Literal["warn", "nan", "raise"]
_ALLOWED = ("warn", "nan", "raise")


def check_zero_division(zero_division: str) -> ZeroDivision:
    """Validate a ``zero_division`` argument."""
    if zero_division not in _ALLOWED:
        raise MetricError(
            f"zero_division must be one of {_ALLOWED}; got {zero_division!r}. "
            "Use 'warn' (NaN plus UndefinedMetricWarning), 'nan' (NaN, silent) or 'raise'."
        )
    return zero_division  # type: ignore[return-value]


def report_undefined(messages: Iterable[str], zero_division: ZeroDivision) -> None:
    """Apply the policy to a list of "metric X is undefined because Y" messages.

    ``"raise"`` raises ``MetricError`` with the first message; ``"warn"`` emits one
    ``UndefinedMetricWarning`` listing them all; ``"nan"`` does nothing (values are already NaN).
    """
    msgs = list(messages)
    if not msgs or zero_division == "nan":
        return
    if zero_division == "raise":
        raise MetricError(msgs[0] + " (zero_division='raise'; use 'warn' or 'nan' to get NaN)")
    shown = "; ".join(msgs[:10]) + (f"; and {len(msgs) - 10} more" if len(msgs) > 10 else "")
    warnings.warn(
        f"undefined metrics set to NaN: {shown}", UndefinedMetricWarning, stacklevel=3
    )
