"""The MLflow evaluator plugin: registration, ``can_evaluate``, and a real ``mlflow.models.evaluate``."""

from __future__ import annotations

import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

from assay.errors import ConfigError, MissingDependencyError
from assay.integrations._mlflow_evaluator import AssayEvaluator


def _full_mlflow() -> bool:
    # mlflow.models.evaluation imports matplotlib, which mlflow-skinny does not bring.
    return importlib.util.find_spec("mlflow") is not None and (
        importlib.util.find_spec("matplotlib") is not None
    )


def test_entry_point_is_registered() -> None:
    (ep,) = [e for e in entry_points(group="mlflow.model_evaluator") if e.name == "assay"]
    assert ep.value == "assay.integrations._mlflow_evaluator:AssayEvaluator"
    assert ep.load() is AssayEvaluator


def test_can_evaluate() -> None:
    assert AssayEvaluator.can_evaluate(model_type="classifier", evaluator_config={})
    assert AssayEvaluator.can_evaluate(model_type="regressor", evaluator_config=None)
    assert not AssayEvaluator.can_evaluate(model_type="question-answering", evaluator_config={})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'metric'.*allowed: checks, gates"):
        AssayEvaluator.can_evaluate(model_type="classifier", evaluator_config={"metric": 1})
    with pytest.raises(ConfigError, match="evaluator_config.checks: expected a mapping"):
        AssayEvaluator.can_evaluate(model_type="classifier", evaluator_config={"checks": ["x"]})


def test_without_full_mlflow_evaluate_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # What mlflow-skinny gives: the evaluation registry cannot be imported (no matplotlib).
    monkeypatch.setitem(sys.modules, "mlflow.models.evaluation.evaluator_registry", None)
    with pytest.raises(MissingDependencyError, match="needs the full mlflow package"):
        AssayEvaluator().evaluate(
            model_type="classifier", dataset=None, run_id="x", evaluator_config={}
        )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred")  # MLflow's signature inference
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # MLflow's SQL
@pytest.mark.skipif(not _full_mlflow(), reason="mlflow.models.evaluate needs the full mlflow")
def test_mlflow_evaluate_runs_assay_and_logs_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root is ./mlruns
    frame = load_breast_cancer(as_frame=True).frame
    features = [c for c in frame.columns if c != "target"]
    train, test = frame.iloc[::2], frame.iloc[1::2]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(train[features], train["target"])
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        mlflow.set_experiment("evaluator")
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(model, name="model")
            result = mlflow.models.evaluate(
                info.model_uri,
                test,
                targets="target",
                model_type="classifier",
                evaluators=["assay"],
                evaluator_config={
                    "assay": {
                        "checks": {"performance": {}},
                        "gates": ["performance.accuracy.lower >= 0.9"],
                        "out": str(tmp_path / "assay"),
                    }
                },
            )
    finally:
        mlflow.set_tracking_uri(None)
    acc = accuracy_score(test["target"], model.predict(test[features]))
    auc = roc_auc_score(test["target"], model.predict_proba(test[features])[:, 1])
    assert result.metrics["performance/candidate/accuracy"] == pytest.approx(acc, abs=1e-12)
    # The run, read back from the store.
    logged = MlflowClient(uri).get_run(run.info.run_id)
    m = logged.data.metrics
    assert m["performance/candidate/accuracy"] == pytest.approx(acc, abs=1e-12)
    assert m["performance/candidate/roc_auc"] == pytest.approx(auc, abs=1e-9)
    assert m["performance/candidate/accuracy.lower"] < acc < m["performance/candidate/accuracy.upper"]
    assert m["gates/passed"] == 1.0 and logged.data.tags["assay.verdict"] == "PASS"
    names = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id)}
    assert {"report.json", "report.html"} <= names
    # The model was handed to assay as a scikit-learn model, so it answered assay's requests.
    assert (tmp_path / "assay" / "model.joblib").exists()
    assert np.isclose(result.metrics["performance/candidate/roc_auc"], auc)
