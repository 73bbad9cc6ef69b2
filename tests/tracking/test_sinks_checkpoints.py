"""``assay run --checkpoints``: sklearn and python models per ``checkpoint-*`` folder; each metric
against the step in the report, TensorBoard and MLflow. (The ``hf:`` path, on real transformers
checkpoints: ``test_checkpoints_hf.py``.)"""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

from assay._cli.main import app
from assay._runner import find_checkpoints
from assay.errors import ConfigError
from assay.report import Report

STEPS = (10, 40, 200)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, float]]:
    tmp = tmp_path_factory.mktemp("ckpt")
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    features = [c for c in frame.columns if c != "target"][:10]
    train, test = train_test_split(frame, test_size=0.4, random_state=0, stratify=frame["target"])
    test.assign(id=[f"r{i}" for i in test.index]).to_csv(tmp / "test.csv", index=False)
    expected = {}
    for step in STEPS:  # "training": more rows seen at each step
        d = tmp / "checkpoints" / f"checkpoint-{step}"
        d.mkdir(parents=True)
        model = LogisticRegression(max_iter=2000).fit(
            train[features][:step], train["target"][:step]
        )
        expected[step] = accuracy_score(test["target"], model.predict(test[features]))
        if step == 40:  # one checkpoint as a python: model
            joblib.dump(model, d / "est.joblib")
            (d / "model.py").write_text(
                "import joblib, pandas as pd\nfrom pathlib import Path\n"
                "_m = joblib.load(Path(__file__).with_name('est.joblib'))\n"
                "def predict(batch):\n"
                "    return [{'label': int(p), 'probabilities': {0: float(q[0]), 1: float(q[1])}}"
                " for p, q in zip(_m.predict(pd.DataFrame(batch)), _m.predict_proba(pd.DataFrame(batch)))]\n"
            )
        else:
            joblib.dump(model, d / "model.joblib")
    (tmp / "checkpoints" / "logs").mkdir()  # not a checkpoint: ignored
    suite = {
        "name": "ckpt",
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "target"},
        "models": {"candidate": "sklearn:unused.joblib"},
        "trust": True,
        "task": "classification",
        "checks": {"performance": {"n_bootstrap": 200}},
        "engine": {"cache": None, "progress": False},
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp, expected


@pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow")
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_checkpoint_sweep_to_report_tensorboard_and_mlflow(run_dir, monkeypatch) -> None:
    tmp, expected = run_dir
    monkeypatch.chdir(tmp)  # MLflow puts a SQLite store's artifacts under ./mlruns
    kinds = [spec.split(":")[0] for _, spec in find_checkpoints(tmp / "checkpoints")]
    assert kinds == ["sklearn", "python", "sklearn"]
    res = CliRunner().invoke(
        app,
        [
            "run",
            str(tmp / "suite.yaml"),
            "--checkpoints",
            str(tmp / "checkpoints"),
            "--out",
            str(tmp / "out"),
            "--tensorboard",
            str(tmp / "tb"),
            "--mlflow",
            f"sqlite:///{tmp / 'mlflow.db'}",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    report = Report.load(tmp / "out" / "report.json")
    sweep = report.result("checkpoints")
    assert sweep is not None
    acc = sweep.tables["series"]["accuracy"]
    assert acc["step"] == list(STEPS)
    assert acc["value"] == pytest.approx([expected[s] for s in STEPS], abs=1e-12)
    assert all(lo <= v <= hi for v, lo, hi in zip(acc["value"], acc["lower"], acc["upper"]))
    assert 'id="check-checkpoints"' in (tmp / "out" / "report.html").read_text()

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tmp / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    got = [(e.step, e.value) for e in ea.Scalars("candidate/checkpoints.accuracy")]
    assert [s for s, _ in got] == list(STEPS)
    assert [v for _, v in got] == pytest.approx([expected[s] for s in STEPS], rel=1e-6)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    (exp,) = [e for e in client.search_experiments() if e.name == "ckpt"]
    (run,) = client.search_runs([exp.experiment_id])
    hist = client.get_metric_history(run.info.run_id, "candidate/checkpoints.accuracy.lower")
    assert sorted(m.step for m in hist) == list(STEPS)


def test_no_checkpoints_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no checkpoint-<step> folder inside"):
        find_checkpoints(tmp_path)
