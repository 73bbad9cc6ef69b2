"""The drift check: is the check's dataset (current) still like a reference dataset?

``reference`` names a dataset of the suite, or a file read with the current dataset's column roles.
Every column of both (less the id column and ``exclude``) is compared by
:func:`assay.drift.detect_drift`; the label column is label drift. The model answers the rows of
both datasets once (the engine caches them), so its predicted labels (and, for two classes, the
probability of the second label) are compared too: prediction drift. A model that answers only by
id (a predictions file) gets no prediction drift on a reference it has no answers for: said in a
flag, not silently skipped.

Metric paths (gates): ``share_drifted`` (an exact share of the tested feature columns, bounds equal
to it), ``n_drifted``, ``n_untested``, ``drifted`` (1 or 0), ``columns.<column>.<statistic>``
(``statistic``, ``p_value``, ``p_adjusted``, ``effect_size``, ``drifted`` and every distance of the
column's kind: ``ks``, ``wasserstein``, ``psi``, ``jensenshannon``, ``energy``, ``cramers_v``),
``quality.<column>.<rate>`` (``missing_rate``, ``missing_change``, ``new_category_rate``,
``out_of_range_rate``, ``non_finite_rate``, ``unreadable_rate``), ``duplicates.rate`` and, with
windows, ``windows.n_drifted`` and ``windows.max_share_drifted``. A column name's dots become
underscores in paths. The whole result is ``tables["drift"]`` (:meth:`DriftResult.to_dict`).

Performance without labels: when the model gives probabilities for two classes, CBPE estimates
its performance on the current data per window (``assay.checks._drift_performance``: paths
``estimated.<metric>``, ``realised.<metric>``, ``windows.worst_estimated.<metric>``,
``windows.worst_realised.<metric>``, ``performance.n_alerts``; ``tables["performance"]``).
``estimate_performance: false`` turns it off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from assay._types import Request, Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._drift_performance import (
    ESTIMATION_ERRORS,
    PERFORMANCE_GATE_PATTERNS,
    PerformanceInputs,
    estimate_window_performance,
    not_computed,
    performance_flags,
    performance_inputs,
    performance_metrics,
    performance_table,
)
from assay.checks._performance import gather
from assay.checks._predictions import Predictions
from assay.config._suite import Suite
from assay.data import Dataset, load_dataset
from assay.drift import DriftResult, detect_drift, tumbling_windows
from assay.errors import ConfigError
from assay.report._schema import CheckResult
from assay.stats._estimate import Estimate

__all__ = ["DRIFT_GATE_PATTERNS", "DriftCheck", "DriftConfig", "drift_flags", "drift_metrics"]

#: The name a reference read from a file gets among the run's datasets (and in the Report).
REFERENCE_NAME = "drift_reference"
_COLUMN_STATS = (
    "statistic",
    "p_value",
    "p_adjusted",
    "effect_size",
    "drifted",
    "ks",
    "wasserstein",
    "energy",
    "psi",
    "jensenshannon",
    "cramers_v",
)
_QUALITY_RATES = (
    "missing_rate",
    "missing_change",
    "new_category_rate",
    "out_of_range_rate",
    "non_finite_rate",
    "unreadable_rate",
)

#: The metric paths a drift result has (``*``: a column name, dots as underscores).
DRIFT_GATE_PATTERNS: tuple[str, ...] = (
    "share_drifted",
    "n_drifted",
    "n_untested",
    "drifted",
    "duplicates.rate",
    "windows.n_drifted",
    "windows.max_share_drifted",
    *(f"columns.*.{s}" for s in _COLUMN_STATS),
    *(f"quality.*.{s}" for s in _QUALITY_RATES),
)


class DriftConfig(CheckConfig):
    """Options of the drift check.

    Attributes:
        reference: a dataset of the suite, or a file (CSV, JSONL, Parquet …; relative to the
            suite) read with the current dataset's column roles.
        columns: the columns to compare (default: all but the id column).
        exclude: columns left out (ids, free text you do not want embedded).
        predictions: compare the model's predictions on both datasets (prediction drift).
        methods: one method for every column, or one per column (see ``assay.drift``).
        thresholds: a statistic threshold per column, or ``reference`` to learn them.
        alpha: the level of p-value tests after the correction.
        correction: ``bh`` (Benjamini–Hochberg), ``bonferroni`` or ``none``.
        drift_share: the dataset drifts when at least this share of feature columns drift.
        max_categories: more levels than this are pooled.
        text: columns to compare as text (MiniLM embeddings, MMD); others are detected.
        window_size: tumbling windows of this many current rows.
        time_column, every: tumbling windows by time (``every``: ``1D``, ``7D``, ``MS`` …).
        estimate_performance: for a binary classifier with probabilities, estimate its
            accuracy, precision, recall, F1 and ROC AUC on the current data per window without
            labels (CBPE, calibrated on the reference), beside the realised values.
    """

    reference: str
    columns: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    predictions: bool = True
    methods: str | dict[str, str] = "auto"
    thresholds: dict[str, float] | Literal["reference"] | None = None
    alpha: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["bh", "bonferroni", "none"] = "bh"
    drift_share: float = Field(default=0.5, gt=0, le=1)
    max_categories: int = Field(default=1000, ge=2)
    text: list[str] = Field(default_factory=list)
    window_size: int | None = Field(default=None, gt=0)
    time_column: str | None = None
    every: str | None = None
    estimate_performance: bool = True


def _seg(name: str) -> str:
    return str(name).replace(".", "_").strip() or "(empty)"


@register_check("drift")
class DriftCheck(Check):
    """Does today's data (and the model's answers on it) still look like the reference?"""

    Config = DriftConfig

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, DriftConfig)
        if (config.time_column is None) != (config.every is None):
            raise ConfigError(
                f"{source}: checks.drift: time_column and every go together "
                "(e.g. time_column: date, every: 7D)"
            )
        if config.reference in suite.data:
            return
        path = suite.resolve(config.reference)
        if not path.exists():
            raise ConfigError(
                f"{source}: checks.drift.reference: {config.reference!r} is neither a dataset of "
                f"the suite ({', '.join(suite.data)}) nor a file ({path} does not exist); name a "
                "dataset under `data:` or give the path of the reference data"
            )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, DriftConfig)
        extra = PERFORMANCE_GATE_PATTERNS if config.estimate_performance else ()
        return [*DRIFT_GATE_PATTERNS, *extra]

    def _reference(self, ctx: RunContext) -> Dataset:
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        if cfg.reference in ctx.datasets:
            return ctx.datasets[cfg.reference]
        if REFERENCE_NAME not in ctx.datasets:
            current = ctx.dataset(cfg.dataset)
            spec = current.spec.model_copy(update={"path": cfg.reference, "limit": None})
            ctx.datasets[REFERENCE_NAME] = load_dataset(
                spec, name=REFERENCE_NAME, base_dir=Path(ctx.suite.base_dir)
            )
        return ctx.datasets[REFERENCE_NAME]

    def _reference_name(self, ctx: RunContext) -> str:
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        return cfg.reference if cfg.reference in ctx.datasets else REFERENCE_NAME

    def _predicts_reference(self, ctx: RunContext) -> bool:
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        return cfg.predictions and not ctx.answers_by_id(self.model)

    def plan(self, ctx: RunContext) -> list[Request]:
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        reference = self._reference(ctx)
        requests = ctx.original_requests(self.model, ctx.dataset(cfg.dataset))
        if self._predicts_reference(ctx):
            requests += ctx.original_requests(self.model, reference)
        return requests

    def _frames(
        self, ctx: RunContext, responses: Mapping[str, Response], flags: list[str]
    ) -> _Frames:
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        current, reference = ctx.dataset(cfg.dataset), self._reference(ctx)
        drop = [c for c in {current.spec.id, *cfg.exclude} if c]
        ref = reference.frame.drop(columns=[c for c in drop if c in reference.frame.columns])
        cur = current.frame.drop(columns=[c for c in drop if c in current.frame.columns])
        roles: dict[str, Any] = {}
        label = current.spec.label
        if label and label in ref.columns and label in cur.columns:
            roles["label"] = label
        n_scored = len(cur)
        performance: PerformanceInputs | str = (
            "the drift check's predictions option is off"
            if not cfg.predictions
            else f"model {self.model!r} gives no class probabilities, or the task does not have "
            "exactly two labels (CBPE is for binary classifiers)"
        )
        if cfg.predictions and self._predicts_reference(ctx):
            p_ref = gather(ctx, self.model, self._reference_name(ctx), responses)
            p_cur = (
                gather(ctx, self.model, cfg.dataset, responses)
                if current.spec.label is not None
                else _unlabelled(ctx, self.model, current, responses, like=p_ref)
            )
            flags.extend(f"current: {f}" for f in p_cur.flags)
            flags.extend(f"reference: {f}" for f in p_ref.flags)
            n_scored = p_cur.n
            cur = cur.assign(prediction=pd.Series(list(p_cur.y_pred), index=p_cur.ids))
            ref = ref.assign(prediction=pd.Series(list(p_ref.y_pred), index=p_ref.ids))
            roles["prediction"] = "prediction"
            if (
                p_cur.task == "classification"
                and p_cur.proba is not None
                and p_ref.proba is not None
                and len(p_cur.labels) == 2
            ):
                name = f"probability_{p_cur.labels[1]}"
                cur[name] = pd.Series(np.asarray(p_cur.proba)[:, 1], index=p_cur.ids)
                ref[name] = pd.Series(np.asarray(p_ref.proba)[:, 1], index=p_ref.ids)
                roles["probabilities"] = [name]
                performance, n_dropped = performance_inputs(
                    ref,
                    cur,
                    ref_labels=pd.Series(list(p_ref.y_true), index=p_ref.ids).reindex(ref.index),
                    cur_labels=pd.Series(list(p_cur.y_true), index=p_cur.ids).reindex(cur.index),
                    probability=name,
                    positive_label=p_cur.labels[1],
                )
                if n_dropped:
                    flags.append(
                        f"performance estimate: {n_dropped} reference rows had no label, "
                        "probability or prediction and were left out of the calibration"
                    )
        elif cfg.predictions:
            flags.append(
                f"no prediction drift: model {self.model!r} answers by id only and cannot answer "
                "the reference rows"
            )
            performance = f"model {self.model!r} answers by id only and cannot answer the reference"
        return _Frames(
            ref.reset_index(drop=True), cur.reset_index(drop=True), roles, n_scored, performance
        )

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        flags: list[str] = []
        frames = self._frames(ctx, responses, flags)
        ref, cur, roles = frames.reference, frames.current, frames.roles
        columns = cfg.columns
        if columns is not None and "prediction" in roles:
            columns = [*columns, *([] if "prediction" in columns else ["prediction"])]
        try:
            result = detect_drift(
                ref,
                cur,
                columns=columns,
                prediction=roles.get("prediction"),
                probabilities=roles.get("probabilities"),
                label=roles.get("label"),
                text=cfg.text or None,
                methods=cfg.methods,  # type: ignore[arg-type]
                thresholds=cfg.thresholds,
                alpha=cfg.alpha,
                correction=cfg.correction,
                drift_share=cfg.drift_share,
                max_categories=cfg.max_categories,
                window_size=cfg.window_size,
                time_column=cfg.time_column,
                every=cfg.every,
                seed=self.rng(ctx, "drift", shared=True),
            )
        except ConfigError as exc:
            raise ConfigError(f"checks.drift: {exc}") from None
        flags.extend(drift_flags(result))
        metrics = drift_metrics(result)
        tables: dict[str, Any] = {"drift": result.to_dict(), "reference": self._reference_name(ctx)}
        if cfg.estimate_performance:
            self._estimate(ctx, frames, metrics, tables, flags)
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ctx.dataset(cfg.dataset).name,
            n=frames.n_scored,
            metrics=metrics,
            tables=tables,
            flags=flags,
        )

    def _estimate(
        self,
        ctx: RunContext,
        frames: _Frames,
        metrics: dict[str, Estimate],
        tables: dict[str, Any],
        flags: list[str],
    ) -> None:
        """CBPE per window (the drift tests' windows) and on all current rows, into the result;
        where it cannot run, the reason goes to the flags and ``not_computed``."""
        cfg = self.config
        assert isinstance(cfg, DriftConfig)
        inputs = frames.performance
        if isinstance(inputs, str):
            flags.append(f"no performance estimate: {inputs}")
            tables["not_computed"] = not_computed(inputs)
            return
        plan = None
        if cfg.window_size is not None or cfg.time_column is not None:
            plan = tumbling_windows(
                frames.current, size=cfg.window_size, time_column=cfg.time_column, every=cfg.every
            )
        try:
            est, overall = estimate_window_performance(
                inputs, plan, level=ctx.level, seed=self.rng(ctx, "performance")
            )
        except ESTIMATION_ERRORS as exc:
            reason = str(exc).removeprefix("performance estimation: ")
            flags.append(f"no performance estimate: {reason}")
            tables["not_computed"] = not_computed(reason)
            return
        metrics.update(performance_metrics(est, overall))
        tables["performance"] = performance_table(est, overall)
        flags.extend(performance_flags(est, overall))


def _unlabelled(
    ctx: RunContext,
    model: str,
    dataset: Dataset,
    responses: Mapping[str, Response],
    *,
    like: Predictions,
) -> Predictions:
    """The model's answers on a dataset whose labels have not arrived (no label column): the
    predictions and class probabilities (in the order of ``like``'s labels), labels all unknown.
    Failed calls are left out and counted in a flag."""
    ids, preds, probs = [], [], []
    for r in ctx.original_requests(model, dataset):
        resp = responses.get(r.key)
        if resp is None or not resp.ok or resp.output is None:
            continue
        ids.append(str(r.tags.get("example_id", r.key)))
        preds.append(resp.output.label)
        p = resp.output.probabilities
        probs.append([float(p.get(label, np.nan)) for label in like.labels] if p else None)
    proba = None
    if probs and all(p is not None for p in probs):
        proba = np.asarray(probs, dtype=float)
    n_failed = len(dataset) - len(ids)
    # A set, not np.isin on object arrays: that compares every pair (2.9 s for 10,000 rows).
    answered = set(ids)
    mask = np.fromiter((i in answered for i in dataset.ids), dtype=bool, count=len(dataset))
    return Predictions(
        task=like.task,
        ids=ids,
        mask=mask,
        labels=list(like.labels),
        y_true=np.full(len(ids), None, dtype=object),
        y_pred=np.asarray(preds, dtype=object),
        proba=proba,
        flags=[f"{n_failed} of {len(dataset)} calls failed and were left out"] if n_failed else [],
    )


@dataclass(frozen=True)
class _Frames:
    """The tables the drift check compares, and what CBPE needs (or why it cannot run)."""

    reference: pd.DataFrame
    current: pd.DataFrame
    roles: dict[str, Any]
    n_scored: int
    performance: PerformanceInputs | str


def _point(x: float, n: int) -> Estimate:
    return Estimate.point(x, n=n)


def drift_metrics(result: DriftResult) -> dict[str, Estimate]:
    """The gateable metric paths of ``result`` (see the module docstring)."""
    m: dict[str, Estimate] = {
        "share_drifted": result.share_drifted,
        "n_drifted": _point(
            sum(c.drifted for c in result.columns if c.role == "feature"), result.share_drifted.n
        ),
        "n_untested": _point(len(result.untested), len(result.columns)),
        "drifted": _point(float(result.drifted), result.share_drifted.n),
        "duplicates.rate": _point(result.duplicates.current_rate, result.n_current),
    }
    for c in result.columns:
        if not c.tested:
            continue
        values = {
            "statistic": c.statistic,
            "p_value": c.p_value,
            "p_adjusted": c.p_adjusted,
            "effect_size": c.effect_size,
            "drifted": float(c.drifted),
            **c.distances,
        }
        for k, v in values.items():
            if k in _COLUMN_STATS and not (isinstance(v, float) and math.isnan(v)):
                m[f"columns.{_seg(c.column)}.{k}"] = _point(float(v), c.n_current)
    for q in result.quality:
        rates = {
            "missing_rate": q.missing.current_rate,
            "missing_change": q.missing.change,
            "new_category_rate": q.new_categories.current_rate,
            "out_of_range_rate": q.out_of_range.current_rate,
            "non_finite_rate": q.non_finite.current_rate,
            "unreadable_rate": q.unreadable.current_rate,
        }
        for k, v in rates.items():
            if math.isfinite(v):
                m[f"quality.{_seg(q.column)}.{k}"] = _point(v, q.missing.current_n)
    if result.windows:
        shares = [w.share_drifted for w in result.windows if math.isfinite(w.share_drifted)]
        m["windows.n_drifted"] = _point(sum(w.drifted for w in result.windows), len(result.windows))
        if shares:
            m["windows.max_share_drifted"] = _point(max(shares), len(result.windows))
    return m


def drift_flags(result: DriftResult) -> list[str]:
    """Findings in words: dataset, prediction and label drift, untested columns, quality."""
    flags = []
    n = result.share_drifted.n
    features = [c.column for c in result.columns if c.drifted and c.role == "feature"]
    if result.drifted:
        flags.append(
            f"dataset drift: {len(features)} of {n} feature columns drift ({', '.join(features)})"
        )
    for c in result.columns:
        if c.drifted and c.role != "feature":
            flags.append(f"{c.role} drift: {c.column} ({c.method} {c.statistic:.3g})")
        if not c.tested:
            flags.append(f"column {c.column!r} not tested: {c.reason}")
    for q in result.quality:
        if q.type_changed and "absent" not in (q.reference_type, q.current_type):
            flags.append(
                f"column {q.column!r} changed type: {q.reference_type} -> {q.current_type}"
                + (f" ({q.unreadable.current} values unreadable)" if q.unreadable.current else "")
            )
        if q.new_categories.current:
            k = q.new_category_values[0]
            flags.append(
                f"column {q.column!r}: {q.new_categories.current} current "
                f"row{'s' if q.new_categories.current != 1 else ''} "
                f"({q.new_categories.current_rate:.1%}) hold {k} "
                f"categor{'ies' if k != 1 else 'y'} the reference never has"
            )
    flags.extend(result.notes)
    return flags
