"""The generalization check: overfitting diagnosis from training logs, and the train–test gap.

From a training log (TensorBoard, ``trainer_state.json``, MLflow, CSV/JSONL) it reports the gap
between training and validation at the best and last step, the divergence point, the best step,
an early-stopping recommendation and a verdict (see :mod:`assay.generalization._diagnose`).

When the suite has a training dataset (``train_data``, default ``train``) it also scores the model
on (a seeded sample of) it and on the test data, and reports the train–test gap with an interval:
Newcombe's for accuracy, Welch's for the mean absolute error of a regression.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from pydantic import Field
from scipy.stats import t as student_t

from assay._types import Request, Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._performance import resolve_task
from assay.checks._predictions import Predictions, collect_predictions
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.generalization import Diagnosis, TrainingLog, diagnose, read_log
from assay.metrics._counts import count_metrics
from assay.report._schema import CheckResult
from assay.stats import Seed, as_generator, mean_difference, proportion_difference, wilson_interval
from assay.stats._bootstrap import multinomial_count_resamples, percentile_bounds
from assay.stats._estimate import Estimate

__all__ = [
    "CURVE_GATE_PATTERNS",
    "CurveFindings",
    "GeneralizationCheck",
    "GeneralizationConfig",
    "curve_findings",
    "sample_rows",
    "subset_rows",
]

_SEVERITY = {"none": 0, "mild": 1, "severe": 2}


class GeneralizationConfig(CheckConfig):
    """Options of the generalization check.

    Attributes:
        log: the training log of the first model (a path relative to the suite, or
            ``mlflow:<uri>#<run id>``), or a mapping model name → log.
        format: log format (``auto`` guesses from the path).
        metric: the logged metric to judge (default: a loss).
        train, validation: series names, when the matching by name does not find them.
        direction: ``auto`` (from the name), ``lower`` or ``higher`` is better.
        smoothing: EMA weight for the training curve.
        validation_smoothing: EMA weight for the validation curve (0: as logged).
        patience: evaluations in a row for the divergence point and early stopping.
        mild, severe: relative validation rise (last vs best) for the mild / severe verdicts.
        train_data: the suite dataset holding training rows, for the train–test gap (default
            ``train`` when declared); ``false`` turns the gap off.
        max_train_rows: score at most this many training rows (a seeded sample).
    """

    log: str | dict[str, str] | None = None
    format: Literal["auto", "tensorboard", "trainer_state", "mlflow", "csv", "jsonl"] = "auto"
    metric: str | None = None
    train: str | None = None
    validation: str | None = None
    direction: Literal["auto", "lower", "higher"] = "auto"
    smoothing: float = Field(default=0.6, ge=0, lt=1)
    validation_smoothing: float = Field(default=0.0, ge=0, lt=1)
    patience: int = Field(default=3, ge=1)
    mild: float = Field(default=0.02, ge=0)
    severe: float = Field(default=0.10, ge=0)
    train_data: str | Literal[False] | None = None
    max_train_rows: int = Field(default=5000, ge=1)


_CURVE_METRICS = ("severity", "gap_at_best", "gap_at_last", "validation_rise", "best_step")
#: Gate paths of the training-curve diagnosis (``assay curves`` gives these).
CURVE_GATE_PATTERNS = tuple(f"curves.{k}" for k in _CURVE_METRICS)


@dataclass(frozen=True)
class CurveFindings:
    """The diagnosis of a training log, as the generalization check's result holds it.

    Attributes:
        table: the ``curves`` table: the log's source, format, series (and their description)
            and the diagnosis with its curves.
        metrics: ``curves.severity`` (0 none, 1 mild, 2 severe), ``curves.gap_at_best``,
            ``curves.gap_at_last``, ``curves.validation_rise``, ``curves.best_step``: numbers
            read from the log, so each interval is the point itself.
        flags: the finding, when the verdict is mild or severe.
    """

    table: dict[str, Any]
    metrics: dict[str, Estimate]
    flags: list[str]


def curve_findings(log: TrainingLog, d: Diagnosis, *, level: float) -> CurveFindings:
    """Turn a log's diagnosis into the ``curves`` table, metrics and flags: the generalization
    check and ``assay curves`` share it."""
    table = {
        "source": log.source,
        "format": log.format,
        "series": log.names(),
        "description": log.describe(),
        **d.to_dict(),
    }
    values = {
        "severity": float(_SEVERITY[d.verdict]),
        "gap_at_best": d.gap_at_best,
        "gap_at_last": d.gap_at_last,
        "validation_rise": d.validation_rise,
        "best_step": d.best_step,
    }
    metrics = {f"curves.{k}": _point(values[k], level) for k in _CURVE_METRICS}
    flags = []
    if d.verdict != "none":
        flags.append(f"overfitting ({d.verdict}) in the training log: {d.recommendation}")
    return CurveFindings(table, metrics, flags)


def sample_rows(ds: Dataset, limit: int, seed: Seed) -> np.ndarray:
    """Sorted positions of at most ``limit`` rows of ``ds``, a seeded sample when it is larger."""
    n = len(ds)
    if n <= limit:
        return np.arange(n)
    return np.sort(as_generator(seed).choice(n, size=limit, replace=False))


def subset_rows(ds: Dataset, rows: np.ndarray) -> Dataset:
    """The dataset restricted to the rows at positions ``rows`` (same spec and labels)."""
    if len(rows) == len(ds):
        return ds
    return replace(ds, frame=ds.frame.iloc[rows])


def _train_dataset(cfg: GeneralizationConfig, suite: Suite) -> str | None:
    if cfg.train_data is False:
        return None
    if cfg.train_data is not None:
        if cfg.train_data not in suite.data:
            raise ConfigError(
                f"checks.generalization.train_data: dataset {cfg.train_data!r} is not declared; "
                f"declared: {', '.join(suite.data)}"
            )
        return cfg.train_data
    return "train" if "train" in suite.data and suite.primary_dataset != "train" else None


@register_check("generalization")
class GeneralizationCheck(Check):
    """Is the model overfit? Training curves and the train–test gap."""

    Config = GeneralizationConfig

    def _log_source(self, ctx: RunContext) -> str | None:
        cfg = self.config
        assert isinstance(cfg, GeneralizationConfig)
        if cfg.log is None:
            return None
        if isinstance(cfg.log, dict):
            src = cfg.log.get(self.model)
        else:
            src = cfg.log if self.model == ctx.suite.primary_model else None
        if src is None:
            return None
        return src if src.startswith("mlflow:") else str(ctx.suite.resolve(src))

    def _sets(self, ctx: RunContext) -> tuple[Dataset, Dataset, np.ndarray] | None:
        cfg = self.config
        assert isinstance(cfg, GeneralizationConfig)
        name = _train_dataset(cfg, ctx.suite)
        if name is None:
            return None
        train = ctx.dataset(name)
        # one sample for every model: their gaps are measured on the same training rows
        rows = sample_rows(train, cfg.max_train_rows, self.rng(ctx, "rows", shared=True))
        return train, ctx.dataset(cfg.dataset), rows

    def plan(self, ctx: RunContext) -> list[Request]:
        sets = self._sets(ctx)
        if sets is None or ctx.answers_by_id(self.model):
            return []
        train, test, rows = sets
        train_reqs = ctx.original_requests(self.model, train)
        return [train_reqs[i] for i in rows] + ctx.original_requests(self.model, test)

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, GeneralizationConfig)
        test = ctx.dataset(cfg.dataset)
        metrics: dict[str, Estimate] = {}
        tables: dict[str, Any] = {}
        flags: list[str] = []
        notes: list[str] = []
        n = 0
        source = self._log_source(ctx)
        if source is not None:
            log = read_log(source, format=cfg.format)
            d = diagnose(
                log,
                metric=cfg.metric,
                train=cfg.train,
                validation=cfg.validation,
                direction=cfg.direction,
                smoothing=cfg.smoothing,
                validation_smoothing=cfg.validation_smoothing,
                patience=cfg.patience,
                mild=cfg.mild,
                severe=cfg.severe,
            )
            found = curve_findings(log, d, level=ctx.level)
            tables["curves"] = found.table
            metrics.update(found.metrics)
            flags.extend(found.flags)
        elif cfg.log is not None:
            notes.append(f"no training log given for model {self.model!r}")
        sets = self._sets(ctx)
        if sets is not None:
            if ctx.answers_by_id(self.model):
                notes.append(
                    f"model {self.model!r} answers from a predictions file keyed by id, so it "
                    "cannot be scored on the training rows; the train–test gap is left out"
                )
            else:
                gap, gap_metrics, gap_flags = self._train_test(ctx, responses, *sets)
                tables["train_test"] = gap
                metrics.update(gap_metrics)
                flags.extend(gap_flags)
                n = gap["test"]["n"]
        if source is None and sets is None:
            notes.append(
                "nothing to diagnose: give `log:` (a training log) or declare a `train` dataset "
                "for the train–test gap"
            )
        tables["notes"] = notes
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=test.name,
            n=n,
            metrics=metrics,
            tables=tables,
            flags=flags,
        )

    def _train_test(
        self,
        ctx: RunContext,
        responses: Mapping[str, Response],
        train: Dataset,
        test: Dataset,
        rows: np.ndarray,
    ) -> tuple[dict[str, Any], dict[str, Estimate], list[str]]:
        task = resolve_task(ctx, self.model)
        treatment = ctx.suite.engine.errors
        train_sub = subset_rows(train, rows)
        preds: dict[str, Predictions] = {}
        for which, ds in (("train", train_sub), ("test", test)):
            preds[which] = collect_predictions(
                dataset=ds,
                requests=ctx.original_requests(self.model, ds),
                responses=responses,
                task=task,
                treatment=treatment,
                model=self.model,
            )
        out: dict[str, Any] = {
            "task": task,
            "train_dataset": train.name,
            "train_rows_scored": len(train_sub),
            "train_rows": len(train),
        }
        metrics: dict[str, Estimate] = {}
        if task == "classification":
            name = "accuracy"
            k = {w: int((p.y_true == p.y_pred).sum()) for w, p in preds.items()}
            for w, p in preds.items():
                metrics[f"{w}.accuracy"] = wilson_interval(k[w], p.n, level=ctx.level)
            gap = proportion_difference(
                k["train"], preds["train"].n, k["test"], preds["test"].n, level=ctx.level
            )
            f1 = _f1_macro_gap(preds["train"], preds["test"], ctx.level, self.rng(ctx, "f1_macro"))
            metrics.update(f1)
        else:
            name = "mae"
            err = {w: np.abs(p.y_true - p.y_pred) for w, p in preds.items()}
            for w, e in err.items():
                metrics[f"{w}.mae"] = _mean_interval(e, ctx.level)
            gap = mean_difference(err["test"], err["train"], level=ctx.level)  # test worse → > 0
        metrics[f"train_test_gap.{name}"] = gap
        for w, p in preds.items():
            out[w] = {"n": p.n, name: metrics[f"{w}.{name}"].to_dict()}
        out["gap"] = {"metric": name, **gap.to_dict()}
        flags = [f for p in preds.values() for f in p.flags]
        if gap.defined and gap.lower > 0:
            flags.append(
                f"the model is better on its training rows than on the test rows: {name} gap "
                f"{gap.value:.3f} [{gap.lower:.3f}, {gap.upper:.3f}]"
            )
        return out, metrics, flags

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        assert isinstance(config, GeneralizationConfig)
        pats = list(CURVE_GATE_PATTERNS)
        names = ["mae"] if suite.task == "regression" else ["accuracy", "f1_macro"]
        for name in names:
            pats += [f"train.{name}", f"test.{name}", f"train_test_gap.{name}"]
        return pats


def _f1_macro_gap(
    train: Predictions,
    test: Predictions,
    level: float,
    rng: np.random.Generator,
    n_bootstrap: int = 2000,
) -> dict[str, Estimate]:
    """Macro F1 on the training and the test rows, and train − test, by bootstrap over each
    side's confusion counts drawn independently (the two sets of rows are different examples):
    the row bootstrap of each set, at the cost of ``k²`` numbers per resample."""

    labels = sorted(
        {str(v) for p in (train, test) for v in (*p.y_true.tolist(), *p.y_pred.tolist())}
    )
    index = {lbl: i for i, lbl in enumerate(labels)}
    k = len(labels)
    point: dict[str, float] = {}
    draws: dict[str, np.ndarray] = {}
    for which, p in (("train", train), ("test", test)):
        cm = np.zeros((k, k), dtype=np.int64)
        np.add.at(cm, ([index[str(v)] for v in p.y_true], [index[str(v)] for v in p.y_pred]), 1)
        point[which] = float(count_metrics(cm)["f1_macro"])
        draws[which] = count_metrics(multinomial_count_resamples(cm, n_bootstrap, rng))["f1_macro"]
    out: dict[str, Estimate] = {}
    method = "bootstrap-counts"
    for which, p in (("train", train), ("test", test)):
        lo, hi = percentile_bounds(draws[which], level)
        out[f"{which}.f1_macro"] = Estimate(point[which], float(lo), float(hi), level, method, p.n)
    lo, hi = percentile_bounds(draws["train"] - draws["test"], level)
    out["train_test_gap.f1_macro"] = Estimate(
        point["train"] - point["test"],
        float(lo),
        float(hi),
        level,
        "bootstrap-counts-independent",
        train.n + test.n,
    )
    return out


def _point(value: float, level: float) -> Estimate:
    """A number read from a log: no sampling interval, so the bounds are the value."""
    return Estimate(value, value, value, level, "exact", 0)


def _mean_interval(x: np.ndarray, level: float) -> Estimate:
    n = len(x)
    if n < 2:
        return Estimate(
            float(x.mean()) if n else float("nan"), float("nan"), float("nan"), level, "t", n
        )
    m = float(x.mean())
    half = float(student_t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) / np.sqrt(n)
    return Estimate(m, m - half, m + half, level, "t", n)
