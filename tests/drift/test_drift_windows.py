"""Tumbling windows, per-window drift and mergeable sketches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.drift import CategoricalSketch, NumericSketch, detect_drift, tumbling_windows
from assay.drift._sketch import reference_edges
from assay.drift._statistics import chi_squared, jensen_shannon, psi
from assay.errors import ConfigError, DataError


def test_count_windows_cover_every_row_once() -> None:
    w = tumbling_windows(pd.DataFrame({"x": range(10)}), size=4)
    assert [x.n for x in w] == [4, 4, 2]
    assert [x.label for x in w] == ["rows 1-4", "rows 5-8", "rows 9-10"]
    assert np.array_equal(np.concatenate([x.rows for x in w]), np.arange(10))
    assert w.rule == "tumbling windows of 4 rows"


def test_time_windows_keep_gaps_and_count_rows_without_time() -> None:
    df = pd.DataFrame(
        {"t": ["2024-01-03", "2024-01-31T23:00", None, "2024-03-15", "not a date", "2024-01-01"]}
    )
    w = tumbling_windows(df, time_column="t", every="MS")
    assert [x.label for x in w] == [
        "2024-01-01 .. 2024-02-01",
        "2024-02-01 .. 2024-03-01",
        "2024-03-01 .. 2024-04-01",
    ]
    assert [x.rows.tolist() for x in w] == [[0, 1, 5], [], [3]]
    assert w.n_without_time == 2 and w.n_empty == 1


def test_time_windows_of_days_with_timezone() -> None:
    t = pd.date_range("2024-01-01", periods=10, freq="5h", tz="UTC")
    w = tumbling_windows(pd.DataFrame({"t": t}), time_column="t", every="1D")
    assert [x.n for x in w] == [5, 5]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({}, ConfigError, "either size"),
        ({"size": 0}, ConfigError, "positive whole number"),
        ({"time_column": "t"}, ConfigError, "needs every="),
        ({"time_column": "t", "every": "fortnight"}, ConfigError, "not a pandas period"),
        ({"time_column": "nope", "every": "1D"}, DataError, "not a column"),
        ({"time_column": "x", "every": "1D"}, DataError, "no readable time"),
        ({"time_column": "t", "every": "1s"}, ConfigError, "more than"),
    ],
)
def test_window_errors_name_the_fix(kwargs: dict, error: type, words: str) -> None:
    df = pd.DataFrame({"t": ["2020-01-01", "2024-01-01"], "x": ["a", "b"]})
    with pytest.raises(error, match=words):
        tumbling_windows(df, **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf, -np.inf]), min_size=1, max_size=60
    ),
    st.integers(1, 59),
)
def test_numeric_sketches_add_up(values: list[float], cut: int) -> None:
    x = np.asarray(values, dtype=float)
    cut = min(cut, x.size)
    edges = reference_edges(np.sort(np.linspace(-10, 10, 50)), 10)
    whole = NumericSketch.of(x, edges)
    merged = NumericSketch.of(x[:cut], edges) + NumericSketch.of(x[cut:], edges)
    assert np.array_equal(merged.counts, whole.counts)
    for name in ("n_rows", "n_missing", "n_pos_inf", "n_neg_inf"):
        assert getattr(merged, name) == getattr(whole, name)
    assert np.allclose([merged.total, merged.total_sq], [whole.total, whole.total_sq])
    assert (np.isnan(merged.minimum) and np.isnan(whole.minimum)) or merged.minimum == whole.minimum


def test_window_sketches_add_up_to_the_whole_data(seed: int) -> None:
    """PSI, Jensen–Shannon and chi-squared from the window sketches added together equal those of
    the whole current data."""
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(list("abcd"), 3000)})
    cur = pd.DataFrame({"x": rng.normal(0.3, size=2500), "c": rng.choice(list("abcde"), 2500)})
    cur.loc[::97, "x"] = np.nan
    r = detect_drift(ref, cur, window_size=700, n_jobs=1)
    assert [w.n for w in r.windows] == [700, 700, 700, 400]
    x_total = r.windows[0].sketches["x"]
    c_total = r.windows[0].sketches["c"]
    for w in r.windows[1:]:
        x_total = x_total + w.sketches["x"]
        c_total = c_total + w.sketches["c"]
    whole = r.column("x")
    ref_counts = NumericSketch.of(ref["x"].to_numpy(), x_total.edges).counts
    assert psi(ref_counts, x_total.counts) == pytest.approx(whole.distances["psi"], abs=1e-12)
    assert jensen_shannon(ref_counts, x_total.counts) == pytest.approx(
        whole.distances["jensenshannon"], abs=1e-12
    )
    assert x_total.n_missing == int(cur["x"].isna().sum())
    levels = sorted(set(ref["c"]) | set(cur["c"]))
    ref_c = CategoricalSketch.of(ref["c"].value_counts().to_dict(), 0).aligned(levels)
    chi = chi_squared(ref_c, c_total.aligned(levels))
    assert chi.cramers_v == pytest.approx(r.column("c").distances["cramers_v"], abs=1e-12)


def test_windows_by_time_find_the_window_that_drifts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=2000)})
    days = pd.date_range("2024-01-01", periods=4, freq="D").repeat(500)
    x = rng.normal(size=2000)
    x[1500:] += 1.0  # the fourth day shifts
    cur = pd.DataFrame({"day": days, "x": x})
    r = detect_drift(ref, cur, time_column="day", every="1D", n_jobs=1)
    assert [w.drifted for w in r.windows] == [False, False, False, True]
    assert r.window_rule == "tumbling windows of 1D on column 'day'"
    assert "'day' cuts the windows" in r.notes[0]
    assert [c.column for c in r.columns] == ["x"]


def test_an_empty_window_is_reported_not_tested(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=300)})
    cur = pd.DataFrame(
        {"t": ["2024-01-05"] * 100 + ["2024-03-05"] * 100, "x": rng.normal(size=200)}
    )
    r = detect_drift(ref, cur, time_column="t", every="MS", n_jobs=1)
    assert [w.n for w in r.windows] == [100, 0, 100]
    empty = r.windows[1]
    assert empty.columns == {} and not empty.drifted and np.isnan(empty.share_drifted)
    assert any("1 of 3 windows have no rows" in n for n in r.notes)
    assert r.to_dict()["windows"][1]["share_drifted"] is None


def test_learned_thresholds_use_chunks_the_size_of_a_window(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=6000)})
    x = rng.normal(size=1500)
    x[1000:] += 0.5  # the third window shifts
    cur = pd.DataFrame({"x": x})
    r = detect_drift(ref, cur, thresholds="reference", window_size=500, n_jobs=1)
    assert "12 of 12 reference chunks (about 500 rows each)" in r.column("x").rule
    assert r.windows[2].drifted
    # the threshold sits above the statistic of a window without drift
    threshold = r.column("x").threshold
    assert min(w.columns["x"]["statistic"] for w in r.windows[:2]) < threshold
    with pytest.raises(ConfigError, match="reference_chunks must be at least 2"):
        detect_drift(ref, cur, thresholds="reference", reference_chunks=1)
