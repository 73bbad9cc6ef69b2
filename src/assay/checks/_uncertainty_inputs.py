"""What the uncertainty check reads: its options, the calibration/test split it shares with
``compare``, and the probability matrix of a model's answers (rows without probabilities marked);
and the result paths both tasks write (coverage keys, conformal coverage per group)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay._types import Response, canonical_label
from assay.checks._base import CheckConfig, RunContext
from assay.checks._predictions import Predictions
from assay.config._suite import Label
from assay.data._dataset import Dataset
from assay.stats import Estimate
from assay.uncertainty import ConformalResult, coverage_flag

__all__ = [
    "ConformalConfig",
    "OperatingPointConfig",
    "UncertaintyConfig",
    "conformal_groups",
    "conformal_overall",
    "coverage_key",
    "probabilities",
    "regression_uncertainty",
    "split_rows",
]


class ConformalConfig(BaseModel):
    """Split conformal prediction.

    Attributes:
        alpha: the miscoverage allowed: sets should hold the truth for ``1 − alpha`` of rows.
        method: ``lac``, ``aps`` or ``raps`` (classification; default ``aps``); for regression
            ``absolute`` (the default: ``|y − ŷ|``, interval ``ŷ ± q̂``), ``normalized``
            (``|y − ŷ| / spread``, interval ``ŷ ± q̂ · spread``: needs the model's predicted
            spread) or ``quantile`` (CQR: needs predicted quantiles; the levels ``α/2`` and
            ``1 − α/2`` when the model gives them, else its lowest and highest).
        randomized: APS: randomise the calibration scores (as MAPIE does).
        raps_lambda: RAPS: the penalty per class ranked past ``raps_k_reg``.
        raps_k_reg: RAPS: how many top classes go unpenalised.
    """

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=0.1, gt=0, lt=1)
    method: Literal["lac", "aps", "raps", "absolute", "normalized", "quantile"] | None = None
    randomized: bool = False
    raps_lambda: float = Field(default=0.01, ge=0)
    raps_k_reg: int = Field(default=1, ge=0)


class OperatingPointConfig(BaseModel):
    """An operating point: a threshold on one class's probability (give exactly one of the
    four targets).

    Attributes:
        specificity: hold this specificity; report the sensitivity it allows.
        sensitivity: hold this sensitivity; report the specificity.
        recall: hold this recall; report the precision.
        costs: ``{fn: 10, fp: 1}``: the threshold that minimises the cost of errors.
        positive_label: the positive class of a binary classifier (default: the second label).
        per_class: one operating point per class, one-vs-rest (the class against all the
            others, scored by its probability), each with its own threshold: the way to give a
            multiclass classifier operating points. Metric paths gain the class:
            ``operating_point.<class>.sensitivity``.
    """

    model_config = ConfigDict(extra="forbid")

    specificity: float | None = Field(default=None, ge=0, le=1)
    sensitivity: float | None = Field(default=None, ge=0, le=1)
    recall: float | None = Field(default=None, ge=0, le=1)
    costs: dict[Literal["fn", "fp"], float] | None = None
    positive_label: Label | None = None
    per_class: bool = False

    @model_validator(mode="after")
    def _one(self) -> OperatingPointConfig:
        given = [k for k in ("specificity", "sensitivity", "recall", "costs") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of specificity, sensitivity, recall or costs; got "
                + (", ".join(given) or "none")
            )
        if self.costs is not None and set(self.costs) != {"fn", "fp"}:
            raise ValueError("costs needs both fn and fp, e.g. {fn: 10, fp: 1}")
        if self.per_class and self.positive_label is not None:
            raise ValueError(
                "per_class gives every class its own operating point and positive_label picks "
                "one class: give one of them"
            )
        return self

    @property
    def target(self) -> tuple[Literal["specificity", "sensitivity", "recall", "costs"], Any]:
        for k in ("specificity", "sensitivity", "recall"):
            if getattr(self, k) is not None:
                return k, getattr(self, k)
        return "costs", self.costs


class UncertaintyConfig(CheckConfig):
    """Options of the uncertainty check.

    Attributes:
        calibration_split: the fraction of the dataset's rows used as calibration rows (the rest
            are the test rows); ignored when ``calibration_dataset`` is given.
        calibration_dataset: a suite dataset to calibrate on (every row of ``dataset`` is then a
            test row).
        coverage: selective prediction at these coverages (fractions of rows kept).
        confidence: how a row's confidence is read from its probabilities:
            ``max_probability``, ``margin`` or ``negative_entropy``.
        target_risk: find the largest coverage whose risk stays below this: with SGR's
            guarantee (``selective.guaranteed.*``, classifiers; below 1) and without it
            (``selective.at_risk.*``, classifiers and regression, where the risk is in the units
            of ``regression_risk``); omitted: not searched.
        regression_risk: the loss of a regression row in selective prediction:
            ``absolute_error`` (``|y − ŷ|``, in the target's units) or ``squared_error``.
        delta: the guarantee holds with probability ``1 − delta``.
        conformal: split conformal options; ``null`` for none.
        operating_points: a threshold for a binary classifier, or one per class
            (``per_class: true``, one-vs-rest); omitted: none.
        groups: columns to report conformal coverage and calibration per value of (default:
            the dataset's ``groups`` and ``slices``).
        min_n: groups with fewer test rows are reported but not flagged.
        n_bins: bins of the reliability diagram and ECE.
        n_bootstrap: resamples for the calibration metrics' intervals.
    """

    calibration_split: float = Field(default=0.3, gt=0, lt=1)
    calibration_dataset: str | None = None
    coverage: list[float] = Field(default_factory=lambda: [0.8, 0.9, 0.95])
    confidence: Literal["max_probability", "margin", "negative_entropy"] = "max_probability"
    target_risk: float | None = Field(default=None, gt=0)
    regression_risk: Literal["absolute_error", "squared_error"] = "absolute_error"
    delta: float = Field(default=0.05, gt=0, lt=1)
    conformal: ConformalConfig | None = Field(default_factory=ConformalConfig)
    operating_points: OperatingPointConfig | None = None
    groups: list[str] | None = None
    min_n: int = Field(default=30, ge=1)
    n_bins: int = Field(default=10, ge=2)
    n_bootstrap: int = Field(default=200, ge=50)

    @model_validator(mode="after")
    def _coverages(self) -> UncertaintyConfig:
        bad = [c for c in self.coverage if not 0 < c <= 1]
        if bad:
            raise ValueError(f"coverage values must be in (0, 1]; got {bad}")
        return self


def split_rows(ctx: RunContext, n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Calibration and test rows (boolean masks over ``n`` rows): a seeded permutation from the
    stream ``("uncertainty", "*", "split")``, shared by every model and by ``compare``, so that
    two models are fitted and measured on the same rows."""
    n_cal = round(fraction * n)
    perm = ctx.rng("uncertainty", "*", "split").permutation(n)
    cal = np.zeros(n, dtype=bool)
    cal[perm[:n_cal]] = True
    return cal, ~cal


def coverage_key(c: float) -> str:
    """``coverage_0.9``: the path segment of a requested coverage."""
    return f"coverage_{c:g}"


def conformal_overall(
    cr: ConformalResult,
    metrics: dict[str, Estimate],
    tables: dict[str, Any],
    flags: list[str],
    *,
    method: str,
    width: bool = False,
    **table: Any,
) -> None:
    """Conformal coverage and size on the test rows into ``metrics`` (``conformal.coverage`` /
    ``.size``, and ``.width`` for intervals), ``tables["conformal"]`` (the method, the fitted
    quantile, ``table``'s entries, and an empty ``groups`` list for :func:`conformal_groups`) and,
    where coverage falls short of nominal, a flag."""
    metrics["conformal.coverage"] = cr.coverage
    metrics["conformal.size"] = cr.size
    if width:
        metrics["conformal.width"] = cr.size
    tables["conformal"] = {
        "method": method,
        "alpha": cr.alpha,
        "nominal": cr.nominal,
        "quantile": cr.quantile,
        "n_calibration": cr.n_calibration,
        **table,
        "groups": [],
    }
    flag = coverage_flag(cr)
    if flag:
        flags.append(flag)


def conformal_groups(
    cr: ConformalResult,
    groups: Mapping[str, np.ndarray],
    metrics: dict[str, Estimate],
    tables: dict[str, Any],
    *,
    level: float,
    width: bool = False,
) -> dict[str, Estimate]:
    """Conformal coverage and size of each group (a mask over the test rows) into ``metrics``
    (``conformal.groups.<group>.coverage`` / ``.size``, and ``.width`` for intervals) and
    ``tables["conformal"]["groups"]``; returns each group's coverage."""
    out: dict[str, Estimate] = {}
    for g_name, mask in groups.items():
        cov, size = cr.subset(mask, level=level)
        metrics[f"conformal.groups.{g_name}.coverage"] = cov
        metrics[f"conformal.groups.{g_name}.size"] = size
        if width:
            metrics[f"conformal.groups.{g_name}.width"] = size
        tables["conformal"]["groups"].append(
            {
                "group": g_name,
                "n": int(mask.sum()),
                "coverage": cov.to_dict(),
                "size": size.to_dict(),
            }
        )
        out[g_name] = cov
    return out


def probabilities(
    ctx: RunContext,
    model: str,
    ds: Dataset,
    responses: Mapping[str, Response],
    pred: Predictions,
    labels: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """The probability matrix over ``pred``'s rows (columns in ``labels`` order) and which rows
    have probabilities. When every answer had them, they are ``pred.proba``; when only some did,
    the others are marked missing (and skipped) instead of dropping the probabilities of all."""
    n = pred.n
    if pred.proba is not None:
        return np.asarray(pred.proba, dtype=np.float64), np.ones(n, dtype=bool)
    by_id = {}
    for req in ctx.original_requests(model, ds):
        resp = responses.get(req.key)
        if resp is not None and resp.ok and resp.output is not None:
            by_id[req.tags["example_id"]] = resp.output.probabilities
    proba = np.zeros((n, len(labels)))
    has = np.zeros(n, dtype=bool)
    for r, i in enumerate(pred.ids):
        probs = by_id.get(i)
        if not probs:
            continue
        named = {canonical_label(k): float(v) for k, v in probs.items()}
        row = np.array([named.get(lbl, 0.0) for lbl in labels])
        if not set(named) <= set(labels) or row.sum() <= 0:
            continue
        proba[r] = row / row.sum()
        has[r] = True
    return proba, has


def regression_uncertainty(
    ctx: RunContext,
    model: str,
    ds: Dataset,
    responses: Mapping[str, Response],
    pred: Predictions,
) -> tuple[np.ndarray, dict[str, dict[float, float]]]:
    """Per row of ``pred``, the predicted spread (NaN where the answer had none) and, by id,
    the predicted quantiles of the answers that had them."""
    by_id = {}
    for req in ctx.original_requests(model, ds):
        resp = responses.get(req.key)
        if resp is not None and resp.ok and resp.output is not None:
            by_id[req.tags["example_id"]] = resp.output
    spread = np.full(pred.n, np.nan)
    quantiles: dict[str, dict[float, float]] = {}
    for r, i in enumerate(pred.ids):
        out = by_id.get(i)
        if out is None:
            continue
        if out.spread is not None:
            spread[r] = out.spread
        if out.quantiles:
            quantiles[i] = {float(k): float(v) for k, v in out.quantiles.items()}
    return spread, quantiles
