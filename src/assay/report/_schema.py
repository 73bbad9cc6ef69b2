"""The Report: versioned JSON that every sink reads, and nothing else."""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from assay.errors import ReportError
from assay.report._notebook import notebook_html
from assay.stats._estimate import Estimate

#: The columns of ``Report.to_frame()`` and ``CheckResult.to_frame()``, in order.
FRAME_COLUMNS = (
    "check",
    "model",
    "dataset",
    "path",
    "metric",
    "slice",
    "value",
    "lower",
    "upper",
    "level",
    "n",
    "method",
)

__all__ = [
    "FRAME_COLUMNS",
    "SCHEMA_VERSION",
    "CheckResult",
    "ErrorSummary",
    "GateOutcome",
    "Report",
]

#: Bump the major part on any change that old readers cannot read. 1.1: the performance check keeps
#: per-example predictions (table ``per_example``) for paired comparisons; 1.0 reports still load.
SCHEMA_VERSION = "1.1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="null")


class ErrorSummary(_Model):
    """Failed model calls behind one check result, and how they were treated.

    Counted in *rows*: ``n_requests`` is the rows (examples) the check asked about, ``n_errors``
    those whose model call failed after retries. A row counts in every check that scores it, and
    rows sharing an input share one call: the report's ``engine.n_errors`` counts distinct failed
    calls. ``examples`` holds the first few failed rows (id and error); ``n_errors`` is the total,
    and the renderers say "showing k of n" when they are fewer.

    ``treatment`` is ``exclude`` (the examples are left out of every metric and counted here) or
    ``wrong`` (they count as wrong answers).
    """

    n_requests: int = 0
    n_errors: int = 0
    treatment: Literal["exclude", "wrong"] = "exclude"
    examples: list[dict[str, str]] = Field(default_factory=list)


class CheckResult(_Model):
    """What one check found for one model on one dataset.

    Attributes:
        check: the check's registered name (``"performance"``); first part of gate paths.
        model: the model's name in the suite.
        dataset: the dataset's name in the suite.
        n: examples scored.
        metrics: flat, dot-separated metric paths → Estimate. Gate paths are
            ``<check>.<metric path>[.value|.lower|.upper]``.
        tables: data for renderers (confusion matrix, curve points, reliability bins, per-slice
            rows), JSON-ready. Keys are documented by each check.
        examples: a few illustrative rows (failures, unparseable outputs).
        flags: human-readable findings (``"slice genre=horror is significantly worse"``).
        errors: failed model calls and how they were treated.
    """

    check: str
    model: str
    dataset: str
    n: int
    metrics: dict[str, Estimate] = Field(default_factory=dict)
    tables: dict[str, Any] = Field(default_factory=dict)
    examples: list[dict[str, Any]] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    errors: ErrorSummary = Field(default_factory=ErrorSummary)

    @field_validator("metrics", mode="before")
    @classmethod
    def _estimates(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: Estimate.from_dict(e) if isinstance(e, dict) else e for k, e in v.items()}
        return v

    @field_serializer("metrics")
    def _dump_estimates(self, v: dict[str, Estimate]) -> dict[str, Any]:
        return {k: e.to_dict() for k, e in v.items()}

    def to_frame(self) -> pd.DataFrame:
        """Every Estimate of this result as one row of a tidy DataFrame.

        Columns: ``check``, ``model``, ``dataset``, ``path`` (the metric path, as in gates),
        ``metric`` (its last part), ``slice`` (the parts between: a slice, group, class,
        perturbation or sub-result such as ``genre.horror``; empty for the headline metrics),
        ``value``, ``lower``, ``upper``, ``level``, ``n``, ``method``. Undefined values are NaN.

        Example:
            >>> r = CheckResult(check="performance", model="m", dataset="test", n=10,
            ...                 metrics={"accuracy": Estimate(0.9, 0.6, 0.98, 0.95, "wilson", 10)})
            >>> r.to_frame()[["metric", "slice", "value", "lower"]].to_dict("records")
            [{'metric': 'accuracy', 'slice': '', 'value': 0.9, 'lower': 0.6}]
        """
        rows = []
        for path, e in self.metrics.items():
            head, _, metric = path.rpartition(".")
            rows.append(
                {
                    "check": self.check,
                    "model": self.model,
                    "dataset": self.dataset,
                    "path": path,
                    "metric": metric,
                    "slice": head,
                    "value": e.value,
                    "lower": e.lower,
                    "upper": e.upper,
                    "level": e.level,
                    "n": e.n,
                    "method": e.method,
                }
            )
        return pd.DataFrame(rows, columns=list(FRAME_COLUMNS))


