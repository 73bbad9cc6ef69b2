"""Metric differences on paired examples, each with an interval, a test and a standard error.

Classification metrics that are functions of the confusion matrix are bootstrapped over *counts*:
every example falls into one cell (true label, candidate's label, baseline's label) of a ``k³``
table; a paired bootstrap resample is a multinomial draw of the cell counts, from which both
models' confusion matrices follow. This is the row bootstrap, at the cost of ``k³`` numbers per
resample instead of ``n``. Accuracy uses McNemar's test and Newcombe's paired interval, ROC AUC the
correlated DeLong test (binary; macro one-vs-rest through paired per-example DeLong influences); regression losses use paired t intervals or the delta method.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr
from scipy.stats import t as student_t

from assay.compare._auc import paired_macro_ovr_auc
from assay.compare._paired import PairedPredictions
from assay.metrics import MetricInfo, metric_info, metrics_for
from assay.stats._estimate import Estimate
from assay.stats._paired import paired_proportion_difference
from assay.stats._paired_tests import mcnemar_test, paired_delong
from assay.stats._random import Seed, as_generator
from assay.stats._wilson import z_value

__all__ = [
    "CLASSIFICATION_COMPARABLE",
    "GENERATION_COMPARABLE",
    "REGRESSION_COMPARABLE",
    "MetricDifference",
    "confusion_metric",
    "difference",
]

def _comparable(task: str) -> tuple[MetricInfo, ...]:
    return tuple(m for m in metrics_for(task) if m.paired_test is not None)


#: Generation metrics with a per-example score, compared on the same examples: 0/1 scores by
#: McNemar and Newcombe's paired interval, graded scores by a paired t interval (the catalogue's
#: generation metrics with a paired test).
GENERATION_COMPARABLE = tuple(m.name for m in _comparable("generation") if m.per_example)

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MetricDifference:
    """``candidate − baseline`` for one metric on the same examples.

    Attributes:
        metric: the metric's name.
        candidate, baseline: each model's value (interval as in its own report when known).
        difference: ``candidate − baseline`` with the paired interval.
        p_value: two-sided p-value of "no difference".
        se: standard error of the difference (for non-inferiority tests and sample-size advice).
        method: the paired method (``mcnemar-mid-p+newcombe``, ``delong-paired``, ``bootstrap-counts``,
            ``paired-t``, ``delta-paired``).
    """

    metric: str
    candidate: float
    baseline: float
    difference: Estimate
    p_value: float
    se: float
    method: str


def _div(a: Array, b: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _nanmean(x: Array, axis: int) -> Array:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are NaN, by policy
        return np.nanmean(x, axis=axis)


def confusion_metric(name: str, cm: Array, *, positive: int | None = None) -> Array:
    """A metric of a stack of confusion matrices ``cm[..., true, predicted]``; NaN when undefined.

    Averages follow scikit-learn with ``zero_division=nan``: classes where a ratio is undefined are
    left out of the macro average; balanced accuracy averages recall over the classes present.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    true_n = cm.sum(axis=-1)
    pred_n = cm.sum(axis=-2)
    total = true_n.sum(axis=-1)
    if name == "accuracy":
        return _div(tp.sum(axis=-1), total)
    recall = _div(tp, true_n)
    precision = _div(tp, pred_n)
    f1 = _div(2 * tp, true_n + pred_n)
    if name in ("balanced_accuracy", "recall_macro"):
        return _nanmean(recall, axis=-1)
    if name == "precision_macro":
        return _nanmean(precision, axis=-1)
    if name == "f1_macro":
        return _nanmean(f1, axis=-1)
    if name in ("precision", "recall", "f1"):
        if positive is None:
            raise ValueError(f"{name} needs a positive class")
        return {"precision": precision, "recall": recall, "f1": f1}[name][..., positive]
    if name == "mcc":
        c, s = tp.sum(axis=-1), total
        tp_ = (true_n * pred_n).sum(axis=-1)
        den = np.sqrt(
            (s * s - (pred_n * pred_n).sum(axis=-1)) * (s * s - (true_n * true_n).sum(axis=-1))
        )
        return _div(c * s - tp_, den)
    if name == "cohen_kappa":
        po = _div(tp.sum(axis=-1), total)
        pe = _div((true_n * pred_n).sum(axis=-1), total * total)
        return _div(po - pe, 1 - pe)
    raise ValueError(f"unknown confusion metric {name!r}")


