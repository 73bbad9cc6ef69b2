"""Two-sample statistics for drift, vectorised: numeric columns from sorted arrays, categorical
columns from counts.

Numeric statistics share one merge of the sorted reference and current values (a stable argsort
of the two sorted runs, which is a linear merge), from which both empirical CDFs follow by a
cumulative sum: the Kolmogorov–Smirnov distance, the Wasserstein-1 and the energy distance are
sums over that merge, so a 1e6-row column costs one sort per side and one merge. They equal scipy's ``ks_2samp``,
``wasserstein_distance`` and ``energy_distance`` (tests, 1e-9). Anderson–Darling and
Cramér–von Mises (on request only) are scipy's own functions: their p-values come from tables or
exact distributions that are scipy's to keep.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

__all__ = [
    "PSI_FLOOR",
    "CategoricalTest",
    "MergedCDF",
    "anderson_darling",
    "chi_squared",
    "cramer_von_mises",
    "jensen_shannon",
    "ks_pvalue",
    "merge_sorted",
    "psi",
]

#: A bin's share below this is taken as this in PSI (which is infinite on an empty bin), as
#: Evidently and most PSI write-ups do.
PSI_FLOOR = 1e-4

#: ``warnings.catch_warnings`` swaps the process-wide filters on entry and back on exit: columns
#: run in threads, so two such blocks must never interleave (one would restore the other's
#: filters mid-call and scipy's notice would surface as an error).
_QUIET = threading.Lock()

#: ks_2samp's own rule: exact p-values while both samples have at most this many values.
_KS_EXACT_MAX_N = 10_000


@dataclass(frozen=True)
class MergedCDF:
    """The two empirical CDFs on the union of the values (each distinct value once).

    Attributes:
        x: the distinct values of both samples, ascending.
        gap: ``F_ref(x) - F_cur(x)``, the share of reference values ``<= x`` minus the share of
            current values ``<= x``.
        n_ref, n_cur: the sample sizes.
    """

    x: NDArray[np.float64]
    gap: NDArray[np.float64]
    n_ref: int
    n_cur: int

    @cached_property
    def _dx(self) -> NDArray[np.float64]:
        """The widths between consecutive distinct values (shared by Wasserstein and energy)."""
        return np.diff(self.x)

    @property
    def ks(self) -> float:
        """Kolmogorov–Smirnov distance ``max |F_ref - F_cur|`` (scipy's ``ks_2samp`` statistic)."""
        return float(max(self.gap.max(), -self.gap.min()))

    @property
    def wasserstein(self) -> float:
        """Wasserstein-1 distance ``∫ |F_ref - F_cur| dx`` (scipy's ``wasserstein_distance``)."""
        return float(np.dot(np.abs(self.gap[:-1]), self._dx))

    @property
    def energy(self) -> float:
        """Energy distance ``sqrt(2 ∫ (F_ref - F_cur)² dx)`` (scipy's ``energy_distance``)."""
        g = self.gap[:-1]
        return float(math.sqrt(2.0 * float(np.dot(g * g, self._dx))))


def merge_sorted(ref_sorted: NDArray[np.float64], cur_sorted: NDArray[np.float64]) -> MergedCDF:
    """Merge two ascending, finite, non-empty samples into their CDFs on the union of values.

    A stable argsort of the two sorted runs laid end to end is one linear merge (timsort finds
    the runs and gallops through them); it puts each current value after the equal reference
    values and says, by its index, which sample every merged value comes from. The CDFs are
    cumulative counts read at the last position of each run of equal values.
    """
    n, m = ref_sorted.size, cur_sorted.size
    both = np.concatenate([ref_sorted, cur_sorted])
    order = np.argsort(both, kind="stable")
    values = both[order]
    count = np.int32 if n + m < 2**31 else np.int64
    c_cur = np.cumsum(order >= n, dtype=count)  # current values at or before each position
    del order
    # F_ref - F_cur = (k - c_cur)/n - c_cur/m at position k (1-based), without a second array
    gap = np.arange(1, n + m + 1, dtype=np.float64)
    gap /= n
    gap -= np.multiply(c_cur, 1.0 / n + 1.0 / m, out=both)  # ``both`` is spent: reuse it
    del c_cur, both
    last = np.empty(n + m, dtype=bool)
    np.not_equal(values[1:], values[:-1], out=last[:-1])
    last[-1] = True
    if last.all():  # no ties: every position ends its run
        return MergedCDF(x=values, gap=gap, n_ref=n, n_cur=m)
    return MergedCDF(x=values[last], gap=gap[last], n_ref=n, n_cur=m)


def ks_pvalue(
    statistic: float, ref_sorted: NDArray[np.float64], cur_sorted: NDArray[np.float64]
) -> float:
    """The two-sided KS p-value as scipy's ``ks_2samp(method="auto")`` gives it: exact while both
    samples have at most 10,000 values (scipy itself computes it), else Smirnov's asymptotic
    distribution ``kstwo.sf(D, round(n·m/(n+m)))``."""
    n, m = ref_sorted.size, cur_sorted.size
    if max(n, m) <= _KS_EXACT_MAX_N:
        with _QUIET, warnings.catch_warnings():
            # scipy falls back to the asymptotic p-value itself when exact fails, and says so
            warnings.simplefilter("ignore", RuntimeWarning)
            return float(sps.ks_2samp(ref_sorted, cur_sorted).pvalue)
    big, small = max(n, m), min(n, m)
    en = float(big) * float(small) / (float(big) + float(small))
    return float(np.clip(sps.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))


@dataclass(frozen=True)
class CategoricalTest:
    """Chi-squared test of a 2×k table of counts, with Cramér's V as its effect size."""

    statistic: float
    p_value: float
    dof: int
    cramers_v: float


def chi_squared(ref_counts: NDArray[np.int64], cur_counts: NDArray[np.int64]) -> CategoricalTest:
    """scipy's ``chi2_contingency`` on the table (reference, current) × categories (Yates'
    correction when it has one degree of freedom, as scipy does). Categories absent from both are
    left out; a single category is no evidence of drift (statistic 0, p-value 1)."""
    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return CategoricalTest(0.0, 1.0, 0, 0.0)
    res = sps.chi2_contingency(table)
    stat = float(res.statistic)
    v = math.sqrt(stat / table.sum())  # min(rows, columns) - 1 == 1 for a 2×k table
    return CategoricalTest(stat, float(res.pvalue), int(res.dof), min(1.0, v))


def _shares(counts: NDArray[np.int64] | NDArray[np.float64]) -> NDArray[np.float64]:
    total = float(np.sum(counts))
    return np.asarray(counts, dtype=np.float64) / total if total > 0 else np.zeros(len(counts))


def jensen_shannon(ref_counts: NDArray, cur_counts: NDArray) -> float:
    """Jensen–Shannon distance (natural log; scipy's ``jensenshannon``) between two histograms
    on the same bins."""
    p, q = _shares(ref_counts), _shares(cur_counts)
    mid = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / mid), 0.0)
        kl_q = np.where(q > 0, q * np.log(q / mid), 0.0)
    return float(math.sqrt(max(0.0, float(np.sum(kl_p) + np.sum(kl_q)) / 2.0)))


def psi(ref_counts: NDArray, cur_counts: NDArray) -> float:
    """Population stability index ``Σ (c - r)·ln(c / r)`` over bins, shares below
    :data:`PSI_FLOOR` raised to it."""
    r = np.maximum(_shares(ref_counts), PSI_FLOOR)
    c = np.maximum(_shares(cur_counts), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def anderson_darling(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> tuple[float, float]:
    """scipy's k-sample Anderson–Darling test; ``(statistic, p_value)``. scipy interpolates the
    p-value in a table and caps it to [0.001, 0.25]; the cap is kept (a capped p-value is a bound,
    which is what a test needs)."""
    with _QUIET, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = sps.anderson_ksamp([ref, cur])
    return float(res.statistic), float(res.pvalue)


def cramer_von_mises(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> tuple[float, float]:
    """scipy's two-sample Cramér–von Mises test; ``(statistic, p_value)``."""
    res = sps.cramervonmises_2samp(ref, cur)
    return float(res.statistic), float(res.pvalue)
