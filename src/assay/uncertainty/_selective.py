"""Selective prediction: abstain on the least confident rows and measure the risk on the rest.

Definitions (``κ_i`` the confidence of row ``i``, higher = more sure; ``ℓ_i`` its loss, 0/1 for a
classifier: 1 when the predicted label is wrong):

* keeping the ``k`` most confident rows gives coverage ``k / n`` and selective risk
  ``(1/k) Σ_{i kept} ℓ_i``; the **risk–coverage curve** is that risk at every ``k`` (rows sorted by
  decreasing confidence; ties broken by row order, so the curve is deterministic);
* **AURC** is the mean of the curve over ``k = 1..n`` (Geifman et al. 2019); **excess AURC** is
  AURC minus the AURC of an oracle confidence that ranks every error last, which for 0/1 loss with
  error rate ``r`` is ``r + (1 − r) log(1 − r)`` (the continuous form), and for other losses
  (regression: absolute or squared error) the AURC of the rows sorted by increasing loss;
* **regression** abstains by a predicted spread: the confidence is ``−spread``, the loss the
  absolute or squared error, and the risk at a coverage is the mean loss of the rows kept, with
  a normal interval on that mean (:func:`selective_risk_at`, :func:`selective_risk_at_threshold`);
* **selective guaranteed risk** (SGR, Geifman & El-Yaniv 2017): given a target risk ``r*`` and
  ``δ``, a binary search over the calibration rows' confidences finds the lowest threshold ``θ``
  whose Clopper–Pearson upper bound at ``1 − δ / ⌈log2 (m + 1)⌉`` on the calibration risk is at most
  ``r*``. With probability at least ``1 − δ`` over the calibration draw, the risk on new rows
  with confidence ``≥ θ`` is at most ``r*``. Checked on the held-out rows: their coverage and
  risk at ``θ``, with Wilson intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import beta

from assay.errors import MetricError
from assay.stats import Estimate, wilson_interval
from assay.uncertainty._conformal import mean_estimate

__all__ = [
    "ConfidenceKind",
    "GuaranteedRisk",
    "RiskCoverage",
    "SelectiveAt",
    "SelectiveRisk",
    "aurc_estimates",
    "confidence_scores",
    "empirical_risk_threshold",
    "guaranteed_risk_threshold",
    "risk_coverage",
    "selective_at",
    "selective_at_threshold",
    "selective_risk_at",
    "selective_risk_at_threshold",
]

F = NDArray[np.float64]
ConfidenceKind = Literal["max_probability", "margin", "negative_entropy"]


def confidence_scores(proba: F, *, kind: ConfidenceKind = "max_probability") -> F:
    """A confidence per row from class probabilities (higher = more sure).

    ``max_probability``: ``max_c p_c``; ``margin``: the top probability minus the second;
    ``negative_entropy``: ``Σ_c p_c log p_c`` (0 for a one-hot row).
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise MetricError(f"proba must be (n_rows, n_classes ≥ 2); got shape {p.shape}")
    if kind == "max_probability":
        return p.max(axis=1)
    if kind == "margin":
        top2 = np.sort(p, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    if kind == "negative_entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    raise MetricError(
        f"confidence kind {kind!r} is unknown; use max_probability, margin or negative_entropy"
    )


def _order(confidence: F) -> NDArray[np.intp]:
    """Rows by decreasing confidence, ties in row order."""
    return np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")


def _most_confident(conf: F, coverage: float) -> tuple[NDArray[np.intp], int, int]:
    """The ``ceil(coverage · n)`` most confident rows, how many they are, and ``n``."""
    if not 0.0 < coverage <= 1.0:
        raise MetricError(f"coverage must be in (0, 1]; got {coverage}")
    n = len(conf)
    k = min(n, math.ceil(coverage * n - 1e-9))
    return _order(conf)[:k], k, n


