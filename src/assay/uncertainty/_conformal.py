"""Split conformal prediction: sets of labels (classification) and intervals (regression).

Split conformal (Vovk et al. 2005; Angelopoulos & Bates 2021): a nonconformity score ``s`` is
computed on ``n`` calibration rows; ``q̂`` is their ``k``-th smallest score with
``k = ⌈(n + 1)(1 − α)⌉``; a new row's set holds every answer whose score is at most ``q̂``. If the
rows are exchangeable, ``P(truth ∈ set) ≥ 1 − α`` (and ``≤ 1 − α + 1/(n + 1)`` without ties).

**The smallest calibration set**: ``k ≤ n`` holds iff ``n ≥ ⌈1/α⌉ − 1`` (``(n+1)(1−α) ≤ n``
⟺ ``n ≥ 1/α − 1``); below that ``q̂`` would be the ``(n+1)``-th score, infinite, and the sets would
hold everything. :func:`min_calibration_size` gives that ``n``; :func:`conformal_quantile` raises
naming it.

Scores (``p`` the class probabilities, ``y`` the true class):

* ``lac`` (Sadinle et al. 2019): ``1 − p_y``; a set holds the classes with ``1 − p_c ≤ q̂``;
* ``aps`` (Romano et al. 2020): the probability mass of the classes ranked at or above ``y``
  (sorted by decreasing ``p``), minus ``u · p_y`` with ``u ~ U(0, 1)`` when randomised; a set
  holds the classes in decreasing order until their mass reaches ``q̂`` (the class that crosses
  it included, as MAPIE's ``include_last_label=True``);
* ``raps`` (Angelopoulos et al. 2021): the APS mass plus ``λ · max(0, rank(y) − k_reg)``, a
  penalty on classes ranked past ``k_reg``; a set holds the classes whose own score is at most
  ``q̂`` (a prefix of the ranking), so large, unlikely sets are cut;
* regression ``absolute``: ``|y − ŷ|``, interval ``ŷ ± q̂``; ``normalized`` with a predicted
  spread ``σ``: ``|y − ŷ| / σ``, interval ``ŷ ± q̂ σ``; ``quantile`` (CQR, Romano et al. 2019) with
  predicted quantiles ``[lo, hi]``: ``max(lo − y, y − hi)``, interval ``[lo − q̂, hi + q̂]``.

Comparisons with ``q̂`` allow MAPIE's ``1e-8`` slack, so sets equal MAPIE's on the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from assay.errors import MetricError
from assay.stats import Estimate, wilson_interval

__all__ = [
    "ClassificationMethod",
    "ConformalResult",
    "RegressionMethod",
    "aps_scores",
    "aps_sets",
    "conformal_classification",
    "conformal_quantile",
    "conformal_regression",
    "coverage_flag",
    "lac_scores",
    "lac_sets",
    "min_calibration_size",
    "raps_scores",
    "raps_sets",
]

F = NDArray[np.float64]
Idx = NDArray[np.intp]
B = NDArray[np.bool_]
ClassificationMethod = Literal["lac", "aps", "raps"]
RegressionMethod = Literal["absolute", "normalized", "quantile"]
#: MAPIE's slack on comparisons with the quantile (``mapie._machine_precision.EPSILON``).
_EPS = 1e-8


def min_calibration_size(alpha: float) -> int:
    """The fewest calibration rows for which split conformal at ``alpha`` gives a finite
    threshold: ``⌈1/α⌉ − 1`` (9 for α = 0.1, 19 for α = 0.05)."""
    _check_alpha(alpha)
    n = 1
    while math.ceil((n + 1) * (1 - alpha)) > n:  # the exact rule, free of rounding in 1/α
        n += 1
    return n


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise MetricError(f"alpha must be in (0, 1); got {alpha}")


def conformal_quantile(scores: F, alpha: float) -> float:
    """The ``⌈(n + 1)(1 − α)⌉``-th smallest calibration score.

    Raises:
        MetricError: fewer calibration rows than :func:`min_calibration_size`.
    """
    _check_alpha(alpha)
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    n = len(s)
    k = math.ceil((n + 1) * (1 - alpha))
    if k > n:
        raise MetricError(
            f"{n} calibration rows are too few for alpha={alpha:g}: split conformal needs "
            f"n ≥ ⌈1/α⌉ − 1 = {min_calibration_size(alpha)} (⌈(n+1)(1−α)⌉ ≤ n); use a larger "
            "calibration split or a larger alpha"
        )
    return float(s[k - 1])


def lac_scores(proba: F, codes: Idx) -> F:
    """``1 − p_y`` per row."""
    return 1.0 - proba[np.arange(len(codes)), codes]


def lac_sets(proba: F, q: float) -> B:
    """The LAC sets: class ``c`` is in when ``1 − p_c ≤ q̂``."""
    return (1.0 - proba) - q <= _EPS


def _sorted_cumsum(proba: F) -> tuple[Idx, F]:
    # MAPIE's order: argsort ascending, reversed (ties: the later class first)
    order = np.fliplr(np.argsort(proba, axis=1))
    return order, np.cumsum(np.take_along_axis(proba, order, axis=1), axis=1)


def aps_scores(proba: F, codes: Idx, *, u: F | None = None) -> F:
    """APS scores: the mass of the classes ranked at or above the truth, minus ``u · p_y``
    when ``u`` (uniform draws, one per row) is given."""
    order, cums = _sorted_cumsum(proba)
    rank = np.argmax(order == codes[:, None], axis=1)
    scores = cums[np.arange(len(codes)), rank]
    if u is not None:
        scores = scores - np.asarray(u, dtype=np.float64) * proba[np.arange(len(codes)), codes]
    return scores


def aps_sets(proba: F, q: float) -> B:
    """APS sets: classes by decreasing probability until their mass reaches ``q̂`` (that class
    included, with every class as probable as it)."""
    order, cums = _sorted_cumsum(proba)
    reached = cums - q >= -_EPS
    # the first sorted position whose mass reaches q̂ (the last if rounding keeps all below it)
    last = np.where(reached.any(axis=1), np.argmax(reached, axis=1), proba.shape[1] - 1)
    p_last = np.take_along_axis(proba, order, axis=1)[np.arange(len(proba)), last]
    return proba - p_last[:, None] >= -_EPS


def _raps_all(proba: F, lam: float, k_reg: int) -> F:
    """The RAPS score of every class of every row."""
    order, cums = _sorted_cumsum(proba)
    ranks = np.arange(1, proba.shape[1] + 1)
    penalised = cums + lam * np.maximum(0, ranks - k_reg)
    out = np.empty_like(penalised)
    np.put_along_axis(out, order, penalised, axis=1)
    return out


def raps_scores(proba: F, codes: Idx, *, lam: float = 0.01, k_reg: int = 1) -> F:
    """RAPS scores of the true classes: APS mass + ``lam · max(0, rank − k_reg)``."""
    return _raps_all(proba, lam, k_reg)[np.arange(len(codes)), codes]


def raps_sets(proba: F, q: float, *, lam: float = 0.01, k_reg: int = 1) -> B:
    """RAPS sets: the classes whose RAPS score is at most ``q̂``."""
    return _raps_all(proba, lam, k_reg) - q <= _EPS


@dataclass(frozen=True)
class ConformalResult:
    """Split conformal on calibration rows, checked on held-out rows.

    Attributes:
        method: ``lac``, ``aps``, ``absolute``, ``normalized`` or ``quantile``.
        alpha: the miscoverage asked for; nominal coverage ``1 − alpha``.
        quantile: ``q̂``.
        n_calibration: calibration rows.
        coverage: fraction of held-out rows whose set (interval) holds the truth (Wilson).
        size: mean set size, or mean interval width (normal interval on the mean).
        covered: per held-out row, whether its set holds the truth.
        sizes: per held-out row, its set size or interval width.
        sets: per held-out row and class, set membership (classification; else ``None``).
        lower, upper: interval bounds per held-out row (regression; else ``None``).
    """

    method: str
    alpha: float
    quantile: float
    n_calibration: int
    coverage: Estimate
    size: Estimate
    covered: B
    sizes: F
    sets: B | None = None
    lower: F | None = None
    upper: F | None = None

    @property
    def nominal(self) -> float:
        return 1.0 - self.alpha

    def size_histogram(self) -> dict[str, int]:
        """How many held-out sets have each size (classification)."""
        values, counts = np.unique(self.sizes.astype(int), return_counts=True)
        return {str(int(v)): int(c) for v, c in zip(values, counts)}

    def subset(self, select: B, *, level: float) -> tuple[Estimate, Estimate]:
        """Coverage and mean size on the held-out rows where ``select`` is true."""
        return (
            wilson_interval(int(self.covered[select].sum()), int(select.sum()), level=level),
            mean_estimate(self.sizes[select], level=level),
        )


def mean_estimate(x: F, *, level: float) -> Estimate:
    """The mean with a normal-approximation interval (``mean ± z · sd / √n``)."""
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, level, "normal", 0)
    mean = float(np.mean(x))
    if n == 1:
        return Estimate(mean, math.nan, math.nan, level, "normal", 1)
    half = float(ndtri(0.5 + level / 2) * np.std(x, ddof=1) / math.sqrt(n))
    return Estimate(mean, mean - half, mean + half, level, "normal", n)


def conformal_classification(
    cal_proba: F,
    cal_codes: Idx,
    test_proba: F,
    test_codes: Idx,
    *,
    alpha: float,
    method: ClassificationMethod = "aps",
    randomized: bool = False,
    random_state: np.random.Generator | None = None,
    raps_lambda: float = 0.01,
    raps_k_reg: int = 1,
    level: float = 0.95,
) -> ConformalResult:
    """Split conformal label sets fitted on the calibration rows, scored on the test rows.

    Args:
        randomized: APS only: subtract ``u · p_y`` from the calibration scores (``u`` drawn from
            ``random_state``), as MAPIE does; the test sets always include the class that
            crosses ``q̂``, so the coverage guarantee holds either way.
        raps_lambda, raps_k_reg: RAPS's penalty per class ranked past ``raps_k_reg``.

    Raises:
        MetricError: too few calibration rows for ``alpha``, an unknown method.

    Example:
        >>> p = np.tile([[0.7, 0.2, 0.1]], (20, 1))
        >>> r = conformal_classification(p, np.zeros(20, int), p, np.zeros(20, int), alpha=0.1)
        >>> r.coverage.value, r.size.value
        (1.0, 1.0)
    """
    if method == "lac":
        scores = lac_scores(cal_proba, cal_codes)
    elif method == "aps":
        u = None
        if randomized:
            rng = random_state if random_state is not None else np.random.default_rng(0)
            u = rng.uniform(size=len(cal_codes))
        scores = aps_scores(cal_proba, cal_codes, u=u)
    elif method == "raps":
        scores = raps_scores(cal_proba, cal_codes, lam=raps_lambda, k_reg=raps_k_reg)
    else:
        raise MetricError(
            f"conformal method {method!r} is unknown for labels; use lac, aps or raps"
        )
    q = conformal_quantile(scores, alpha)
    if method == "lac":
        sets = lac_sets(test_proba, q)
    elif method == "aps":
        sets = aps_sets(test_proba, q)
    else:
        sets = raps_sets(test_proba, q, lam=raps_lambda, k_reg=raps_k_reg)
    covered = sets[np.arange(len(test_codes)), test_codes]
    sizes = sets.sum(axis=1).astype(np.float64)
    return ConformalResult(
        method,
        alpha,
        q,
        len(cal_codes),
        wilson_interval(int(covered.sum()), len(covered), level=level),
        mean_estimate(sizes, level=level),
        covered,
        sizes,
        sets=sets,
    )


def conformal_regression(
    cal_true: F,
    cal_pred: F,
    test_true: F,
    test_pred: F,
    *,
    alpha: float,
    method: RegressionMethod = "absolute",
    cal_spread: F | None = None,
    test_spread: F | None = None,
    level: float = 0.95,
) -> ConformalResult:
    """Split conformal intervals. ``cal_pred``/``test_pred`` are point predictions (shape
    ``(n,)``) or, for ``quantile``, lower and upper quantiles (shape ``(n, 2)``); ``normalized``
    needs the predicted spreads (positive).

    Raises:
        MetricError: too few calibration rows, a method without what it needs.
    """
    yc, yt = np.asarray(cal_true, float), np.asarray(test_true, float)
    pc, pt = np.asarray(cal_pred, float), np.asarray(test_pred, float)
    if method == "absolute":
        q = conformal_quantile(np.abs(yc - pc), alpha)
        lo, hi = pt - q, pt + q
    elif method == "normalized":
        if cal_spread is None or test_spread is None:
            raise MetricError(
                "conformal method 'normalized' needs a predicted spread for every row; the "
                "model gives none: use method 'absolute'"
            )
        sc, st = np.asarray(cal_spread, float), np.asarray(test_spread, float)
        if (sc <= 0).any() or (st <= 0).any():
            raise MetricError("a predicted spread must be positive for method 'normalized'")
        q = conformal_quantile(np.abs(yc - pc) / sc, alpha)
        lo, hi = pt - q * st, pt + q * st
    elif method == "quantile":
        if pc.ndim != 2 or pc.shape[1] != 2 or pt.ndim != 2 or pt.shape[1] != 2:
            raise MetricError(
                "conformal method 'quantile' needs lower and upper predicted quantiles per row "
                "(shape (n, 2)); the model gives one value: use method 'absolute'"
            )
        q = conformal_quantile(np.maximum(pc[:, 0] - yc, yc - pc[:, 1]), alpha)
        lo, hi = pt[:, 0] - q, pt[:, 1] + q
    else:
        raise MetricError(
            f"conformal method {method!r} is unknown for regression; use absolute, "
            "normalized or quantile"
        )
    covered = (yt >= lo) & (yt <= hi)
    widths = hi - lo
    return ConformalResult(
        method,
        alpha,
        q,
        len(yc),
        wilson_interval(int(covered.sum()), len(covered), level=level),
        mean_estimate(widths, level=level),
        covered,
        widths,
        lower=lo,
        upper=hi,
    )


def coverage_flag(result: ConformalResult, *, where: str = "") -> str | None:
    """A warning when the nominal coverage lies outside the interval of the held-out coverage
    (too low: the guarantee's exchangeability fails; too high: sets larger than needed)."""
    c = result.coverage
    if not c.defined or c.contains(result.nominal):
        return None
    side = "below" if c.upper < result.nominal else "above"
    return (
        f"conformal coverage{where} {c.value:.3f} [{c.lower:.3f}, {c.upper:.3f}] is {side} the "
        f"nominal {result.nominal:g} (method {result.method}, n={c.n})"
        + ("; are the calibration and test rows exchangeable?" if side == "below" else "")
    )
