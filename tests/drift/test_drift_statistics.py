"""The drift statistics equal scipy's on the same data (1e-9), on real ACS data and on ties."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from assay.drift import detect_drift
from assay.drift._statistics import chi_squared, jensen_shannon, ks_pvalue, merge_sorted, psi

TOL = 1e-9
ACS = Path(stats.__file__).parents[2] / "nannyml" / "datasets" / "data"


@pytest.fixture(scope="module")
def acs() -> tuple[pd.DataFrame, pd.DataFrame]:
    ref_file, cur_file = ACS / "employment_MA_reference.pq", ACS / "employment_MA_analysis.pq"
    if not ref_file.exists():
        pytest.skip("nannyml's ACS files are not installed")
    return pd.read_parquet(ref_file), pd.read_parquet(cur_file)


@pytest.mark.parametrize(
    ("n", "m", "decimals"),
    [(40, 60, 1), (700, 900, 0), (3000, 2000, 2), (12_000, 15_000, 1), (20_000, 20_000, 3)],
)
def test_numeric_statistics_equal_scipy(seed: int, n: int, m: int, decimals: int) -> None:
    """KS (exact and asymptotic regimes), Wasserstein and energy distances, with many ties."""
    rng = np.random.default_rng(seed)
    a = np.sort(np.round(rng.normal(size=n), decimals))
    b = np.sort(np.round(rng.normal(0.1, 1.2, size=m), decimals))
    merged = merge_sorted(a, b)
    ks = stats.ks_2samp(a, b)
    assert merged.ks == pytest.approx(ks.statistic, abs=TOL)
    assert ks_pvalue(merged.ks, a, b) == pytest.approx(ks.pvalue, abs=TOL)
    assert merged.wasserstein == pytest.approx(stats.wasserstein_distance(a, b), abs=TOL)
    assert merged.energy == pytest.approx(stats.energy_distance(a, b), abs=TOL)


def _merge_by_searchsorted(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The merge as assay first wrote it (one ``searchsorted`` placing each current value after
    the equal reference values, then a stable sort of the two runs): the oracle for the faster
    argsort merge, which must give the same arrays bit for bit."""
    n, m = a.size, b.size
    pos = np.searchsorted(a, b, side="right") + np.arange(m)
    is_cur = np.zeros(n + m, dtype=np.int8)
    is_cur[pos] = 1
    values = np.sort(np.concatenate([a, b]), kind="stable")
    gap = np.arange(1, n + m + 1, dtype=np.float64) / n
    gap -= np.cumsum(is_cur, dtype=np.int64) * (1.0 / n + 1.0 / m)
    last = np.r_[values[1:] != values[:-1], True]
    return values[last], gap[last]


