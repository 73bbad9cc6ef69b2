"""The cv check: cross-validation of the training recipe, with Nadeau–Bengio intervals.

Fold models are fitted inside the run, by the fitting service the run context lends
(:meth:`RunContext.fitter`, :meth:`RunContext.fit_model`; the recipes are described in
``assay.models._fitting``): a check never builds a model itself. Each is a Model like any other:
its fingerprint hashes the fit recipe (the hook's source file, or the fitted model file that is
cloned), the dataset fingerprint and the fold's training row ids, so its answers are cached and a
re-run neither refits nor re-asks. Fitting happens on the first ``predict`` call, so a fully
cached run fits nothing.

Fit recipes (``fit:``): ``sklearn`` (default: a fresh clone of the evaluated model's estimator),
``sklearn:path.joblib``, ``python:module:function`` (a function of the fold's training rows that
returns a model) and ``transformers`` (a classification head fine-tuned on each fold, with the
options under ``transformers``).

A fit that raises fails the run with the fold and the traceback; fold scores are never averaged over
the folds that happened to work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from assay._types import Request, Response, content_key
from assay.checks._base import Check, CheckConfig, RunContext, gate_metric_names, register_check
from assay.checks._generalization import sample_rows, subset_rows
from assay.checks._performance import resolve_task, summarise
from assay.checks._predictions import collect_predictions
from assay.config._fit import FitRecipe, TransformersFit
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError, ModelError
from assay.metrics import headline_metrics
from assay.report._schema import CheckResult
from assay.stats import corrected_resampled_t
from assay.stats._estimate import Estimate

__all__ = ["CVCheck", "CVConfig"]

#: Metrics per fold when the check names none: the catalogue's headline metrics of the task.
_DEFAULT_METRICS = {
    task: list(headline_metrics(task)) for task in ("classification", "regression")
}


class CVConfig(CheckConfig):
    """Options of the cv check.

    Attributes:
        fit: the fit recipe (see the module docstring).
        data: the dataset to cross-validate (default ``train`` when declared, else the primary).
        folds: number of folds.
        scheme: ``stratified`` (by label), ``kfold``, ``group`` (rows of a group stay together;
            the column is ``group`` or the dataset's first ``groups`` column) or ``time`` (expanding
            window in the order of the dataset's ``time`` column).
        repeats: repetitions with reshuffled folds (kfold and stratified).
        group: the column whose rows stay in one fold under ``scheme: group`` (default: the
            dataset's first ``groups`` column).
        metrics: metrics per fold (default: the headline metrics, accuracy, macro F1 and the
            binary or one-vs-rest ROC AUC / RMSE, MAE, R²).
        learning_curve: fractions of each training fold to refit on, for metric against training
            size (first repetition only); 1.0 is always included.
        max_rows: cross-validate a seeded sample of at most this many rows.
        transformers: settings of ``fit: transformers`` (base checkpoint, epochs, max_rows,
            max_length, batch_size, lr).
    """

    fit: str = "sklearn"
    data: str | None = None
    folds: int = Field(default=5, ge=2)
    scheme: Literal["stratified", "kfold", "group", "time"] = "stratified"
    repeats: int = Field(default=1, ge=1)
    group: str | None = None
    metrics: list[str] | None = None
    learning_curve: list[float] = Field(default_factory=list)
    max_rows: int | None = Field(default=None, ge=10)
    transformers: TransformersFit = Field(default_factory=TransformersFit)


def _splits(
    cfg: CVConfig, ds: Dataset, rng: np.random.Generator
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The (label, train rows, test rows) of every fold; ``rng`` seeds each repeat's shuffle."""
    from sklearn import model_selection as ms

    n = len(ds)
    frame = ds.frame
    label = ds.spec.label
    y = frame[label].astype(str).to_numpy() if label else np.zeros(n)
    if cfg.scheme == "time":
        if not ds.spec.time:
            raise ConfigError(
                f"checks.cv.scheme: time needs a time column; set data.{ds.name}.time"
            )
        order = np.argsort(frame[ds.spec.time].to_numpy(), kind="stable")
        return [
            (f"fold {i + 1}", order[tr], order[te])
            for i, (tr, te) in enumerate(ms.TimeSeriesSplit(n_splits=cfg.folds).split(order))
        ]
    if cfg.scheme == "group":
        col = cfg.group or (ds.spec.groups[0] if ds.spec.groups else None)
        if col is None or col not in frame.columns:
            raise ConfigError(
                f"checks.cv.group: scheme group needs a group column (found {col!r}); set "
                f"checks.cv.group to one of {', '.join(map(str, frame.columns))}"
            )
        groups = frame[col].astype(str).to_numpy()
        out = []
        for r in range(cfg.repeats):
            splitter = ms.GroupKFold(
                n_splits=cfg.folds, shuffle=True, random_state=_sklearn_seed(rng)
            )
            out += [
                (f"repeat {r + 1} fold {i + 1}" if cfg.repeats > 1 else f"fold {i + 1}", tr, te)
                for i, (tr, te) in enumerate(splitter.split(np.zeros(n), y, groups))
            ]
        return out
    out = []
    for r in range(cfg.repeats):
        splitter = (ms.StratifiedKFold if cfg.scheme == "stratified" else ms.KFold)(
            n_splits=cfg.folds, shuffle=True, random_state=_sklearn_seed(rng)
        )
        out += [
            (f"repeat {r + 1} fold {i + 1}" if cfg.repeats > 1 else f"fold {i + 1}", tr, te)
            for i, (tr, te) in enumerate(splitter.split(np.zeros(n), y))
        ]
    return out


def _sklearn_seed(rng: np.random.Generator) -> int:
    """An int drawn from ``rng`` for scikit-learn's ``random_state`` (which takes no Generator)."""
    return int(rng.integers(2**32))


@register_check("cv")
class CVCheck(Check):
    """Cross-validation: per-fold metrics, their mean with a Nadeau–Bengio interval, learning curve."""

    Config = CVConfig

    def _cfg(self) -> CVConfig:
        assert isinstance(self.config, CVConfig)
        return self.config

    def _dataset_name(self, ctx: RunContext) -> str:
        cfg = self._cfg()
        return cfg.data or ("train" if "train" in ctx.datasets else ctx.suite.primary_dataset)

    def _dataset(self, ctx: RunContext) -> Dataset:
        cfg = self._cfg()
        name = self._dataset_name(ctx)
        if name not in ctx.datasets:
            raise ConfigError(
                f"checks.cv.data: dataset {name!r} is not declared; declared: "
                f"{', '.join(ctx.datasets)}"
            )
        ds = ctx.dataset(name)
        if cfg.max_rows is not None and len(ds) > cfg.max_rows:
            # one sample for every model: they are cross-validated on the same rows
            ds = subset_rows(ds, sample_rows(ds, cfg.max_rows, self.rng(ctx, "rows", shared=True)))
        return ds

    def _active(self, ctx: RunContext) -> bool:
        # A hook does not depend on the evaluated model: it is cross-validated once, under the
        # first model. The sklearn clone refits each model's own estimator.
        return self._cfg().fit == "sklearn" or self.model == ctx.suite.primary_model

    def _folds(self, ctx: RunContext) -> list[dict[str, Any]]:
        """The fold models (fitted through the run context) and their test rows."""
        cache = getattr(self, "_fold_cache", None)
        if cache is not None:
            return cache
        cfg = self._cfg()
        ds = self._dataset(ctx)
        fitter = ctx.fitter(
            FitRecipe(fit=cfg.fit, data=self._dataset_name(ctx), transformers=cfg.transformers),
            model=self.model,
        )
        recipe = fitter.digest
        task = resolve_task(ctx, self.model)
        ids = np.array(ds.ids, dtype=object)
        folds = []
        splits = _splits(cfg, ds, self.rng(ctx, "folds", shared=True))
        first_repeat = [
            s for s in splits if not s[0].startswith("repeat ") or s[0].startswith("repeat 1 ")
        ]
        fractions = sorted({float(f) for f in cfg.learning_curve if 0 < f < 1})
        for label, tr, te in splits:
            plans = [(1.0, tr)]
            if (label, tr, te) in [(a, b, c) for a, b, c in first_repeat if a == label]:
                rng = self.rng(ctx, "learning curve", label, shared=True)
                plans += [
                    (f, np.sort(rng.choice(tr, size=max(2, round(f * len(tr))), replace=False)))
                    for f in fractions
                ]
            for frac, rows in plans:
                digest = hashlib.sha256(
                    f"{recipe}|{ds.fingerprint}|{frac}|".encode() + "\x1f".join(ids[rows]).encode()
                ).hexdigest()
                name = f"{self.model}::cv {label}" + (f" ({frac:.0%})" if frac < 1 else "")
                fold = f"{label}" + (f" at {frac:.0%}" if frac < 1 else "")
                m = ctx.fit_model(
                    fitter,
                    ds.frame.iloc[rows],
                    name=name,
                    fold=fold,
                    task=task,
                    fingerprint=digest,
                )
                folds.append(
                    {
                        "label": label,
                        "fraction": frac,
                        "name": name,
                        "fold": fold,
                        "model": m,
                        "train": rows,
                        "test": te,
                        "fingerprint": digest,
                    }
                )
        self._fold_cache = folds
        self._ds = ds
        return folds

    def _requests(self, ctx: RunContext, fold: dict[str, Any]) -> list[Request]:
        test = subset_rows(self._ds, fold["test"])
        return [
            Request(
                key=content_key(fold["fingerprint"], p),
                model=fold["name"],
                payload=p,
                tags={"example_id": i},
            )
            for i, p in zip(test.ids, test.payloads())
        ]

    def plan(self, ctx: RunContext) -> list[Request]:
        if not self._active(ctx):
            return []
        return [r for f in self._folds(ctx) for r in self._requests(ctx, f)]

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self._cfg()
        if not self._active(ctx):
            ds = self._dataset(ctx)
            return CheckResult(
                check=self.name,
                model=self.model,
                dataset=ds.name,
                n=0,
                tables={
                    "notes": [
                        f"the fit hook is cross-validated once, under {ctx.suite.primary_model!r}"
                    ]
                },
            )
        folds = self._folds(ctx)
        ds = self._ds
        task = resolve_task(ctx, self.model)
        for f in folds:
            if f["model"].fit_error is not None:
                raise ModelError(
                    f"checks.cv: the fit hook {cfg.fit!r} raised in {f['fold']} "
                    f"({len(f['train'])} training rows); no cross-validation result is reported "
                    f"for a subset of folds. Traceback:\n{f['model'].fit_error}"
                )
        names = cfg.metrics or _DEFAULT_METRICS[task]
        per_fold: list[dict[str, Any]] = []
        flags: list[str] = []
        for f in folds:
            test = subset_rows(ds, f["test"])
            pred = collect_predictions(
                dataset=test,
                requests=self._requests(ctx, f),
                responses=responses,
                task=task,
                treatment=ctx.suite.engine.errors,
                model=f["name"],
            )
            flags += [f"{f['label']}: {x}" for x in pred.flags]
            summary = summarise(
                pred,
                level=ctx.level,
                seed=self.rng(ctx, f["label"], str(f["fraction"])),
                n_bootstrap=200,
                with_curves=False,
            )
            per_fold.append(
                {
                    "fold": f["label"],
                    "fraction": f["fraction"],
                    "n_train": len(f["train"]),
                    "n_test": int(pred.n),
                    **{m: summary.metrics[m].value for m in names if m in summary.metrics},
                }
            )
        if not cfg.metrics:
            # The headline metrics are alternatives (binary or multiclass ROC AUC): keep those
            # the summaries reported.
            names = [m for m in names if any(m in r for r in per_fold)]
        metrics: dict[str, Estimate] = {}
        full = [r for r in per_fold if r["fraction"] == 1.0]
        n_train = float(np.mean([r["n_train"] for r in full]))
        n_test = float(np.mean([r["n_test"] for r in full]))
        summary_rows = []
        for m in names:
            vals = np.array([r.get(m, np.nan) for r in full], dtype=float)
            if not np.isfinite(vals).any():
                continue
            est = corrected_resampled_t(vals, n_train=n_train, n_test=n_test, level=ctx.level)
            metrics[m] = est
            sd = float(np.nanstd(vals, ddof=1)) if np.isfinite(vals).sum() > 1 else float("nan")
            metrics[f"fold_sd.{m}"] = Estimate(sd, sd, sd, ctx.level, "exact", len(vals))
            summary_rows.append({"metric": m, **est.to_dict(), "sd": sd})
        curve = []
        for frac in sorted({r["fraction"] for r in per_fold}):
            rows = [
                r
                for r in per_fold
                if r["fraction"] == frac
                and (
                    frac < 1
                    or not r["fold"].startswith("repeat ")
                    or r["fold"].startswith("repeat 1 ")
                )
            ]
            point: dict[str, Any] = {
                "fraction": frac,
                "n_train": float(np.mean([r["n_train"] for r in rows])),
            }
            for m in names:
                vals = np.array([r.get(m, np.nan) for r in rows], dtype=float)
                if np.isfinite(vals).any():
                    point[m] = corrected_resampled_t(
                        vals, n_train=point["n_train"], n_test=n_test, level=ctx.level
                    ).to_dict()
            curve.append(point)
        tables = {
            "task": task,
            "fit": cfg.fit,
            "scheme": cfg.scheme,
            "folds": cfg.folds,
            "repeats": cfg.repeats,
            "dataset": ds.name,
            "metric_names": names,
            "per_fold": per_fold,
            "summary": summary_rows,
            "learning_curve": curve if len(curve) > 1 else [],
            "notes": [],
        }
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=len(ds),
            metrics=metrics,
            tables=tables,
            flags=flags,
        )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, CVConfig)
        names = config.metrics or gate_metric_names(suite.task, _DEFAULT_METRICS)
        return list(names) + [f"fold_sd.{m}" for m in names]