class GateOutcome(_Model):
    """One gate's verdict, with the evidence."""

    gate: str
    passed: bool
    observed: float | None = None
    threshold: float
    detail: str = ""
    matches: list[dict[str, Any]] = Field(default_factory=list)


class Report(_Model):
    """Everything one run found, and what is needed to reproduce it.

    Read it back with :meth:`Report.load`; render it with the sinks in :mod:`assay.report`.
    """

    schema_version: str = SCHEMA_VERSION
    assay_version: str
    suite_name: str
    suite: dict[str, Any]
    created_at: str
    duration_s: float
    seed: int
    level: float
    datasets: list[dict[str, Any]]
    models: list[dict[str, Any]]
    environment: dict[str, Any]
    engine: dict[str, Any] = Field(default_factory=dict)
    results: list[CheckResult] = Field(default_factory=list)
    gates: list[GateOutcome] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every gate passed (``True`` when there are no gates)."""
        return all(g.passed for g in self.gates)

    def result(self, check: str, model: str | None = None) -> CheckResult:
        """The result of ``check`` for ``model`` (the first model with one when omitted).

        Raises:
            ReportError: no such result; the message lists the checks (or the models) that have
                one and the closest name.
        """
        found = self.find(check, model)
        if found is not None:
            return found
        checks = sorted({r.check for r in self.results})
        if check not in checks:
            close = difflib.get_close_matches(check, checks, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ReportError(
                f"no {check!r} result in this report{hint} (checks: {', '.join(checks) or 'none'})"
            )
        models = [r.model for r in self.results if r.check == check]
        close = difflib.get_close_matches(str(model), models, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ReportError(
            f"no {check!r} result for model {model!r}{hint} (models with one: {', '.join(models)})"
        )

    def find(self, check: str, model: str | None = None) -> CheckResult | None:
        """The result of ``check`` for ``model`` (the first when omitted), or ``None``."""
        for r in self.results:
            if r.check == check and (model is None or r.model == model):
                return r
        return None

    def to_frame(self, check: str | None = None) -> pd.DataFrame:
        """Every Estimate in the report (or in ``check``'s results) as a tidy DataFrame, one row
        per metric, model and slice; see :meth:`CheckResult.to_frame` for the columns."""
        if check is not None:
            self.result(check)  # an unknown check raises with the closest name
        frames = [r.to_frame() for r in self.results if check is None or r.check == check]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=list(FRAME_COLUMNS))
        return pd.concat(frames, ignore_index=True)

    def _repr_html_(self) -> str:
        """A short summary for Jupyter: verdict, findings, gates and headline metrics."""
        return notebook_html(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.model_dump_json(indent=indent)

    def save(self, path: str | Path) -> Path:
        """Write the Report as JSON (UTF-8) and return the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.to_json(), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> Report:
        """Read a Report written by :meth:`save`.

        Raises:
            ReportError: the file is missing, not JSON, or of another major schema version.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ReportError(f"{p}: no such report file") from None
        except json.JSONDecodeError as e:
            raise ReportError(f"{p}: not a JSON report ({e.msg} at line {e.lineno})") from None
        version = str(data.get("schema_version", "")) if isinstance(data, dict) else ""
        if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ReportError(
                f"{p}: schema_version {version or '(missing)'} is not readable by this assay "
                f"(reads {SCHEMA_VERSION.split('.')[0]}.x); re-run the suite with this version"
            )
        try:
            return cls.model_validate(data)
        except Exception as e:  # pydantic's message lists the bad fields
            raise ReportError(f"{p}: not a valid assay report: {e}") from None


def finite_or_none(x: float | None) -> float | None:
    """NaN/inf → None, for JSON."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return x
