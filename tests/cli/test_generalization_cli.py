"""``assay curves``, ``assay leakage`` and ``assay cv`` through typer's CliRunner: what they print,
their exit codes, and the messages for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from assay._cli.main import app
from assay.leakage import find_duplicates
from assay.report import Report

runner = CliRunner()


def flat(text: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(text.split())


# ---------------------------------------------------------------- assay curves


def _trainer_state(path: Path, val: list[float]) -> Path:
    hist: list[dict[str, float]] = []
    for i, v in enumerate(val, start=1):
        hist.append({"loss": 1.0 / i, "step": 10 * i})
        hist.append({"eval_loss": v, "step": 10 * i})
    path.write_text(json.dumps({"log_history": hist}))
    return path


def test_curves_prints_the_diagnosis(tmp_path: Path) -> None:
    val = [0.9, 0.7, 0.6, 0.55, 0.6, 0.66, 0.72, 0.8]  # best at step 40, 45% worse at the end
    log = _trainer_state(tmp_path / "trainer_state.json", val)
    res = runner.invoke(app, ["curves", str(log), "--smoothing", "0"])
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert "pair: loss (training) / eval_loss (validation), lower is better" in out
    assert "overfitting: severe" in out
    assert "best step 40 (validation 0.55)" in out
    assert f"{(0.8 - 0.55) / 0.55:.1%} off the best" in out
    assert "divergence from step 40" in out


def test_curves_json_and_mild_threshold(tmp_path: Path) -> None:
    val = [0.9, 0.7, 0.6, 0.55, 0.56, 0.57]  # 3.6% worse at the end
    log = _trainer_state(tmp_path / "trainer_state.json", val)
    res = runner.invoke(app, ["curves", str(log), "--smoothing", "0", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["verdict"] == "mild" and d["best_step"] == 40 and d["last_step"] == 60
    assert d["validation_rise"] == pytest.approx((0.57 - 0.55) / 0.55)
    # the same log is "severe" once the severe threshold is below its rise
    res = runner.invoke(app, ["curves", str(log), "--smoothing", "0", "--severe", "0.03", "--json"])
    assert json.loads(res.output)["verdict"] == "severe"


def test_curves_without_validation_names_the_series_and_the_fix(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("step,train_loss,accuracy\n1,0.9,0.5\n2,0.8,0.6\n3,0.7,0.65\n")
    res = runner.invoke(app, ["curves", str(log)])
    assert res.exit_code == 2
    out = flat(res.output)
    assert "train_loss (3 points, steps 1–3)" in out and "accuracy (3 points" in out
    assert "--validation" in out and "Traceback" not in out
    # naming the series, as the message says, works
    res = runner.invoke(
        app, ["curves", str(log), "--train", "train_loss", "--validation", "accuracy", "--json"]
    )
    assert res.exit_code == 0, res.output


def test_curves_with_different_step_grids_lists_both_ranges(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [{"step": s, "split": "train", "metric": "loss", "value": 1 / s} for s in range(1, 6)]
    rows += [{"step": s, "split": "eval", "metric": "loss", "value": 0.5} for s in (100, 200)]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = runner.invoke(app, ["curves", str(log)])
    assert res.exit_code == 2
    out = flat(res.output)
    assert "share fewer than two steps" in out
    assert "steps 1–5" in out and "steps 100–200" in out


def test_curves_missing_log_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["curves", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such training log" in flat(res.output)


# ---------------------------------------------------------------- assay leakage


@pytest.fixture
def planted_texts(tmp_path: Path) -> dict:
    rng = np.random.default_rng(3)
    words = [f"word{i}" for i in range(400)]
    train = [" ".join(rng.choice(words, 14)) for _ in range(200)]
    test = [" ".join(rng.choice(words, 14)) for _ in range(80)]
    test[5] = train[17].upper() + "!"  # exact after normalisation
    test[9] = train[40] + " extra"  # near: one word appended
    pd.DataFrame({"body": train}).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"body": test}).to_json(tmp_path / "test.jsonl", orient="records", lines=True)
    return {"dir": tmp_path, "train": train, "test": test}


def test_leakage_finds_the_planted_duplicates(planted_texts: dict) -> None:
    d = planted_texts["dir"]
    args = ["leakage", "--train", str(d / "train.csv"), "--test", str(d / "test.jsonl")]
    res = runner.invoke(app, [*args, "--input", "body"])
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert "80 test rows against 200 training rows: 1 exact duplicates, 1 near duplicates" in out
    assert "2 test rows (2.50%) contaminated" in out
    assert "test row 6 = train row 18" in out and "near" in out and "test row 10" in out
    res = runner.invoke(app, [*args, "--input", "body", "--json"])
    got = json.loads(res.output)
    want = find_duplicates(planted_texts["train"], planted_texts["test"])
    assert [tuple(p) for p in got["exact"]] == want.exact == [(5, 17)]
    assert [(t, s) for t, s, _ in got["near"]] == [(9, 40)]
    assert got["n_contaminated"] == 2


def test_leakage_wrong_column_names_the_columns(planted_texts: dict) -> None:
    d = planted_texts["dir"]
    res = runner.invoke(
        app, ["leakage", "--train", str(d / "train.csv"), "--test", str(d / "test.jsonl")]
    )
    assert res.exit_code == 2
    out = flat(res.output)
    assert "no column 'text'" in out and "body" in out and "--input" in out


def test_leakage_embedding_skipped_with_a_note(
    planted_texts: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assay._embeddings as emb

    real = emb.importlib.util.find_spec
    monkeypatch.setattr(
        emb.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    d = planted_texts["dir"]
    res = runner.invoke(
        app,
        [
            "leakage",
            "--train",
            str(d / "train.csv"),
            "--test",
            str(d / "test.jsonl"),
            "--input",
            "body",
            "--embedding",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert "embedding" not in got and got["n_contaminated"] == 2
    assert "sentence-transformers is not installed" in got["notes"][0]


# ---------------------------------------------------------------- assay cv


@pytest.fixture
def cv_project(tmp_path: Path) -> Path:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "y"})
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "id", [f"r{i}" for i in range(len(frame))])
    features = [c for c in frame.columns if c not in ("id", "y")][:6]
    frame.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[300:420].to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "hooks.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        f"FEATURES = {features!r}\n"
        "def fit(rows):\n"
        "    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))\n"
        "    return model.fit(rows[FEATURES], rows['y'].astype(str))\n"
        "CALLS = []\n"
        "def fit_fails_second(rows):\n"
        "    CALLS.append(1)\n"
        "    if len(CALLS) == 2:\n"
        "        raise ValueError('planted failure in the fit hook')\n"
        "    return fit(rows)\n"
    )
    spec = {"id": "id", "input": features, "label": "y"}
    suite = {
        "data": {"test": {"path": "test.csv", **spec}, "train": {"path": "train.csv", **spec}},
        "models": {"candidate": "python:hooks.py:fit"},
        "checks": {"performance": {}, "cv": {"fit": "python:hooks.py:fit"}},
        "gates": ["performance.accuracy.value >= 0.5", "cv.accuracy.lower >= 0.5"],
        "engine": {"cache": str(tmp_path / "cache.db"), "progress": False},
        "out": str(tmp_path / "out"),
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp_path


def test_cv_runs_only_cross_validation_with_the_options_given(cv_project: Path) -> None:
    res = runner.invoke(
        app,
        [
            "cv",
            str(cv_project / "suite.yaml"),
            "--folds",
            "4",
            "--scheme",
            "kfold",
            "--out",
            str(cv_project / "cvout"),
        ],
    )
    assert res.exit_code == 0, res.output
    report = Report.load(cv_project / "cvout" / "report.json")
    assert [r.check for r in report.results] == ["cv"]
    acc = report.result("cv").metrics["accuracy"]
    assert acc.n == 4 and acc.method == "nadeau-bengio" and 0.8 < acc.value <= 1.0
    assert "cv" in flat(res.output)


def test_cv_failing_gate_exits_1(cv_project: Path) -> None:
    s = yaml.safe_load((cv_project / "suite.yaml").read_text())
    s["gates"] = ["cv.accuracy.lower >= 0.999"]
    (cv_project / "suite.yaml").write_text(yaml.safe_dump(s))
    res = runner.invoke(app, ["cv", str(cv_project / "suite.yaml"), "--folds", "3"])
    assert res.exit_code == 1, res.output


def test_cv_fit_hook_raising_in_one_fold_names_the_fold(cv_project: Path) -> None:
    res = runner.invoke(
        app,
        [
            "cv",
            str(cv_project / "suite.yaml"),
            "--folds",
            "3",
            "--fit",
            "python:hooks.py:fit_fails_second",
        ],
    )
    assert res.exit_code == 2
    out = flat(res.output)
    assert "fold 2" in out and "planted failure in the fit hook" in out
    assert "Traceback" in out  # the hook's traceback, so the user can find the line
    assert not (cv_project / "out" / "cv" / "report.json").exists()  # no partial report