@dataclass(frozen=True)
class RiskCoverage:
    """The risk–coverage curve and its areas.

    Attributes:
        coverage: ``k / n`` for ``k = 1..n``.
        risk: selective risk of the ``k`` most confident rows.
        aurc: the area under the curve (mean risk over ``k``).
        excess_aurc: ``aurc`` minus the oracle's (the continuous form for 0/1 losses, the
            rows sorted by loss otherwise).
        n: rows.
    """

    coverage: F
    risk: F
    aurc: float
    excess_aurc: float
    n: int

    def points(self, max_points: int = 101) -> list[dict[str, float]]:
        """At most ``max_points`` points of the curve, evenly spaced in ``k``, for plots."""
        if self.n == 0:
            return []
        idx = np.unique(np.linspace(0, self.n - 1, min(self.n, max_points)).round().astype(int))
        return [{"coverage": float(self.coverage[i]), "risk": float(self.risk[i])} for i in idx]


def risk_coverage(confidence: F, loss: F) -> RiskCoverage:
    """The risk–coverage curve of ``loss`` when rows are kept by decreasing ``confidence``.

    Example:
        >>> rc = risk_coverage(np.array([0.9, 0.8, 0.6]), np.array([0.0, 1.0, 0.0]))
        >>> rc.risk.tolist(), round(rc.aurc, 4)
        ([0.0, 0.5, 0.3333333333333333], 0.2778)
    """
    conf, los = _validated(confidence, loss)
    n = len(conf)
    if n == 0:
        empty = np.empty(0)
        return RiskCoverage(empty, empty, math.nan, math.nan, 0)
    k = np.arange(1, n + 1, dtype=np.float64)
    risk = np.cumsum(los[_order(conf)]) / k
    aurc = float(risk.mean())
    binary = bool(np.isin(los, (0.0, 1.0)).all())
    if binary:
        excess = aurc - _oracle_aurc(float(los.mean()))
    else:  # the oracle keeps the smallest losses first
        excess = aurc - float((np.cumsum(np.sort(los)) / k).mean())
    return RiskCoverage(k / n, risk, aurc, excess, n)


def aurc_estimates(
    confidence: F,
    loss: F,
    *,
    n_bootstrap: int = 200,
    random_state: np.random.Generator,
    level: float = 0.95,
) -> tuple[Estimate, Estimate]:
    """AURC and excess AURC with percentile bootstrap intervals over rows (each resample ranks
    its rows again)."""
    conf, los = _validated(confidence, loss)
    rc = risk_coverage(conf, los)
    n = rc.n
    if n < 2:
        return (
            Estimate.point(rc.aurc, n=n, level=level),
            Estimate.point(rc.excess_aurc, n=n, level=level),
        )
    draws = np.empty((n_bootstrap, 2))
    for b in range(n_bootstrap):
        idx = random_state.integers(0, n, size=n)
        r = risk_coverage(conf[idx], los[idx])
        draws[b] = r.aurc, r.excess_aurc
    tail = (1 - level) / 2 * 100
    out = []
    for j, v in enumerate((rc.aurc, rc.excess_aurc)):
        if math.isnan(v):
            out.append(Estimate.point(v, n=n, level=level))
            continue
        lo, hi = np.percentile(draws[:, j], [tail, 100 - tail])
        out.append(Estimate(v, float(lo), float(hi), level, "bootstrap", n))
    return out[0], out[1]


def _oracle_aurc(r: float) -> float:
    """AURC of a confidence that keeps every correct row first, for error rate ``r``."""
    if r <= 0.0:
        return 0.0
    if r >= 1.0:
        return 1.0
    return r + (1.0 - r) * math.log(1.0 - r)


def _validated(confidence: F, loss: F) -> tuple[F, F]:
    conf = np.asarray(confidence, dtype=np.float64)
    los = np.asarray(loss, dtype=np.float64)
    if conf.shape != los.shape or conf.ndim != 1:
        raise MetricError(
            f"confidence and loss must be 1-d of one length; got {conf.shape} and {los.shape}"
        )
    if not (np.isfinite(conf).all() and np.isfinite(los).all()):
        raise MetricError("confidence and loss must be finite numbers (no NaN or inf)")
    return conf, los


@dataclass(frozen=True)
class SelectiveAt:
    """The rows kept at one coverage (or one threshold) and how they fare.

    Attributes:
        target_coverage: the coverage asked for (NaN when a threshold was given).
        threshold: the lowest confidence kept.
        coverage: fraction of rows kept (Wilson interval).
        risk: mean 0/1 loss on the kept rows (Wilson interval).
        accuracy: ``1 − risk`` on the kept rows (Wilson interval).
        n_kept: rows kept.
    """

    target_coverage: float
    threshold: float
    coverage: Estimate
    risk: Estimate
    accuracy: Estimate
    n_kept: int