def test_merge_equals_the_searchsorted_merge_bit_for_bit(seed: int) -> None:
    """Random sizes (one value to thousands), ties within and across the samples, shared
    values, negative zeros: the CDFs on the union, and so KS, Wasserstein and energy, are the
    same floats as the direct merge's, and each CDF is the count of values ``<= x`` (1e-12)."""
    rng = np.random.default_rng(seed)
    for trial in range(200):
        n, m = (int(k) for k in rng.integers(1, 2500, 2))
        a = np.round(rng.normal(size=n) * rng.uniform(0.1, 10), int(rng.integers(0, 4)))
        b = np.round(rng.normal(rng.uniform(-1, 1), 1.5, size=m), int(rng.integers(0, 4)))
        if trial % 3 == 0:
            b = np.concatenate([b, a[: n // 2], [-0.0, 0.0]])
        a, b = np.sort(a), np.sort(b)
        merged = merge_sorted(a, b)
        x, gap = _merge_by_searchsorted(a, b)
        assert np.array_equal(merged.x, x) and np.array_equal(merged.gap, gap), trial
        direct = np.searchsorted(a, x, side="right") / a.size
        direct -= np.searchsorted(b, x, side="right") / b.size
        assert np.max(np.abs(merged.gap - direct)) < 1e-12
        dx = np.diff(x)
        assert merged.wasserstein == float(np.dot(np.abs(gap[:-1]), dx))
        assert merged.energy == np.sqrt(2.0 * float(np.dot(gap[:-1] ** 2, dx)))
        assert merged.ks == float(np.max(np.abs(gap)))


def test_categorical_statistics_equal_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.multinomial(500, [0.2, 0.3, 0.1, 0.4])
    cur = rng.multinomial(300, [0.25, 0.25, 0.2, 0.3])
    chi = chi_squared(ref, cur)
    expected = stats.chi2_contingency(np.vstack([ref, cur]))
    assert chi.statistic == pytest.approx(expected.statistic, abs=TOL)
    assert chi.p_value == pytest.approx(expected.pvalue, abs=TOL)
    assert jensen_shannon(ref, cur) == pytest.approx(
        jensenshannon(ref / ref.sum(), cur / cur.sum()), abs=TOL
    )
    # two categories: scipy applies Yates' correction, and so do we
    two = chi_squared(np.array([30, 70]), np.array([45, 55]))
    assert two.statistic == pytest.approx(
        stats.chi2_contingency(np.array([[30, 70], [45, 55]])).statistic, abs=TOL
    )


def test_psi_by_its_definition() -> None:
    r, c = np.array([50, 30, 20, 0]), np.array([40, 30, 20, 10])
    rs, cs = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
    assert psi(r, c) == pytest.approx(float(np.sum((cs - rs) * np.log(cs / rs))), abs=TOL)


def test_detect_drift_on_acs_equals_scipy(acs: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Through the public call, on ACS (2015 against the later years): every method's
    statistic and p-value is scipy's."""
    ref, cur = acs
    ref, cur = ref.iloc[:3000], cur.iloc[:4000]
    age_ref = ref["AGEP"].to_numpy(dtype=float)
    age_cur = cur["AGEP"].to_numpy(dtype=float)
    prob_ref = ref["predicted_probability"].to_numpy()
    prob_cur = cur["predicted_probability"].to_numpy()
    cols = ["AGEP", "predicted_probability", "SCHL"]
    for method, check in [
        ("ks", lambda a, b: stats.ks_2samp(a, b)),
        ("anderson", None),
        ("cramervonmises", lambda a, b: stats.cramervonmises_2samp(a, b)),
    ]:
        r = detect_drift(
            ref, cur, columns=cols, methods={"AGEP": method, "predicted_probability": method}
        )
        col = r.column("AGEP")
        if check is None:
            with pytest.warns(UserWarning):  # scipy caps the p-value and says so
                expected = stats.anderson_ksamp([age_ref, age_cur])
        else:
            expected = check(age_ref, age_cur)
        assert col.statistic == pytest.approx(float(expected.statistic), abs=TOL)
        assert col.p_value == pytest.approx(float(expected.pvalue), abs=TOL)
    r = detect_drift(ref, cur, columns=cols, methods="auto")
    prob = r.column("predicted_probability")
    assert prob.method == "wasserstein"  # 3000 reference rows: a distance
    assert prob.statistic == pytest.approx(
        stats.wasserstein_distance(prob_ref, prob_cur) / np.std(prob_ref), abs=TOL
    )
    assert prob.distances["ks"] == pytest.approx(
        stats.ks_2samp(prob_ref, prob_cur).statistic, abs=TOL
    )
    schl = r.column("SCHL")
    assert schl.kind == "categorical" and schl.method == "jensenshannon"
    levels = sorted(set(ref["SCHL"].astype(str)) | set(cur["SCHL"].astype(str)))
    rc = ref["SCHL"].astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
    cc = cur["SCHL"].astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
    assert schl.statistic == pytest.approx(jensenshannon(rc / rc.sum(), cc / cc.sum()), abs=TOL)
    small = detect_drift(ref.iloc[:800], cur.iloc[:900], columns=["SCHL"])
    expected = stats.chi2_contingency(
        _nonzero_columns(ref["SCHL"].iloc[:800], cur["SCHL"].iloc[:900], levels)
    )
    assert small.column("SCHL").method == "chi2"
    assert small.column("SCHL").statistic == pytest.approx(expected.statistic, abs=TOL)
    assert small.column("SCHL").p_value == pytest.approx(expected.pvalue, abs=TOL)


def _nonzero_columns(a: pd.Series, b: pd.Series, levels: list[str]) -> np.ndarray:
    table = np.vstack(
        [
            a.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy(),
            b.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy(),
        ]
    )
    return table[:, table.sum(axis=0) > 0]


def test_columns_in_threads_do_not_unmute_each_others_scipy_notices(seed: int) -> None:
    """scipy's Anderson–Darling always says something (a capped p-value, a renamed option);
    assay mutes it per call. Columns run in threads, and muting swaps process-wide filters: two
    columns interleaving once surfaced scipy's notice as an error (warnings are errors here)."""
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=2000) for i in range(6)})
    cur = pd.DataFrame({f"x{i}": rng.normal(0.3, size=2000) for i in range(6)})
    for _ in range(25):
        r = detect_drift(ref, cur, methods="anderson", n_jobs=4)
        assert all(c.method == "anderson" and c.p_value <= 0.25 for c in r.columns)
