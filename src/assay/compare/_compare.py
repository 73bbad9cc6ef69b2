"""The decision: paired differences → Holm → non-inferiority → go / no-go / inconclusive.

For each compared metric the *improvement* is ``candidate − baseline`` where higher is better and
``baseline − candidate`` where lower is better, with margin ``m ≥ 0`` (the loss one accepts):

- **worse**: ``H0: improvement ≥ −m`` is rejected at ``alpha`` after Holm's correction across the
  metrics (a one-sided z-test on the paired standard error). Any worse metric → **no-go**.
- **non-inferior**: ``H0: improvement ≤ −m`` is rejected at ``alpha`` (one-sided). All metrics
  non-inferior → **go**. This is an intersection-union test, which needs no multiplicity correction
  (Berger 1982); with ``require_improvement`` at least one metric must also be *better*.
- **better / worse than baseline** (no margin): the metric's own two-sided test (McNemar, DeLong,
  bootstrap, paired t), Holm-adjusted across the metrics.
- otherwise **inconclusive**, with the sample size that would settle it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtr

from assay.compare._metrics import (
    CLASSIFICATION_COMPARABLE,
    REGRESSION_COMPARABLE,
    MetricDifference,
    difference,
)
from assay.compare._paired import PairedPredictions
from assay.errors import ConfigError
from assay.metrics import MetricInfo, find_metric, headline_metrics, metric_info, metrics_for
from assay.stats._estimate import Estimate
from assay.stats._paired_tests import holm, min_detectable_effect, required_sample_size
from assay.stats._random import Seed

__all__ = [
    "CompareOptions",
    "Comparison",
    "MetricComparison",
    "Verdict",
    "compare_paired",
    "default_metrics",
]

Verdict = Literal["go", "no-go", "inconclusive"]


class CompareOptions(BaseModel):
    """How two models are compared (``checks.compare`` in a suite, or ``assay compare`` options).

    Attributes:
        baseline: the model in production (default: ``baseline`` if the suite names one, else the
            last model listed).
        metrics: metrics to compare (default: accuracy, f1_macro and, with probabilities, roc_auc
            on a binary problem or roc_auc_ovr_macro on a multiclass one; rmse and mae for
            regression; for generated text, every per-example metric the generation check
            scores: exact_match, token_f1, rouge1/2/L, embedding_cosine, json_valid,
            json_schema_valid, refusal_rate).
        margins: non-inferiority margin per metric: how much worse the candidate may be and still
            ship (in the metric's units, e.g. ``{accuracy: 0.01}``).
        default_margin: the margin of metrics not in ``margins``.
        alpha: significance level of every test (default: ``1 − level`` of the suite).
        power: the power the sample-size advice aims for.
        require_improvement: ``go`` also needs at least one metric significantly better.
        n_bootstrap: paired bootstrap resamples (metrics without a closed-form test).
        mcnemar: ``mid-p`` (default) or ``exact`` McNemar test for accuracy.
    """

    model_config = ConfigDict(extra="forbid")

    baseline: str | None = None
    metrics: list[str] | None = None
    margins: dict[str, float] = Field(default_factory=dict)
    default_margin: float = Field(default=0.0, ge=0)
    alpha: float | None = Field(default=None, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    require_improvement: bool = False
    n_bootstrap: int = Field(default=2000, ge=100)
    mcnemar: Literal["mid-p", "exact"] = "mid-p"

    def margin(self, metric: str) -> float:
        return float(self.margins.get(metric, self.default_margin))


@dataclass(frozen=True)
class MetricComparison:
    """One metric: both values, the paired difference, the tests, the status and the advice."""

    metric: str
    direction: Literal["higher", "lower"]
    candidate: float
    baseline: float
    difference: Estimate
    method: str
    p_value: float
    p_holm: float
    margin: float
    p_noninferior: float
    p_worse_holm: float
    status: Literal["better", "non-inferior", "worse", "inconclusive"]
    se: float
    mde: float
    n_for_margin: float
    n_for_observed: float

    @property
    def improvement(self) -> float:
        d = self.difference.value
        return d if self.direction == "higher" else -d


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing a candidate with a baseline on the same examples."""

    candidate: str
    baseline: str
    dataset: str
    n: int
    task: str
    level: float
    alpha: float
    verdict: Verdict
    reasons: list[str]
    metrics: list[MetricComparison]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN and infinities become None)."""

        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x

        rows = []
        for m in self.metrics:
            row = asdict(m)
            row["difference"] = m.difference.to_dict()
            rows.append(clean(row))
        return clean(
            {
                "candidate": self.candidate,
                "baseline": self.baseline,
                "dataset": self.dataset,
                "n": self.n,
                "task": self.task,
                "level": self.level,
                "alpha": self.alpha,
                "verdict": self.verdict,
                "reasons": list(self.reasons),
                "notes": list(self.notes),
                "metrics": rows,
            }
        )


def _available(p: PairedPredictions, info: MetricInfo) -> bool:
    """Whether both models have what the metric needs (scores, class probabilities)."""
    if not info.needs_proba:
        return True
    if info.classes == "binary" and info.function is None:
        return p.candidate_score is not None and p.baseline_score is not None
    return p.candidate_proba is not None and p.baseline_proba is not None


def default_metrics(p: PairedPredictions) -> list[str]:
    """The metrics compared when none are named: the catalogue's two first headline metrics of
    the task and, where both models have scores, its headline metric of scores (ROC AUC)."""
    if p.task == "generation":
        return list(p.scores)
    heads = [metric_info(name, task=p.task) for name in headline_metrics(p.task)]
    out = [m.name for m in heads if not m.needs_proba and (m.headline or 0) <= 2]
    return out + [m.name for m in heads if m.needs_proba and _available(p, m)]


def _check_metrics(p: PairedPredictions, metrics: list[str], where: str) -> None:
    known: Sequence[str] = (
        REGRESSION_COMPARABLE
        if p.task == "regression"
        else tuple(p.scores)
        if p.task == "generation"
        else CLASSIFICATION_COMPARABLE
    )
    for m in metrics:
        if m not in known:
            raise ConfigError(
                f"{where}.metrics: {m!r} cannot be compared for {p.task}; "
                f"comparable metrics: {', '.join(known)}"
            )
        if p.task != "classification":
            continue
        info = metric_info(m, task="classification")
        if _available(p, info):
            continue
        other = [
            a.name
            for a in metrics_for("classification")
            if a.name in known and a.headline is not None and a.headline == info.headline
            and a.classes != info.classes
        ]
        if info.classes == "binary":
            raise ConfigError(
                f"{where}.metrics: {m} needs both models' positive-class probabilities on a "
                "binary problem; remove it or use models that return probabilities"
                + (
                    f"; on a multiclass problem compare {', '.join(other)}"
                    if other and p.candidate_proba is not None
                    else ""
                )
            )
        raise ConfigError(
            f"{where}.metrics: {m} needs both models' class probabilities on a "
            "multiclass problem (kept in per_example.proba since report schema 1.1); "
            + (f"use {', '.join(other)} for a binary problem, or " if other else "use ")
            + "models that return probabilities"
        )


def _fmt(x: float) -> str:
    return "undefined" if not math.isfinite(x) else f"{x:+.4f}"


def _fmt_n(x: float) -> str:
    return "∞" if math.isinf(x) else ("undefined" if math.isnan(x) else f"{math.ceil(x):,}")


def compare_paired(
    p: PairedPredictions,
    options: CompareOptions | None = None,
    *,
    candidate: str = "candidate",
    baseline: str = "baseline",
    dataset: str = "test",
    level: float = 0.95,
    seed: Seed = 0,
    where: str = "checks.compare",
) -> Comparison:
    """Compare two models' predictions on the same examples and decide.

    Args:
        p: the aligned predictions.
        options: metrics, margins and test settings.
        candidate, baseline, dataset: names for the outcome.
        level: confidence level of the intervals (``alpha`` defaults to ``1 − level``).
        seed: the bootstrap's randomness, a :data:`assay.stats.Seed` (an int, a generator, a
            ``SeedSequence`` or ``None``).
        where: the YAML path or option the options came from, for error messages.

    Returns:
        The Comparison: per-metric differences, tests, statuses, advice, the verdict and reasons.

    Raises:
        ConfigError: a metric that cannot be compared for this task.
    """
    opts = options or CompareOptions()
    alpha = opts.alpha if opts.alpha is not None else round(1 - level, 10)
    metrics = list(opts.metrics) if opts.metrics else default_metrics(p)
    _check_metrics(p, metrics, where)
    for m in opts.margins:
        if m not in metrics:
            raise ConfigError(
                f"{where}.margins: {m!r} is not a compared metric ({', '.join(metrics)})"
            )
    diffs: list[MetricDifference] = difference(
        p,
        metrics,
        level=level,
        n_bootstrap=opts.n_bootstrap,
        mcnemar=opts.mcnemar,
        seed=seed,
    )
    p_holm = holm([d.p_value for d in diffs])
    rows = []
    p_worse = []
    for d in diffs:
        info = find_metric(d.metric, task=p.task)
        lower = info is not None and info.lower_is_better
        direction: Literal["higher", "lower"] = "lower" if lower else "higher"
        imp = d.difference.value if direction == "higher" else -d.difference.value
        margin = opts.margin(d.metric)
        if math.isfinite(d.se) and d.se > 0 and math.isfinite(imp):
            zstat = (imp + margin) / d.se
            p_ni, p_w = float(ndtr(-zstat)), float(ndtr(zstat))
        elif math.isfinite(imp) and d.se == 0:
            p_ni, p_w = float(imp + margin <= 0), float(imp + margin >= 0)
        else:
            p_ni = p_w = math.nan
        p_worse.append(p_w)
        rows.append((d, direction, imp, margin, p_ni))
    p_worse_holm = holm(p_worse)
    out: list[MetricComparison] = []
    for (d, direction, imp, margin, p_ni), ph, pw in zip(rows, p_holm, p_worse_holm):
        status: Literal["better", "non-inferior", "worse", "inconclusive"]
        if pw <= alpha:
            status = "worse"
        elif p_ni <= alpha:
            status = "better" if (ph <= alpha and imp > 0) else "non-inferior"
        else:
            status = "inconclusive"
        mde = min_detectable_effect(d.se, alpha=alpha, power=opts.power)
        n_margin = (
            required_sample_size(d.se, p.n, margin, alpha=alpha, power=opts.power)
            if margin > 0
            else math.inf
        )
        n_obs = (
            required_sample_size(d.se, p.n, abs(imp), alpha=alpha / 2, power=opts.power)
            if math.isfinite(imp) and imp != 0
            else math.inf
        )
        out.append(
            MetricComparison(
                d.metric,
                direction,
                d.candidate,
                d.baseline,
                d.difference,
                d.method,
                d.p_value,
                float(ph),
                margin,
                p_ni,
                float(pw),
                status,
                d.se,
                mde,
                n_margin,
                n_obs,
            )
        )
    verdict, reasons = _decide(out, opts, alpha, where=where, identical=identical_answers(p))
    return Comparison(
        candidate,
        baseline,
        dataset,
        p.n,
        p.task,
        level,
        alpha,
        verdict,
        reasons,
        out,
        list(p.notes),
    )


def margin_hint(where: str) -> str:
    """How to declare a margin, in the words of where the options came from: the command's
    flags (``assay compare``), the suite's YAML path, or the Python argument."""
    if where.startswith("assay "):
        return "--margin METRIC=VALUE or --default-margin VALUE"
    if where.startswith("checks."):
        return f"{where}.margins or {where}.default_margin"
    return "margins={metric: value} or default_margin=value"