def selective_at(confidence: F, loss: F, coverage: float, *, level: float = 0.95) -> SelectiveAt:
    """Keep the ``ceil(coverage · n)`` most confident rows (0/1 ``loss``); their risk with a
    Wilson interval. The interval is conditional on the rows kept (the coverage is fixed by
    construction here, so the coverage estimate has no interval)."""
    conf, los = _validated(confidence, loss)
    kept, k, n = _most_confident(conf, coverage)
    errors = round(los[kept].sum())
    threshold = float(conf[kept].min()) if k else math.nan
    return SelectiveAt(
        float(coverage),
        threshold,
        Estimate.point(k / n if n else math.nan, n=n, level=level),
        wilson_interval(errors, k, level=level),
        wilson_interval(k - errors, k, level=level),
        k,
    )


def selective_at_threshold(
    confidence: F, loss: F, threshold: float, *, level: float = 0.95
) -> SelectiveAt:
    """Keep the rows whose confidence is at least ``threshold``: the coverage and the risk on
    them, each with a Wilson interval (both are random on rows the threshold was not chosen
    on)."""
    conf, los = _validated(confidence, loss)
    keep = conf >= threshold
    k = int(keep.sum())
    errors = round(los[keep].sum())
    return SelectiveAt(
        math.nan,
        float(threshold),
        wilson_interval(k, len(conf), level=level),
        wilson_interval(errors, k, level=level),
        wilson_interval(k - errors, k, level=level),
        k,
    )


@dataclass(frozen=True)
class SelectiveRisk:
    """The rows kept at one coverage (or threshold) and their mean loss, for a loss that is not
    0/1 (regression's absolute or squared error).

    Attributes:
        target_coverage: the coverage asked for (NaN when a threshold was given).
        threshold: the lowest confidence kept (NaN when no row is kept).
        coverage: fraction of rows kept (a point at a requested coverage; Wilson at a threshold).
        risk: mean loss of the kept rows, with a normal interval on the mean (conditional on
            the rows kept).
        n_kept: rows kept.
    """

    target_coverage: float
    threshold: float
    coverage: Estimate
    risk: Estimate
    n_kept: int


def selective_risk_at(
    confidence: F, loss: F, coverage: float, *, level: float = 0.95
) -> SelectiveRisk:
    """Keep the ``ceil(coverage · n)`` most confident rows; their mean ``loss`` (any
    non-negative loss) with a normal interval.

    Example:
        >>> s = selective_risk_at(-np.array([0.1, 0.5, 2.0, 1.0]), np.array([0.0, 1.0, 4.0, 2.0]), 0.5)
        >>> s.n_kept, s.risk.value
        (2, 0.5)
    """
    conf, los = _validated(confidence, loss)
    kept, k, n = _most_confident(conf, coverage)
    return SelectiveRisk(
        float(coverage),
        float(conf[kept].min()) if k else math.nan,
        Estimate.point(k / n if n else math.nan, n=n, level=level),
        mean_estimate(los[kept], level=level),
        k,
    )


def selective_risk_at_threshold(
    confidence: F, loss: F, threshold: float, *, level: float = 0.95
) -> SelectiveRisk:
    """Keep the rows whose confidence is at least ``threshold``: the coverage (Wilson) and their
    mean ``loss`` (normal interval)."""
    conf, los = _validated(confidence, loss)
    keep = conf >= threshold
    k = int(keep.sum())
    return SelectiveRisk(
        math.nan,
        float(threshold),
        wilson_interval(k, len(conf), level=level),
        mean_estimate(los[keep], level=level),
        k,
    )


