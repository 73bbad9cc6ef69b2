"""The fairness check end to end: a python: model on a table with sensitive columns, and text
models for counterfactual swaps, checked against group_metrics, Fairlearn and literal counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference

import assay
from assay.errors import ConfigError
from assay.fairness import group_metrics
from assay.report import render_html

TABLE_MODEL = """
def predict(rows):
    out = []
    for r in rows:
        p = min(0.97, max(0.03, r["score"] + r["bonus"]))
        out.append({"label": "yes" if p >= 0.5 else "no", "probabilities": {"yes": p, "no": 1 - p}})
    return out
predict.task = "classification"
"""

TEXT_MODEL = """
import re
def predict(texts):
    # biased on purpose: "he" raises the score
    out = []
    for t in texts:
        p = 0.45 + (0.1 if re.search(r"\\bhe\\b", t.lower()) else 0.0)
        p += 0.3 if "good" in t else 0.0
        out.append({"label": "pos" if p >= 0.5 else "neg", "probabilities": {"pos": p, "neg": 1 - p}})
    return out
predict.task = "classification"

def write(texts):
    return ["a wonderful person" if re.search(r"\\bhe\\b", t.lower()) else "a person"
            for t in texts]
write.task = "generation"
"""


def _table(tmp: Path, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n)
    race = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    score = rng.random(n)
    label = np.where(rng.random(n) < score, "yes", "no")
    frame = pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "score": score,
            "bonus": np.where(sex == "M", 0.15, 0.0),
            "sex": sex,
            "race": race,
            "label": label,
        }
    )
    frame.loc[frame.index[:7], "sex"] = None  # missing values become their own group
    frame.to_csv(tmp / "test.csv", index=False)
    (tmp / "tm.py").write_text(TABLE_MODEL)
    return frame


def _write_suite(
    tmp: Path, checks: dict[str, Any], gates: list[str] | None = None, **data: Any
) -> Path:
    suite = {
        "name": "fair",
        "data": {
            "path": "test.csv",
            "id": "id",
            "input": ["score", "bonus"],
            "label": "label",
            "labels": ["no", "yes"],
            "groups": ["sex", "race"],
            **data,
        },
        "models": {"candidate": "python:tm.py:predict"},
        "checks": checks,
        "engine": {"progress": False, "cache": None, "batch_size": 1000},
        "gates": gates or [],
    }
    p = tmp / "suite.yaml"
    p.write_text(yaml.safe_dump(suite))
    return p


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("fair")
    frame = _table(tmp, 3000, 0)
    suite = _write_suite(
        tmp,
        {"fairness": {"positive_label": "yes", "min_n": 50}},
        [
            "fairness.sex.demographic_parity_ratio.lower >= 0.5",
            "fairness.race.*.accuracy.lower >= 0.5",
            "fairness.sex&race.equalized_odds_difference.upper <= 0.9",
        ],
    )
    report = assay.evaluate(suite, out=tmp / "out", progress=False)
    sex = frame["sex"].fillna("<missing>").to_numpy()
    p = np.clip(frame["score"] + frame["bonus"], 0.03, 0.97)
    pred = np.where(p >= 0.5, "yes", "no")
    return {"report": report, "frame": frame, "sex": sex, "pred": pred, "tmp": tmp}


def test_group_metrics_and_disparities_match_the_library_and_fairlearn(
    table_run: dict[str, Any],
) -> None:
    r = table_run["report"].result("fairness")
    frame, sex, pred = table_run["frame"], table_run["sex"], table_run["pred"]
    y = frame["label"].to_numpy()
    direct = group_metrics(y, pred, sex, positive_label="yes", n_bootstrap=100, seed=0)
    for g in direct.groups:
        for m in ("accuracy", "selection_rate", "precision", "recall", "false_positive_rate"):
            assert r.metrics[f"sex.{g}.{m}"].value == pytest.approx(
                direct.by_group[g][m].value, abs=1e-12
            )
        assert f"sex.{g}.ece" in r.metrics
    assert r.metrics["sex.demographic_parity_ratio"].value == pytest.approx(
        demographic_parity_ratio(y, pred, sensitive_features=sex, pos_label="yes")
        if "pos_label" in demographic_parity_ratio.__code__.co_varnames
        else demographic_parity_ratio(y == "yes", pred == "yes", sensitive_features=sex),
        abs=1e-12,
    )
    assert r.metrics["sex.equalized_odds_difference"].value == pytest.approx(
        equalized_odds_difference(y == "yes", pred == "yes", sensitive_features=sex), abs=1e-12
    )
    # intersections are named sex&race with groups like M&a
    inter = [k for k in r.metrics if k.startswith("sex&race.M&a.")]
    assert inter and "sex&race.demographic_parity_difference" in r.metrics


def test_missing_values_form_a_group_marked_too_small(table_run: dict[str, Any]) -> None:
    r = table_run["report"].result("fairness")
    assert r.metrics["sex.<missing>.accuracy"].n == 7
    assert "sex.<missing>.accuracy" in r.tables["too_small_keys"]
    feature = next(f for f in r.tables["features"] if f["name"] == "sex")
    assert feature["n_missing"] == 7
    assert any("below min_n" in f for f in r.flags)


def test_gates_and_flags(table_run: dict[str, Any]) -> None:
    report = table_run["report"]
    outcomes = {g.gate: g for g in report.gates}
    assert outcomes["fairness.race.*.accuracy.lower >= 0.5"].passed
    dpr = report.result("fairness").metrics["sex.demographic_parity_ratio"]
    assert outcomes["fairness.sex.demographic_parity_ratio.lower >= 0.5"].passed == (
        dpr.lower >= 0.5
    )
    # the model selects M far more often: flagged after BH correction
    assert any(
        "group sex=M" in f and "selection rate differs" in f
        for f in report.result("fairness").flags
    )


def test_html_shows_groups_disparities_and_survives_json(table_run: dict[str, Any]) -> None:
    report = table_run["report"]
    html = render_html(report)
    assert 'id="check-fairness"' in html and "Demographic parity ratio" in html
    assert "&lt;missing&gt;" in html and "sex&amp;race" in html
    again = assay.Report.model_validate(json.loads(report.model_dump_json()))
    assert render_html(again) == html


def test_bad_group_configuration_is_named(tmp_path: Path) -> None:
    _table(tmp_path, 200, 1)
    suite = _write_suite(tmp_path, {"fairness": {"groups": ["gender"]}})
    with pytest.raises(
        ConfigError, match="'gender' is not a column.*columns: id, score, bonus, sex"
    ):
        assay.evaluate(suite, out=tmp_path / "o", progress=False)
    suite = _write_suite(tmp_path, {"fairness": {"missing": "error"}})
    with pytest.raises(ConfigError, match="column 'sex'.*7 missing values.*missing: group"):
        assay.evaluate(suite, out=tmp_path / "o", progress=False)
    suite = _write_suite(tmp_path, {"fairness": {}}, ["fairness.sex.parity_ratio >= 0.8"])
    with pytest.raises(ConfigError, match="no metric fairness.sex.parity_ratio"):
        assay.evaluate(suite, out=tmp_path / "o", progress=False)


def _text_suite(tmp: Path, model: str, checks: dict[str, Any], gates: list[str]) -> Path:
    texts = [
        "he is good",
        "she is good",
        "he was late",
        "she was late",
        "a good film",
        "her film",
        "nothing here",
        "John and Mary",
    ] * 25
    labels = ["pos", "pos", "neg", "neg", "pos", "neg", "neg", "neg"] * 25
    pd.DataFrame(
        {"id": [f"t{i}" for i in range(len(texts))], "text": texts, "label": labels}
    ).to_csv(tmp / "text.csv", index=False)
    (tmp / "txt.py").write_text(TEXT_MODEL)
    suite = {
        "name": "cf",
        "data": {
            "path": "text.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "labels": ["neg", "pos"],
        },
        "models": {"candidate": f"python:txt.py:{model}"},
        "checks": checks,
        "engine": {"progress": False},
        "gates": gates,
    }
    if model == "write":
        suite["task"] = "generation"
        suite["data"].pop("label")
        suite["data"].pop("labels")
    p = tmp / "suite.yaml"
    p.write_text(yaml.safe_dump(suite))
    return p


def test_counterfactual_flip_rate_and_score_change_are_exact(tmp_path: Path) -> None:
    suite = _text_suite(
        tmp_path,
        "predict",
        {"fairness": {"counterfactual": {"swaps": ["gender", "names", "religion"]}}},
        ["fairness.counterfactual.gender.flip_rate.upper <= 0.02"],
    )
    report = assay.evaluate(suite, out=tmp_path / "out", progress=False)
    r = report.result("fairness")
    # gender applies to 5 of 8 texts (he/she x4, her); flips: "he was late" (0.55 -> 0.45) and
    # "she was late" (0.45 -> 0.55) flip; "her film" -> "his film" (no "he" word) does not.
    g = r.tables["counterfactual"]["swaps"]["gender"]
    assert (g["n_applicable"], g["n_pairs"], g["n_flipped"]) == (125, 125, 50)
    assert r.metrics["counterfactual.gender.flip_rate"].value == pytest.approx(50 / 125)
    assert r.metrics["counterfactual.gender.mean_score_change"].value == pytest.approx(
        0.1 * 100 / 125
    )
    assert r.metrics["counterfactual.gender.n_not_applicable"].value == 75
    assert r.metrics["counterfactual.names.n_not_applicable"].value == 175
    assert r.metrics["counterfactual.religion.n_not_applicable"].value == 200
    assert np.isnan(r.metrics["counterfactual.religion.flip_rate"].value)
    assert not report.passed  # the biased model fails the 0.02 gate
    assert {e["swap"] for e in r.examples} == {"gender"}
    assert "Counterfactual swaps" in render_html(report)
    # the swapped inputs are new requests, asked once: a second run is answered from the cache
    again = assay.evaluate(suite, out=tmp_path / "out2", progress=False)
    assert again.engine["n_called"] == 0 and again.engine["n_cached"] == again.engine["n_unique"]


def test_counterfactual_on_generated_text_uses_the_lexicon(tmp_path: Path) -> None:
    suite = _text_suite(
        tmp_path, "write", {"fairness": {"counterfactual": {"swaps": ["gender"]}}}, []
    )
    r = assay.evaluate(suite, out=tmp_path / "out", progress=False).result("fairness")
    # "he ..." -> "a wonderful person" (score 1.0) vs "a person" (0.0): |change| = 1 for the
    # 100 he/she texts, 0 for the 25 "her film" texts.
    assert r.metrics["counterfactual.gender.mean_score_change"].value == pytest.approx(100 / 125)
    assert r.metrics["counterfactual.gender.flip_rate"].value == pytest.approx(100 / 125)
    assert any("generation" in n for n in r.tables.get("notes", [])) or not r.tables["features"]


def test_predictions_file_cannot_answer_swaps(tmp_path: Path) -> None:
    suite = _text_suite(tmp_path, "predict", {"fairness": {"counterfactual": {}}}, [])
    frame = pd.read_csv(tmp_path / "text.csv")
    frame.assign(prediction="neg")[["id", "prediction"]].to_csv(tmp_path / "p.csv", index=False)
    raw = yaml.safe_load(suite.read_text())
    raw["models"] = {"candidate": "predictions:p.csv"}
    suite.write_text(yaml.safe_dump(raw))
    r = assay.evaluate(suite, out=tmp_path / "out", progress=False).result("fairness")
    assert any("cannot answer rewritten inputs" in f for f in r.flags)
    assert not any(k.startswith("counterfactual.") for k in r.metrics)


def test_a_group_name_with_spaces_or_dots_is_named_in_a_gate_by_quoting_it(
    tmp_path: Path,
) -> None:
    frame = _table(tmp_path, 600, 3)
    frame["race"] = frame["race"].map({"a": "White", "b": "Black women", "c": "St. Kitts"})
    frame.to_csv(tmp_path / "test.csv", index=False)
    gates = [
        'fairness.race."Black women".accuracy.lower >= 0.0',
        "fairness.race.'St. Kitts'.selection_rate >= 0",
        'fairness.sex&race."M&Black women".recall.upper <= 1',
        "fairness.race.*.accuracy >= 0",
    ]
    suite = _write_suite(tmp_path, {"fairness": {"positive_label": "yes", "min_n": 1}}, gates)
    report = assay.evaluate(suite, write=False, progress=False)
    r = report.result("fairness")
    assert r is not None and "race.Black women.accuracy" in r.metrics
    assert "race.St_ Kitts.selection_rate" in r.metrics
    assert [g.passed for g in report.gates] == [True] * 4
    assert report.gates[0].observed == r.metrics["race.Black women.accuracy"].lower


def test_a_gate_on_a_group_the_data_do_not_hold_is_refused_before_any_call(
    tmp_path: Path,
) -> None:
    frame = _table(tmp_path, 300, 4)
    frame["race"] = frame["race"].map({"a": "White", "b": "Black women", "c": "Asian-Pac-Islander"})
    frame.to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "tm.py").write_text("def predict(rows):\n    raise RuntimeError('asked')\n")
    suite = _write_suite(
        tmp_path,
        {"fairness": {"positive_label": "yes"}},
        ['fairness.race."Black woman".accuracy.lower >= 0.5'],
    )
    with pytest.raises(ConfigError) as info:
        assay.evaluate(suite, write=False, progress=False)
    msg = str(info.value)
    assert "gates[0]" in msg and "race has no group 'Black woman'" in msg
    assert 'did you mean "Black women"?' in msg and "Asian-Pac-Islander" in msg
    # a group name with spaces cannot be written without quotes: the message says how
    suite = _write_suite(
        tmp_path, {"fairness": {}}, ["fairness.race.Black women.accuracy.lower >= 0.5"]
    )
    with pytest.raises(ConfigError, match="quote a name with spaces"):
        assay.load_suite(suite)


def test_a_group_with_a_0_over_0_rate_is_flagged_in_json_html_and_console_and_gateable(
    tmp_path: Path,
) -> None:
    frame = _table(tmp_path, 800, 5)
    c = frame["race"] == "c"
    frame.loc[c, "label"] = "no"  # race c: nobody labelled yes, so its recall and FNR are 0/0
    frame.loc[c, "score"] = 0.1  # and nobody predicted yes: precision and F1 are 0/0 too
    frame.loc[c, "bonus"] = 0.0
    frame.to_csv(tmp_path / "test.csv", index=False)
    suite = _write_suite(
        tmp_path,
        {"fairness": {"positive_label": "yes", "min_n": 10}},
        ["fairness.race.n_groups_left_out <= 0"],
    )
    report = assay.evaluate(suite, out=tmp_path / "out", progress=False)
    r = report.result("fairness")
    assert r is not None
    assert r.metrics["race.n_groups_left_out"].value == 1
    assert r.metrics["sex.n_groups_left_out"].value == 0
    assert not report.gates[0].passed
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    res = next(x for x in data["results"] if x["check"] == "fairness")
    race = next(f for f in res["tables"]["features"] if f["name"] == "race")
    (left,) = race["left_out"]
    assert left["group"] == "c" and left["n"] == int(c.sum())
    assert set(left["undefined"]) == {"recall", "false_negative_rate", "precision", "f1"}
    assert {"equalized_odds_difference", "equal_opportunity_difference",
            "predictive_parity_difference"} <= set(left["disparities"])  # fmt: skip
    assert "recall_difference" in left["summaries"]
    flag = next(f for f in res["flags"] if f.startswith("race:"))
    assert "c (n=" in flag and "equalized_odds_difference" in flag and "0/0" in flag
    html = (tmp_path / "out" / "report.html").read_text()
    assert "rate 0/0" in html and "left out of" in html
    from rich.console import Console

    from assay.report._console import print_summary

    console = Console(record=True, width=300)
    print_summary(report, console=console)
    assert "left out of disparities (a rate is 0/0): race: c" in console.export_text()