def identical_answers(p: PairedPredictions) -> bool:
    """Whether the two models gave the same answer (and the same scores) on every example: a
    report compared with itself, or a model compared with its copy."""

    def same(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return a is None and b is None
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))

    pairs = [
        (p.candidate, p.baseline),
        (p.candidate_score, p.baseline_score),
        (p.candidate_proba, p.baseline_proba),
        *p.scores.values(),
    ]
    return len(p.ids) > 0 and all(same(a, b) for a, b in pairs)


def _decide(
    rows: list[MetricComparison],
    opts: CompareOptions,
    alpha: float,
    *,
    where: str,
    identical: bool = False,
) -> tuple[Verdict, list[str]]:
    if identical and rows:
        same = (
            f"identical: the two models give the same answers on all {rows[0].difference.n} "
            f"examples, so every compared metric ({', '.join(m.metric for m in rows)}) is equal; "
            "nothing differs to test"
        )
        if opts.require_improvement:
            return "inconclusive", [f"{same}, and require_improvement asks for a better metric"]
        return "go", [same]
    worse = [m for m in rows if m.status == "worse"]
    unsure = [m for m in rows if m.status == "inconclusive"]
    better = [m for m in rows if m.status == "better"]
    reasons = []
    for m in worse:
        reasons.append(
            f"{m.metric} is worse than the baseline by more than the margin {m.margin:g}: "
            f"Δ = {_fmt(m.difference.value)} [{_fmt(m.difference.lower)}, "
            f"{_fmt(m.difference.upper)}], p (Holm) = {m.p_worse_holm:.3g}"
        )
    if worse:
        return "no-go", reasons
    for m in unsure:
        advice = (
            f"about {_fmt_n(m.n_for_margin)} examples would settle it at margin {m.margin:g}"
            if m.margin > 0
            else f"the smallest difference detectable at n={m.difference.n} is ±{m.mde:.4f}; "
            f"declare a margin ({margin_hint(where)}) to make non-inferiority decidable"
        )
        reasons.append(
            f"{m.metric}: cannot tell whether the candidate is at most {m.margin:g} worse: "
            f"Δ = {_fmt(m.difference.value)} [{_fmt(m.difference.lower)}, "
            f"{_fmt(m.difference.upper)}]; {advice}"
        )
    if unsure:
        return "inconclusive", reasons
    if opts.require_improvement and not better:
        return "inconclusive", [
            "every metric is non-inferior, but none is significantly better "
            f"(Holm-adjusted, alpha = {alpha:g}) and require_improvement is set"
        ]
    for m in rows:
        what = "better than" if m.status == "better" else "non-inferior to"
        reasons.append(
            f"{m.metric} is {what} the baseline (margin {m.margin:g}): Δ = "
            f"{_fmt(m.difference.value)} [{_fmt(m.difference.lower)}, {_fmt(m.difference.upper)}]"
        )
    return "go", reasons
