"""Training-log readers on logs written by the real tools (TensorBoard's writer, MLflow's client)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay.errors import ConfigError
from assay.generalization import diagnose, read_log

STEPS = list(range(10, 110, 10))
TRAIN = [1.0 / (1 + 0.3 * i) for i in range(10)]
VAL = [0.9, 0.7, 0.6, 0.55, 0.53, 0.56, 0.6, 0.66, 0.72, 0.8]


def test_trainer_state(tmp_path: Path) -> None:
    history = []
    for s, t, v in zip(STEPS, TRAIN, VAL):
        history += [
            {"loss": t, "learning_rate": 1e-4, "epoch": s / 10, "step": s},
            {"eval_loss": v, "eval_runtime": 1.0, "epoch": s / 10, "step": s},
        ]
    history.append({"train_loss": 0.4, "train_runtime": 9.0, "step": 100})
    run = tmp_path / "checkpoint-100"
    run.mkdir()
    (run / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    log = read_log(tmp_path)  # the folder: found in the latest checkpoint
    assert log.format == "trainer_state"
    assert log.names() == ["eval_loss", "loss"]
    np.testing.assert_allclose(log.series["eval_loss"].values, VAL)
    np.testing.assert_array_equal(log.series["loss"].steps, STEPS)


def test_tensorboard_event_files(tmp_path: Path) -> None:
    from tensorboard.summary import Writer

    for sub, tag, values in (("train", "epoch_loss", TRAIN), ("validation", "epoch_loss", VAL)):
        w = Writer(str(tmp_path / sub))
        for s, v in zip(STEPS, values):
            w.add_scalar(tag, v, s)
        w.close()
    log = read_log(tmp_path)
    assert log.format == "tensorboard"
    assert log.names() == ["train/epoch_loss", "validation/epoch_loss"]
    np.testing.assert_allclose(log.series["validation/epoch_loss"].values, VAL, rtol=1e-6)
    d = diagnose(log, smoothing=0)
    assert (d.train_series, d.validation_series) == ("train/epoch_loss", "validation/epoch_loss")
    assert d.best_step == 50


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy 2.1 warns about MLflow's use
def test_mlflow_sqlite_store(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("t", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(exp).info.run_id
    for s, t, v in zip(STEPS, TRAIN, VAL):
        client.log_metric(run, "train_loss", t, step=s)
        client.log_metric(run, "val_loss", v, step=s)
    client.set_terminated(run)
    log = read_log(f"mlflow:{uri}#{run}")
    assert log.format == "mlflow" and log.names() == ["train_loss", "val_loss"]
    np.testing.assert_allclose(log.series["val_loss"].values, VAL)
    with pytest.raises(ConfigError, match="run id"):
        read_log(f"mlflow:{uri}")


def test_csv_long_and_wide(tmp_path: Path) -> None:
    long = tmp_path / "log.csv"
    lines = ["step,split,metric,value"]
    for s, t, v in zip(STEPS, TRAIN, VAL):
        lines += [f"{s},train,loss,{t}", f"{s},validation,loss,{v}"]
    long.write_text("\n".join(lines) + "\n")
    assert read_log(long).names() == ["train/loss", "validation/loss"]
    wide = tmp_path / "log.jsonl"
    wide.write_text(
        "".join(
            json.dumps({"epoch": s, "train_acc": 1 - t, "val_acc": 1 - v}) + "\n"
            for s, t, v in zip(STEPS, TRAIN, VAL)
        )
    )
    d = diagnose(read_log(wide), smoothing=0)
    assert d.direction == "higher" and d.best_step == 50


def test_log_without_validation_names_what_it_found(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("step,train_loss,lr\n1,0.9,0.1\n2,0.8,0.1\n")
    with pytest.raises(ConfigError) as e:
        diagnose(read_log(p))
    msg = str(e.value)
    assert "train_loss (2 points, steps 1–2)" in msg and "--validation" in msg


def test_disjoint_step_grids_are_explained(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    rows = ["step,split,metric,value"] + [f"{s},train,loss,0.5" for s in range(1, 11)]
    rows += [f"{s},eval,loss,0.6" for s in range(1000, 1010)]
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        ConfigError, match=r"share fewer than two steps.*steps 1–10.*steps 1000–1009"
    ):
        diagnose(read_log(p))


def test_missing_source() -> None:
    with pytest.raises(ConfigError, match="no such training log"):
        read_log("/nonexistent/run")