#: Classification metrics a comparison can test (``roc_auc`` needs binary scores,
#: ``roc_auc_ovr_macro`` multiclass class scores): the catalogue's, with their paired test.
CLASSIFICATION_COMPARABLE = tuple(m.name for m in _comparable("classification"))
REGRESSION_COMPARABLE = tuple(m.name for m in _comparable("regression"))


def _codes(values: np.ndarray, labels: list[str]) -> NDArray[np.int64]:
    index = {lbl: i for i, lbl in enumerate(labels)}
    return np.fromiter((index[str(v)] for v in values), dtype=np.int64, count=len(values))


@dataclass
class _CellTable:
    counts: NDArray[np.int64]  # k³ cells: (true, candidate, baseline)
    k: int

    def confusions(self, counts: NDArray[np.int64]) -> tuple[Array, Array]:
        c = counts.reshape(*counts.shape[:-1], self.k, self.k, self.k)
        return c.sum(axis=-1), c.sum(axis=-2)


def _cells(p: PairedPredictions) -> _CellTable:
    k = len(p.labels)
    t, a, b = (
        _codes(p.y_true, p.labels),
        _codes(p.candidate, p.labels),
        _codes(p.baseline, p.labels),
    )
    counts = np.bincount((t * k + a) * k + b, minlength=k**3)
    return _CellTable(counts, k)


def _bootstrap_p(diffs: Array, observed: float) -> float:
    ok = diffs[np.isfinite(diffs)]
    if not len(ok) or not math.isfinite(observed):
        return math.nan
    # The bootstrap distribution shifted to the null (Hall and Wilson 1991).
    extreme = np.count_nonzero(np.abs(ok - observed) >= abs(observed) - 1e-12)
    return float(min(1.0, (1 + extreme) / (len(ok) + 1)))


def _from_normal(d: float, se: float, level: float, method: str, n: int) -> tuple[Estimate, float]:
    if not math.isfinite(se):
        return Estimate(d, math.nan, math.nan, level, method, n), math.nan
    half = z_value(level) * se
    if se == 0:
        return Estimate(d, d, d, level, method, n), (1.0 if d == 0 else 0.0)
    p = float(min(1.0, 2.0 * ndtr(-abs(d) / se)))
    return Estimate(d, d - half, d + half, level, method, n), p


class _Context:
    """Shared, lazily computed pieces for the metrics of one comparison."""

    def __init__(self, p: PairedPredictions, level: float, n_bootstrap: int, rng: Seed):
        self.p = p
        self.level = level
        self.n_bootstrap = n_bootstrap
        self.rng = as_generator(rng)
        self._cells: _CellTable | None = None
        self._boot: NDArray[np.int64] | None = None

    @property
    def cells(self) -> _CellTable:
        if self._cells is None:
            self._cells = _cells(self.p)
        return self._cells

    @property
    def boot(self) -> NDArray[np.int64]:
        if self._boot is None:
            c = self.cells.counts
            self._boot = self.rng.multinomial(int(c.sum()), c / c.sum(), size=self.n_bootstrap)
        return self._boot


def _paired_binary(
    name: str, hit_c: NDArray[np.bool_], hit_b: NDArray[np.bool_], level: float, mcnemar: str
) -> MetricDifference:
    """The difference of two paired proportions: McNemar's test, Newcombe's interval."""
    n = len(hit_c)
    both = int(np.count_nonzero(hit_c & hit_b))
    only_c = int(np.count_nonzero(hit_c & ~hit_b))
    only_b = int(np.count_nonzero(~hit_c & hit_b))
    neither = n - both - only_c - only_b
    est = paired_proportion_difference(both, only_c, only_b, neither, level=level)
    test = mcnemar_test(only_c, only_b, method=mcnemar)  # type: ignore[arg-type]
    se = (est.upper - est.lower) / (2 * z_value(level)) if est.defined else math.nan
    method = f"{test.method}+newcombe-paired"
    return MetricDifference(
        name,
        float(hit_c.mean()) if n else math.nan,
        float(hit_b.mean()) if n else math.nan,
        Estimate(est.value, est.lower, est.upper, est.level, method, est.n),
        test.p_value,
        se,
        method,
    )


