"""Coverage of the Nadeau–Bengio corrected resampled t interval, by simulation.

The learner is least squares through the origin, ``y = b·x``, on data ``y = x + ε`` with
``x, ε ~ N(0, 1)``; a fold's score is its test mean squared error. What cross-validation estimates
is the expected error of the learner trained on ``n_train`` rows, known exactly here:
``E[(y − b̂x)²] = σ²(1 + E[1/Σx²]) = 1 + 1/(n_train − 2)`` (``Σx²`` is χ² with ``n_train`` degrees
of freedom). Every data set is simulated at once (rows × data sets arrays); the splits are drawn
independently for every data set. Run with ``-s`` to
see the figures.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import t as student_t

from assay.stats import corrected_resampled_t

N_DATASETS = 2000  # Monte Carlo standard error of a 95% coverage: ~0.005
N_ROWS = 100


def _splits(kind: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row positions, ``(N_DATASETS, rows)`` each: every data set its own splits."""
    out = []

    def shuffled() -> np.ndarray:
        return rng.permuted(np.tile(np.arange(N_ROWS), (N_DATASETS, 1)), axis=1)

    if kind == "15 random 80/20 splits":
        for _ in range(15):
            p = shuffled()
            out.append((p[:, 20:], p[:, :20]))
        return out
    repeats, k = (3, 5) if kind == "repeated 3×5-fold" else (1, 5)
    for _ in range(repeats):
        p = shuffled()
        size = N_ROWS // k
        for f in range(k):
            test = p[:, f * size : (f + 1) * size]
            train = np.concatenate([p[:, : f * size], p[:, (f + 1) * size :]], axis=1)
            out.append((train, test))
    return out


def coverage(kind: str, seed: int) -> tuple[float, float, float]:
    """(corrected coverage, naive t coverage, mean corrected / naive width) over the data sets."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_DATASETS, N_ROWS))
    y = x + rng.normal(size=(N_DATASETS, N_ROWS))
    splits = _splits(kind, rng)
    scores = []
    for tr, te in splits:
        xtr, ytr = np.take_along_axis(x, tr, 1), np.take_along_axis(y, tr, 1)
        xte, yte = np.take_along_axis(x, te, 1), np.take_along_axis(y, te, 1)
        b = (xtr * ytr).sum(axis=1) / (xtr**2).sum(axis=1)
        scores.append(((yte - b[:, None] * xte) ** 2).mean(axis=1))
    s = np.stack(scores, axis=1)  # data sets × J
    n_train, n_test = splits[0][0].shape[1], splits[0][1].shape[1]
    truth = 1 + 1 / (n_train - 2)
    nb = [corrected_resampled_t(row, n_train=n_train, n_test=n_test, level=0.95) for row in s]
    lo = np.array([e.lower for e in nb])
    hi = np.array([e.upper for e in nb])
    j = s.shape[1]
    half = student_t.ppf(0.975, j - 1) * s.std(axis=1, ddof=1) / np.sqrt(j)
    mean = s.mean(axis=1)
    # the library's mean is the plain mean of the fold scores
    assert np.allclose([e.value for e in nb], mean)
    nb_cov = float(np.mean((lo <= truth) & (truth <= hi)))
    naive_cov = float(np.mean((mean - half <= truth) & (truth <= mean + half)))
    return nb_cov, naive_cov, float(np.mean((hi - lo) / (2 * half)))


@pytest.mark.simulation
@pytest.mark.parametrize("kind", ["repeated 3×5-fold", "15 random 80/20 splits"])
def test_corrected_interval_covers_and_the_naive_one_does_not(kind: str, seed: int) -> None:
    nb, naive, ratio = coverage(kind, seed)
    print(
        f"\n{kind}, {N_DATASETS} data sets of {N_ROWS} rows: 95% Nadeau–Bengio coverage {nb:.3f}, "
        f"naive t coverage {naive:.3f}, width ratio {ratio:.2f}"
    )
    assert 0.92 <= nb <= 0.975
    assert naive <= 0.80  # overlapping training sets: s/√J is far too small


@pytest.mark.simulation
def test_single_k_fold_corrected_interval_is_conservative(seed: int) -> None:
    # One k-fold pass has disjoint test folds: the naive interval is about right there, and the
    # correction (1/J + n_test/n_train doubles the variance for 5 folds) errs on the safe side.
    nb, naive, ratio = coverage("5-fold", seed)
    print(
        f"\n5-fold: Nadeau–Bengio coverage {nb:.3f}, naive t {naive:.3f}, width ratio {ratio:.2f}"
    )
    assert nb >= 0.95 and nb <= 0.995
    assert ratio == pytest.approx(np.sqrt((1 / 5 + 20 / 80) / (1 / 5)), rel=1e-9)
