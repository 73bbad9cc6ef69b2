"""Nothing passes silently: predictions outside the labels, label typos, rows without
probabilities, ids a predictions file lacks, and a model trained on other labels — each refused
(exit 2, naming the file, row and value, and the fix) or counted on the console and in a gateable
path, ``performance.unscored.<reason>``. On scikit-learn's breast-cancer data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from typer.testing import CliRunner

import assay
from assay._cli.main import app
from assay.errors import ConfigError, DataError, ModelError

runner = CliRunner()
FEATURES = ["mean_radius", "mean_texture", "mean_smoothness"]


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """200 breast-cancer rows; a model trained on 0/1; its predictions as a file."""
    d = tmp_path_factory.mktemp("cancer")
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    train, test = frame.iloc[:369], frame.iloc[369:].reset_index(drop=True)
    model = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["target"])
    joblib.dump(model, d / "model01.joblib")
    test = test.assign(id=[f"p{i}" for i in range(len(test))])
    test[["id", *FEATURES, "target"]].to_csv(d / "test.csv", index=False)
    # scikit-learn's encoding: 0 = malignant, 1 = benign
    named = test.assign(diagnosis=np.where(test["target"] == 1, "benign", "malignant"))
    named[["id", *FEATURES, "diagnosis"]].to_csv(d / "named.csv", index=False)
    proba = model.predict_proba(test[FEATURES])
    preds = pd.DataFrame(
        {
            "id": test["id"],
            "prediction": model.predict(test[FEATURES]),
            "prob_0": proba[:, 0],
            "prob_1": proba[:, 1],
        }
    )
    return {"dir": d, "y": test["target"].to_numpy(), "preds": preds, "proba": proba}


def _suite(d: Path, model: Any, *, gates: list[str] | None = None, **data: Any) -> Path:
    suite = {
        "name": "cancer",
        "data": {"path": "test.csv", "id": "id", "input": FEATURES, "label": "target", **data},
        "models": {"candidate": model},
        "trust": True,
        "checks": {"performance": {"n_bootstrap": 50}},
        "engine": {"cache": None, "progress": False},
        "gates": gates or [],
    }
    path = d / "suite.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def _run(suite: Path, out: Path) -> tuple[int, str]:
    res = runner.invoke(app, ["run", str(suite), "--out", str(out), "-q"])
    return res.exit_code, " ".join(res.output.split())  # unwrap the console's line breaks


def _write_preds(d: Path, frame: pd.DataFrame, name: str = "preds.csv") -> str:
    frame.to_csv(d / name, index=False)
    return f"predictions:{name}"


# ------------------------------------------------------------- outside the labels


def test_a_prediction_outside_the_labels_is_refused_naming_file_row_and_value(
    cancer: dict[str, Any], tmp_path: Path
) -> None:
    preds = cancer["preds"].copy()
    preds.loc[59, "prediction"] = 2  # data row 60 of the file
    suite = _suite(tmp_path, _write_preds(tmp_path, preds), labels=[0, 1])
    (tmp_path / "test.csv").write_bytes((cancer["dir"] / "test.csv").read_bytes())
    code, out = _run(suite, tmp_path / "out")
    assert code == 2, out
    assert "predicted '2' for id 'p59' (row 60 of preds.csv)" in out
    assert "not among the labels declared" in out and "outside_labels: other" in out
    assert not (tmp_path / "out" / "report.json").exists()


def test_outside_labels_other_counts_them_as_wrong_and_gates_on_them(
    cancer: dict[str, Any], tmp_path: Path
) -> None:
    preds = cancer["preds"].astype({"prediction": object})
    preds.loc[[59, 60], "prediction"] = "unsure"
    (tmp_path / "test.csv").write_bytes((cancer["dir"] / "test.csv").read_bytes())
    suite = _suite(
        tmp_path,
        _write_preds(tmp_path, preds),
        outside_labels="other",
        gates=["performance.unscored.outside_labels <= 0"],
    )
    report = assay.evaluate(suite, write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None and perf.metrics["unscored.outside_labels"].value == 2
    # wrong answers in a problem that stays binary: the class each was not
    y = cancer["y"]
    wrong = preds["prediction"].to_numpy(dtype=object).copy()
    wrong[[59, 60]] = 1 - y[[59, 60]]
    assert perf.metrics["accuracy"].value == pytest.approx(accuracy_score(y, wrong.astype(int)))
    assert perf.metrics["f1_macro"].value == pytest.approx(
        f1_score(y, wrong.astype(int), average="macro")
    )
    assert [g.passed for g in report.gates] == [False]
    assert "unscored.outside_labels=2" in report.gates[0].detail
    code, out = _run(suite, tmp_path / "out")
    assert code == 1
    assert "unscored candidate · test: 2 outside the labels" in out
    assert "id 'p59' (row 60 of preds.csv): 'unsure'" in out


def test_a_live_model_predicting_outside_the_labels_names_the_data_row(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,text,label\na,good,pos\nb,bad,neg\nc,meh,neg\n")
    (tmp_path / "m.py").write_text(
        "def f(batch):\n    return ['pos' if t == 'good' else 'Neg' for t in batch]\n"
    )
    suite = {
        "data": {"path": "d.csv", "id": "id", "input": "text", "label": "label"},
        "models": {"m": "python:m.py:f"},
        "engine": {"cache": None, "progress": False},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    with pytest.raises(ModelError) as err:
        assay.evaluate(tmp_path / "s.yaml", write=False, progress=False)
    msg = str(err.value)
    assert "predicted 'Neg' for id 'b' (row 2 of d.csv)" in msg
    assert "labels found in the data of d.csv: neg, pos" in msg and "2 predictions" in msg


# ------------------------------------------------------------- label typos


def test_a_label_typo_in_undeclared_labels_is_refused_naming_both_spellings(
    tmp_path: Path,
) -> None:
    rows = [f"{i},text {i},{'sports' if i % 2 else 'politics'}" for i in range(1, 40)]
    rows[16] = "17,text 17,Sports"
    (tmp_path / "d.csv").write_text("id,text,topic\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as err:
        assay.load_dataset(
            {"path": "d.csv", "id": "id", "input": "text", "label": "topic"}, base_dir=tmp_path
        )
    msg = str(err.value)
    assert "d.csv" in msg and "'topic'" in msg
    assert "'Sports' (1 row: 17)" in msg and "'sports' (19 rows: 1, 3, 5, …)" in msg
    assert "declare the classes with `labels: [...]`" in msg
    # declared, the typo is a row outside the labels, named by its row
    with pytest.raises(DataError, match="row 17"):
        assay.load_dataset(
            {
                "path": "d.csv",
                "id": "id",
                "input": "text",
                "label": "topic",
                "labels": ["politics", "sports"],
            },
            base_dir=tmp_path,
        )


# ------------------------------------------------------------- probabilities


def test_a_row_without_probabilities_is_counted_and_a_gate_on_auc_says_why(
    cancer: dict[str, Any], tmp_path: Path
) -> None:
    preds = cancer["preds"].copy()
    preds.loc[59, ["prob_0", "prob_1"]] = np.nan
    (tmp_path / "test.csv").write_bytes((cancer["dir"] / "test.csv").read_bytes())
    suite = _suite(
        tmp_path,
        _write_preds(tmp_path, preds),
        gates=["performance.roc_auc.lower >= 0.5", "performance.unscored.no_probabilities <= 0"],
    )
    report = assay.evaluate(suite, write=False, progress=False)
    perf = report.result("performance")
    n = len(cancer["y"])
    assert perf is not None and perf.metrics["unscored.no_probabilities"].value == 1
    assert "roc_auc" not in perf.metrics and perf.metrics["accuracy"].n == n
    auc, counted = report.gates
    assert not auc.passed and auc.detail.startswith(
        f"roc_auc was not computed: 1 of {n} rows has no probabilities "
        "(first: id 'p59' (row 60 of preds.csv))"
    )
    assert not counted.passed
    code, out = _run(suite, tmp_path / "out")
    assert code == 1 and "1 without probabilities — id 'p59' (row 60 of preds.csv)" in out


def test_probabilities_rounded_to_three_decimals_are_renormalised_and_said(
    tmp_path: Path,
) -> None:
    wine = load_wine(as_frame=True).frame
    feats = ["alcohol", "malic_acid", "color_intensity"]
    model = LogisticRegression(max_iter=2000).fit(wine[feats], wine["target"])
    proba = model.predict_proba(wine[feats]).round(3)
    sums = proba.sum(axis=1)
    assert (np.abs(sums - 1) > 1e-3).any()  # what the old tolerance refused
    pd.DataFrame(
        {
            "id": range(len(wine)),
            "prediction": model.predict(wine[feats]),
            **{f"prob_{k}": proba[:, k] for k in range(3)},
        }
    ).to_csv(tmp_path / "preds.csv", index=False)
    wine.assign(id=range(len(wine)))[["id", *feats, "target"]].to_csv(
        tmp_path / "test.csv", index=False
    )
    suite = _suite(tmp_path, "predictions:preds.csv")
    (tmp_path / "suite.yaml").write_text(
        (tmp_path / "suite.yaml")
        .read_text()
        .replace("mean_radius", "alcohol")
        .replace("mean_texture", "malic_acid")
        .replace("mean_smoothness", "color_intensity")
    )
    report = assay.evaluate(suite, write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None
    exact = np.abs(sums - 1) <= 1e-6
    assert perf.tables["unscored"]["renormalised"] == int((~exact).sum())
    assert any("renormalised" in f for f in perf.flags)
    want = roc_auc_score(wine["target"], proba / sums[:, None], multi_class="ovr")
    assert perf.metrics["roc_auc_ovr_macro"].value == pytest.approx(want, abs=1e-12)


def test_a_negative_probability_from_a_python_model_names_id_and_row(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,text,label\na,good,pos\nb,bad,neg\n")
    (tmp_path / "m.py").write_text(
        "def f(batch):\n"
        "    return [{'label': 'pos', 'probabilities': {'pos': 1.2 if t == 'bad' else 0.9,"
        " 'neg': -0.2 if t == 'bad' else 0.1}} for t in batch]\n"
    )
    suite = {
        "data": {"path": "d.csv", "id": "id", "input": "text", "label": "label"},
        "models": {"m": "python:m.py:f"},
        "engine": {"cache": None, "progress": False},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    with pytest.raises(ModelError) as err:
        assay.evaluate(tmp_path / "s.yaml", write=False, progress=False)
    assert "for id 'b' (row 2 of d.csv)" in str(err.value)
    assert "not a number in [0, 1]" in str(err.value)


# ------------------------------------------------------------- ids missing


def test_ids_missing_from_a_predictions_file_are_refused_or_counted(
    cancer: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "test.csv").write_bytes((cancer["dir"] / "test.csv").read_bytes())
    spec = _write_preds(tmp_path, cancer["preds"].iloc[3:])
    code, out = _run(_suite(tmp_path, spec), tmp_path / "out")
    n = len(cancer["y"])
    assert code == 2
    assert f"preds.csv has no prediction for 3 of the {n} ids of test.csv" in out
    assert "id 'p0' (row 1 of test.csv)" in out and "missing_ids: skip" in out
    suite = _suite(
        tmp_path,
        {"spec": spec, "options": {"missing_ids": "skip"}},
        gates=["performance.unscored.ids_missing <= 0"],
    )
    report = assay.evaluate(suite, write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None and perf.n == n - 3
    assert perf.metrics["unscored.ids_missing"].value == 3
    assert perf.metrics["unscored.calls_failed"].value == 0  # not counted twice
    assert not report.gates[0].passed
    code, out = _run(suite, tmp_path / "out")
    assert code == 1 and "unscored candidate · test: 3 ids missing" in out


def test_failed_calls_and_dropped_rows_are_counted_by_cause(tmp_path: Path) -> None:
    rows = "id,text,label\n1,good,pos\n2,bad,neg\n3,,neg\n4,boom,pos\n5,fine,pos\n"
    (tmp_path / "d.csv").write_text(rows)
    (tmp_path / "m.py").write_text(
        "def f(batch):\n"
        "    if 'boom' in batch and len(batch) == 1:\n"
        "        raise ValueError('cannot read boom')\n"
        "    if 'boom' in batch:\n"
        "        raise ValueError('batch has boom')\n"
        "    return ['pos' if t in ('good', 'fine') else 'neg' for t in batch]\n"
    )
    suite = {
        "data": {
            "path": "d.csv",
            "id": "id",
            "input": "text",
            "label": "label",
            "on_invalid": "skip",
        },
        "models": {"m": "python:m.py:f"},
        "engine": {"cache": None, "progress": False, "retries": 0, "backoff_s": 0},
        "gates": ["performance.unscored.* <= 0"],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "s.yaml", write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None
    assert perf.metrics["unscored.rows_dropped"].value == 1
    assert perf.metrics["unscored.calls_failed"].value == 1
    assert perf.tables["unscored"]["examples"]["rows_dropped"] == ["row 3 of d.csv (missing input)"]
    assert list(perf.tables["unscored"]["causes"]) == ["ValueError"]
    assert not report.gates[0].passed
    code, out = _run(tmp_path / "s.yaml", tmp_path / "out")
    assert code == 1
    assert "1 rows dropped — row 3 of d.csv (missing input)" in out
    assert "1 calls failed (ValueError: 1) — id '4' (row 4 of d.csv)" in out


# ------------------------------------------------------------- a model trained on other labels


def test_a_sklearn_model_trained_on_other_labels_is_refused_then_mapped(
    cancer: dict[str, Any], tmp_path: Path
) -> None:
    d = tmp_path
    (d / "named.csv").write_bytes((cancer["dir"] / "named.csv").read_bytes())
    (d / "model01.joblib").write_bytes((cancer["dir"] / "model01.joblib").read_bytes())
    suite = _suite(d, "sklearn:model01.joblib", path="named.csv", label="diagnosis")
    code, out = _run(suite, d / "out")
    assert code == 2, out
    assert "trained on the classes 0, 1 (classes_ of model01.joblib)" in out
    assert "labels found in named.csv are benign, malignant" in out and "label_map" in out
    mapped = {
        "spec": "sklearn:model01.joblib",
        "options": {"label_map": {0: "malignant", 1: "benign"}},
    }
    suite = _suite(d, mapped, path="named.csv", label="diagnosis")
    report = assay.evaluate(suite, write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None and report.models[0]["labels"] == ["malignant", "benign"]
    preds = cancer["preds"]
    assert perf.metrics["accuracy"].value == pytest.approx(
        accuracy_score(cancer["y"], preds["prediction"]), abs=1e-12
    )
    # the positive class is the second label found: malignant (sklearn class 0)
    assert perf.metrics["roc_auc"].value == pytest.approx(
        roc_auc_score(cancer["y"] == 0, cancer["proba"][:, 0]), abs=1e-12
    )


def test_label_map_names_a_class_the_model_lacks(cancer: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "model01.joblib").write_bytes((cancer["dir"] / "model01.joblib").read_bytes())
    with pytest.raises(ModelError, match=r"'2' is not a class of the model; its classes"):
        assay.load_model(
            "sklearn:model01.joblib",
            base_dir=tmp_path,
            trust=True,
            options={"label_map": {2: "x"}},
        )


# ------------------------------------------------------------- gates on classes


def test_a_gate_on_a_class_the_data_lacks_is_refused_before_any_model_runs(
    cancer: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "named.csv").write_bytes((cancer["dir"] / "named.csv").read_bytes())
    (tmp_path / "m.py").write_text("def f(batch):\n    raise AssertionError('never called')\n")
    suite = _suite(
        tmp_path,
        "python:m.py:f",
        path="named.csv",
        label="diagnosis",
        gates=["performance.per_class.malignent.recall.lower >= 0.8"],
    )
    with pytest.raises(ConfigError) as err:
        assay.evaluate(suite, write=False, progress=False)
    msg = str(err.value)
    assert "gates[0]" in msg and "no metric performance.per_class.malignent.recall" in msg
    assert "performance.per_class.malignant.recall" in msg


def test_a_gate_on_auc_of_a_model_without_probabilities_says_why(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,text,label\na,good,pos\nb,bad,neg\nc,fine,pos\n")
    (tmp_path / "m.py").write_text(
        "def f(batch):\n    return ['pos' if t != 'bad' else 'neg' for t in batch]\n"
    )
    suite = {
        "data": {"path": "d.csv", "id": "id", "input": "text", "label": "label"},
        "models": {"m": "python:m.py:f"},
        "engine": {"cache": None, "progress": False},
        "gates": ["performance.roc_auc >= 0.5", "performance.unscored.* <= 0"],
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "s.yaml", write=False, progress=False)
    auc, unscored = report.gates
    assert not auc.passed
    assert (
        auc.detail
        == "roc_auc was not computed: model 'm' gives no class probabilities with its labels"
    )
    assert unscored.passed  # a model without probabilities is not a row left unscored