@dataclass(frozen=True)
class GuaranteedRisk:
    """The largest coverage whose risk stays below a target, with SGR's guarantee.

    Attributes:
        target_risk: the risk ``r*`` the kept rows must stay under.
        delta: the guarantee holds with probability ``≥ 1 − delta`` over the calibration rows.
        threshold: the confidence threshold found (``inf``: no threshold meets the target; every
            row is referred).
        calibration_coverage: the fraction of calibration rows kept.
        calibration_risk: their empirical risk.
        risk_bound: the Clopper–Pearson bound that met the target (NaN when none did).
        n_calibration: calibration rows.
        guarantee: the statement, in words.
    """

    target_risk: float
    delta: float
    threshold: float
    calibration_coverage: float
    calibration_risk: float
    risk_bound: float
    n_calibration: int
    guarantee: str

    @property
    def found(self) -> bool:
        return math.isfinite(self.threshold)


def _risk_upper_bound(errors: int, m: int, delta: float) -> float:
    """One-sided Clopper–Pearson upper bound on a risk (``P(risk > bound) ≤ delta``)."""
    if m == 0:
        return 1.0
    if errors >= m:
        return 1.0
    return float(beta.ppf(1.0 - delta, errors + 1, m - errors))


def guaranteed_risk_threshold(
    confidence: F, loss: F, *, target_risk: float, delta: float = 0.05
) -> GuaranteedRisk:
    """Selection with guaranteed risk (Geifman & El-Yaniv 2017, algorithm 1) on calibration rows.

    A binary search over the sorted calibration confidences, ``⌈log2 (m + 1)⌉`` steps, each tested at
    ``δ / ⌈log2 (m + 1)⌉`` (a union bound over the steps). Returns the lowest threshold (the largest
    coverage) whose bound is at most ``target_risk``.

    Raises:
        MetricError: ``target_risk`` or ``delta`` outside (0, 1), or ``loss`` not 0/1.
    """
    conf, los = _validated(confidence, loss)
    if not (0.0 < target_risk < 1.0 and 0.0 < delta < 1.0):
        raise MetricError(f"target_risk and delta must be in (0, 1); got {target_risk} and {delta}")
    if not np.isin(los, (0.0, 1.0)).all():
        raise MetricError("guaranteed_risk_threshold needs 0/1 losses (1 = wrong)")
    m = len(conf)
    order = _order(conf)
    sorted_conf = conf[order]
    cum_errors = np.cumsum(los[order])
    steps = max(1, math.ceil(math.log2(m + 1)))
    d = delta / steps
    guarantee = (
        f"with probability ≥ {1 - delta:g} over the {m} calibration rows, the error rate on new "
        f"rows kept (confidence ≥ threshold) is ≤ {target_risk:g} (SGR, Clopper–Pearson at "
        f"δ/{steps})"
    )
    lo, hi = 1, m  # how many of the most confident rows to keep
    best: tuple[int, float] | None = None
    for _ in range(steps):
        if lo > hi:
            break
        j = (lo + hi + 1) // 2
        # a threshold keeps every row tied with the j-th most confident one
        k = int(np.searchsorted(-sorted_conf, -sorted_conf[j - 1], side="right"))
        bound = _risk_upper_bound(int(cum_errors[k - 1]), k, d)
        if bound <= target_risk:
            best = (k, bound)
            lo = j + 1
        else:
            hi = j - 1
    if best is None:
        return GuaranteedRisk(target_risk, delta, math.inf, 0.0, math.nan, math.nan, m, guarantee)
    k, bound = best
    return GuaranteedRisk(
        target_risk,
        delta,
        float(sorted_conf[k - 1]),
        k / m,
        float(cum_errors[k - 1] / k),
        bound,
        m,
        guarantee,
    )


def empirical_risk_threshold(confidence: F, loss: F, *, target_risk: float) -> float:
    """The lowest confidence threshold whose kept rows have an empirical risk ``≤ target_risk``
    (the largest such coverage; a threshold keeps ties). No guarantee: measure it on other rows.
    ``inf`` when even the most confident row alone is over the target."""
    conf, los = _validated(confidence, loss)
    order = _order(conf)
    s = conf[order]
    last = np.r_[s[1:] != s[:-1], True] if len(s) else np.zeros(0, bool)
    k = np.arange(1, len(s) + 1)
    risk = np.cumsum(los[order]) / k
    ok = np.flatnonzero(last & (risk <= target_risk + 1e-12))
    return float(s[ok[-1]]) if len(ok) else math.inf