def _accuracy(ctx: _Context, mcnemar: str) -> MetricDifference:
    p = ctx.p
    return _paired_binary(
        "accuracy", p.candidate == p.y_true, p.baseline == p.y_true, ctx.level, mcnemar
    )


def _paired_mean(name: str, lc: Array, lb: Array, level: float) -> MetricDifference:
    """The difference of two means of per-example values on the same examples: paired t."""
    n = len(lc)
    d_i = lc - lb
    d = float(d_i.mean()) if n else math.nan
    val_c = float(lc.mean()) if n else math.nan
    val_b = float(lb.mean()) if n else math.nan
    if n < 2:
        est = Estimate(d, math.nan, math.nan, level, "paired-t", n)
        return MetricDifference(name, val_c, val_b, est, math.nan, math.nan, "paired-t")
    se = float(d_i.std(ddof=1) / math.sqrt(n))
    if se == 0:
        est = Estimate(d, d, d, level, "paired-t", n)
        pv = 1.0 if d == 0 else 0.0
    else:
        q = float(student_t.ppf(0.5 + level / 2, n - 1))
        est = Estimate(d, d - q * se, d + q * se, level, "paired-t", n)
        pv = float(2 * student_t.sf(abs(d) / se, n - 1))
    return MetricDifference(name, val_c, val_b, est, pv, se, "paired-t")


def _generation(ctx: _Context, name: str, mcnemar: str) -> MetricDifference:
    sc, sb = ctx.p.scores[name]
    keep = np.isfinite(sc) & np.isfinite(sb)  # e.g. a JSON-schema score of a non-JSON answer
    sc, sb = sc[keep].astype(np.float64), sb[keep].astype(np.float64)
    if metric_info(name, task="generation").paired_test == "mcnemar":
        return _paired_binary(name, sc == 1.0, sb == 1.0, ctx.level, mcnemar)
    return _paired_mean(name, sc, sb, ctx.level)


def _confusion_difference(ctx: _Context, name: str) -> MetricDifference:
    p = ctx.p
    positive = p.labels.index(p.positive_label) if p.positive_label in p.labels else None
    if name in ("precision", "recall", "f1") and positive is None:
        positive = 1 if len(p.labels) >= 2 else None
    cm_c, cm_b = ctx.cells.confusions(ctx.cells.counts)
    val_c = float(confusion_metric(name, cm_c, positive=positive))
    val_b = float(confusion_metric(name, cm_b, positive=positive))
    d = val_c - val_b
    bc, bb = ctx.cells.confusions(ctx.boot)
    diffs = confusion_metric(name, bc, positive=positive) - confusion_metric(
        name, bb, positive=positive
    )
    ok = diffs[np.isfinite(diffs)]
    alpha = 1 - ctx.level
    if len(ok) < 10 or not math.isfinite(d):
        est = Estimate(d, math.nan, math.nan, ctx.level, "bootstrap-counts-paired", p.n)
        return MetricDifference(name, val_c, val_b, est, math.nan, math.nan, est.method)
    lo, hi = np.quantile(ok, [alpha / 2, 1 - alpha / 2])
    est = Estimate(d, float(lo), float(hi), ctx.level, "bootstrap-counts-paired", p.n)
    return MetricDifference(
        name, val_c, val_b, est, _bootstrap_p(ok, d), float(ok.std(ddof=1)), est.method
    )


def _roc_auc(ctx: _Context) -> MetricDifference:
    p = ctx.p
    assert p.candidate_score is not None and p.baseline_score is not None
    y = p.y_true == p.positive_label
    r = paired_delong(y, p.candidate_score, p.baseline_score, level=ctx.level)
    d = r.difference
    se = (d.upper - d.lower) / (2 * z_value(ctx.level)) if d.defined else math.nan
    return MetricDifference(
        "roc_auc", r.first.value, r.second.value, d, r.test.p_value, se, "delong-paired"
    )


def _roc_auc_ovr_macro(ctx: _Context) -> MetricDifference:
    p = ctx.p
    assert p.candidate_proba is not None and p.baseline_proba is not None
    codes = _codes(p.y_true, list(p.proba_labels))
    r = paired_macro_ovr_auc(codes, p.candidate_proba, p.baseline_proba, level=ctx.level)
    return MetricDifference(
        "roc_auc_ovr_macro", r.first, r.second, r.difference, r.p_value, r.se, r.difference.method
    )


