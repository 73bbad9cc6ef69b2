"""The exceptions assay raises.

Every error assay raises on purpose is an ``AssayError``. The tree::

    AssayError
    ├── ConfigError (ValueError)        the suite file or an argument is wrong; names the YAML path
    ├── DataError (ValueError)          a dataset cannot be read or fails validation; names file/row/column
    ├── ModelError                      a model cannot be loaded or answered badly; ``model_wide``
    │   │                               names a cause that fails every call (401, 404, unreachable)
    │   ├── MissingDependencyError (ImportError)   an optional extra is not installed; names it
    │   ├── TrustRequiredError          loading would execute code (pickle/joblib) without --trust
    │   ├── RetryableModelError         a transient failure (rate limit, timeout, unreachable); the engine retries it
    │   └── PartialBatchError           some inputs of a batch failed; carries each input's answer or error
    ├── MetricError (ValueError)        metric inputs are invalid, or undefined under zero_division="raise"
    └── ReportError (ValueError)        a report file is unreadable or of an unknown schema version

Warnings:

    AssayWarning (UserWarning)
    └── UndefinedMetricWarning          a metric is undefined (zero denominator) and became NaN

Messages say where the problem is, what was found, what is allowed and how to fix it. They never
contain secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "AssayError",
    "AssayWarning",
    "ConfigError",
    "DataError",
    "MetricError",
    "MissingDependencyError",
    "ModelError",
    "PartialBatchError",
    "ReportError",
    "RetryableModelError",
    "TrustRequiredError",
    "UndefinedMetricWarning",
]


class AssayError(Exception):
    """Base class of every error assay raises on purpose."""


class ConfigError(AssayError, ValueError):
    """The suite or an argument is invalid. The message names the YAML path or parameter."""


class DataError(AssayError, ValueError):
    """A dataset cannot be read or fails validation. The message names file, row and column."""


class ModelError(AssayError):
    """A model cannot be loaded, or it answered with something assay cannot use.

    Attributes:
        model_wide: a short name of the cause (``"HTTP 401"``, ``"connection refused"``,
            ``"DNS lookup failed"``) when the failure is the model's or its endpoint's, not one
            input's: every call fails the same way until the user fixes it. ``None`` otherwise.
            The engine stops a run whose first calls fail this way (see
            :func:`assay._util._retry.model_wide_cause`).
        fix: what the user should do about it, when the adapter knows
            (``"check the API key in ASSAY_OPENAI_API_KEY"``).
    """

    def __init__(self, *args: object, model_wide: str | None = None, fix: str | None = None):
        super().__init__(*args)
        self.model_wide = model_wide
        self.fix = fix


class MissingDependencyError(ModelError, ImportError):
    """An optional dependency is missing. The message names the pip extra to install."""


class TrustRequiredError(ModelError):
    """Loading the model would execute code from a file (pickle/joblib) and trust was not given."""


class RetryableModelError(ModelError):
    """A transient model failure (rate limit, timeout, 5xx). The engine retries these."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        model_wide: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message, model_wide=model_wide, fix=fix)
        self.retry_after_s = retry_after_s


class PartialBatchError(ModelError):
    """Some inputs of a batch were answered and some failed.

    A model whose batch is many independent calls (``openai:``) raises it from ``predict`` instead
    of failing the whole batch: ``results`` holds, for each input in order, its ``Output`` or the
    exception it failed with. The engine keeps the answers, retries the inputs whose exception is
    transient (:class:`RetryableModelError`) and records the others as errors, so no answered
    input is asked twice.
    """

    def __init__(self, message: str, *, results: Sequence[object]) -> None:
        super().__init__(message)
        self.results = list(results)


class MetricError(AssayError, ValueError):
    """Metric inputs are invalid, or a metric is undefined under ``zero_division="raise"``."""


class ReportError(AssayError, ValueError):
    """A report file cannot be read, or has a schema version this assay does not know."""


class AssayWarning(UserWarning):
    """Base class of assay's warnings."""


class UndefinedMetricWarning(AssayWarning):
    """A metric is undefined for these inputs (a zero denominator) and is reported as NaN."""