def _regression(ctx: _Context, name: str) -> MetricDifference:
    p = ctx.p
    y = p.y_true.astype(np.float64)
    ec = p.candidate.astype(np.float64) - y
    eb = p.baseline.astype(np.float64) - y
    n = p.n
    level = ctx.level
    if name in ("mse", "mae"):
        lc, lb = (ec * ec, eb * eb) if name == "mse" else (np.abs(ec), np.abs(eb))
        return _paired_mean(name, lc, lb, level)
    # rmse and r2: the delta method on per-example influence values.
    sc, sb = ec * ec, eb * eb
    mse_c, mse_b = float(sc.mean()), float(sb.mean())
    if name == "rmse":
        rc, rb = math.sqrt(mse_c), math.sqrt(mse_b)
        val_c, val_b = rc, rb
        infl = ((sc - mse_c) / (2 * rc) if rc > 0 else np.zeros(n)) - (
            (sb - mse_b) / (2 * rb) if rb > 0 else np.zeros(n)
        )
    elif name == "r2":
        var_y = float(((y - y.mean()) ** 2).mean())
        if var_y == 0:
            est = Estimate(math.nan, math.nan, math.nan, level, "delta-paired", n)
            return MetricDifference(name, math.nan, math.nan, est, math.nan, math.nan, est.method)
        val_c, val_b = 1 - mse_c / var_y, 1 - mse_b / var_y
        dmse = mse_c - mse_b
        infl = -((sc - sb) - dmse) / var_y + dmse / var_y**2 * ((y - y.mean()) ** 2 - var_y)
    else:
        raise ValueError(name)
    d = val_c - val_b
    se = float(infl.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    est, pv = _from_normal(d, se, level, "delta-paired", n)
    return MetricDifference(name, val_c, val_b, est, pv, se, "delta-paired")


def difference(
    p: PairedPredictions,
    metrics: list[str],
    *,
    level: float = 0.95,
    n_bootstrap: int = 2000,
    mcnemar: str = "mid-p",
    seed: Seed = 0,
) -> list[MetricDifference]:
    """The paired difference of each metric in ``metrics`` (names from
    :data:`CLASSIFICATION_COMPARABLE`, :data:`REGRESSION_COMPARABLE` or, for generation, the
    per-example scores in ``p.scores``)."""
    ctx = _Context(p, level, n_bootstrap, seed)
    out = []
    for name in metrics:
        if p.task == "regression":
            out.append(_regression(ctx, name))
        elif p.task == "generation":
            out.append(_generation(ctx, name, mcnemar))
        else:
            out.append(_classification(ctx, metric_info(name, task="classification"), mcnemar))
    return out


def _classification(ctx: _Context, info: MetricInfo, mcnemar: str) -> MetricDifference:
    """The paired difference of a classification metric, by its catalogued paired test."""
    if info.function is not None and info.per_example:
        return _per_example(ctx, info, mcnemar)
    if info.paired_test == "mcnemar":
        if info.name != "accuracy":
            raise ValueError(f"{info.name}: McNemar needs per-example scores from its function")
        return _accuracy(ctx, mcnemar)
    if info.paired_test == "delong":
        return _roc_auc(ctx)
    if info.paired_test == "delong-influence":
        return _roc_auc_ovr_macro(ctx)
    return _confusion_difference(ctx, info.name)


def _per_example(ctx: _Context, info: MetricInfo, mcnemar: str) -> MetricDifference:
    """A metric with per-example scores from its own function: both models' scores on the same
    examples, 0/1 scores compared by McNemar, graded ones by a paired t interval."""
    assert info.function is not None
    p = ctx.p
    if info.needs_proba:
        labels, first, second = list(p.proba_labels), p.candidate_proba, p.baseline_proba
    else:
        labels, first, second = list(p.labels), p.candidate, p.baseline
    kwargs = {"labels": labels, **info.options}
    sc = np.asarray(info.function(p.y_true, first, **kwargs), dtype=np.float64)
    sb = np.asarray(info.function(p.y_true, second, **kwargs), dtype=np.float64)
    if info.paired_test == "mcnemar":
        return _paired_binary(info.name, sc == 1.0, sb == 1.0, ctx.level, mcnemar)
    return _paired_mean(info.name, sc, sb, ctx.level)
