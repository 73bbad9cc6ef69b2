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

from assay import evaluate
from assay._cli.main import app
from assay._runner import suite_from_dict
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


def test_cv_fit_hook_raising_in_one_fold_names_the_fold(
    cv_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cv_project)  # --fit's path is relative to the working directory
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


# ------------------------------------------- assay curves / leakage: Reports, gates, --out


def _suite_report(directory: Path, data: dict, checks: dict) -> Report:
    """The same check run inside a suite, on the same files (a constant python: model)."""
    (directory / "hooks.py").write_text(
        "def predict(batch):\n    return ['a' for _ in batch]\npredict.task = 'classification'\n"
    )
    raw = {
        "data": data,
        "models": {"candidate": "python:hooks.py:predict"},
        "checks": checks,
        "engine": {"cache": None, "progress": False},
    }
    return evaluate(suite_from_dict(raw, base_dir=directory), write=False, progress=False)


def test_curves_report_equals_the_suite_check_and_gates_decide_the_exit(tmp_path: Path) -> None:
    val = [0.9, 0.7, 0.6, 0.55, 0.6, 0.66, 0.72, 0.8]  # severe: 45% above the best at the end
    log = _trainer_state(tmp_path / "trainer_state.json", val)
    pd.DataFrame({"text": ["x", "y"], "label": ["a", "b"]}).to_csv(
        tmp_path / "test.csv", index=False
    )
    res = runner.invoke(
        app,
        [
            "curves",
            str(log),
            "--smoothing",
            "0",
            "--out",
            str(tmp_path / "d"),
            "--gate",
            "generalization.curves.severity <= 1",
            "--gate",
            "generalization.curves.best_step.value == 40",
        ],
    )
    assert res.exit_code == 1, res.output
    out = flat(res.output)
    assert "overfitting: severe" in out and "FAIL — 1 of 2 gates failed" in out
    got = Report.load(tmp_path / "d" / "report.json")
    assert [(g.gate, g.passed) for g in got.gates] == [
        ("generalization.curves.severity <= 1", False),
        ("generalization.curves.best_step.value == 40", True),
    ]
    want = _suite_report(
        tmp_path,
        {"path": "test.csv", "input": "text", "label": "label"},
        {"generalization": {"log": "trainer_state.json", "smoothing": 0}},
    ).result("generalization")
    r = got.result("generalization")
    assert r is not None and want is not None
    assert r.metrics == want.metrics and list(r.metrics) == list(want.metrics)
    assert r.tables == want.tables and r.flags == want.flags and r.n == want.n
    assert r.metrics["curves.severity"].value == 2.0
    # a gate that passes: exit 0, and the report says so
    res = runner.invoke(
        app,
        ["curves", str(log), "--smoothing", "0", "--gate", "generalization.curves.severity <= 2"],
    )
    assert res.exit_code == 0 and "PASS — all 1 gates passed" in flat(res.output)


def test_curves_gate_on_a_metric_it_cannot_produce_exits_2_with_the_valid_paths(
    tmp_path: Path,
) -> None:
    log = _trainer_state(tmp_path / "trainer_state.json", [0.9, 0.7, 0.6])
    for gate in ("generalization.train_test_gap.accuracy.upper <= 0.05", "leakage.exact.rate < 1"):
        res = runner.invoke(app, ["curves", str(log), "--gate", gate, "--out", str(tmp_path / "d")])
        assert res.exit_code == 2, res.output
        out = flat(res.output)
        assert "generalization.curves.severity generalization.curves.gap_at_best" in out
        assert "generalization.curves.validation_rise" in out and "Traceback" not in out
    assert not (tmp_path / "d").exists()  # refused before anything is read or written


def _leak_args(d: Path, *more: str) -> list[str]:
    return [
        "leakage",
        "--train",
        str(d / "train.csv"),
        "--test",
        str(d / "test.jsonl"),
        "--input",
        "body",
        *more,
    ]


def test_leakage_gates_pass_or_fail_on_the_planted_duplicates(planted_texts: dict) -> None:
    from statsmodels.stats.proportion import proportion_confint

    d = planted_texts["dir"]
    # 2 of 80 rows contaminated: Wilson's 95% upper bound is about 0.087
    lo, hi = proportion_confint(2, 80, alpha=0.05, method="wilson")
    res = runner.invoke(
        app,
        _leak_args(d, "--out", str(d / "ok"), "--gate", "leakage.contaminated.rate.upper <= 0.1"),
    )
    assert res.exit_code == 0, res.output
    assert "PASS — all 1 gates passed" in flat(res.output)
    assert "test row 6 = train row 18" in flat(res.output)  # the console lines are still there
    rate = Report.load(d / "ok" / "report.json").result("leakage").metrics["contaminated.rate"]
    assert (rate.value, rate.lower, rate.upper) == pytest.approx((2 / 80, lo, hi), abs=1e-12)
    assert rate.method == "wilson" and rate.n == 80
    res = runner.invoke(
        app,
        _leak_args(d, "--out", str(d / "bad"), "--gate", "leakage.contaminated.rate.upper <= 0.01"),
    )
    assert res.exit_code == 1, res.output
    rep = Report.load(d / "bad" / "report.json")
    assert not rep.passed and rep.gates[0].observed == pytest.approx(hi, abs=1e-12)
    # --json carries the gates and keeps the exit code
    res = runner.invoke(app, _leak_args(d, "--json", "--gate", "leakage.exact.count == 0"))
    assert res.exit_code == 1
    got = json.loads(res.output)
    assert got["passed"] is False and got["gates"][0]["observed"] == 1.0
    assert got["n_contaminated"] == 2


def test_leakage_report_equals_the_suite_check_on_the_same_files(planted_texts: dict) -> None:
    d = planted_texts["dir"]
    frame = pd.read_json(d / "test.jsonl", lines=True)
    frame["y"] = ["a", "b"] * (len(frame) // 2)
    frame.to_json(d / "test.jsonl", orient="records", lines=True)
    res = runner.invoke(app, _leak_args(d, "--out", str(d / "out")))
    assert res.exit_code == 0, res.output
    r = Report.load(d / "out" / "report.json").result("leakage")
    want = _suite_report(
        d,
        {
            "test": {"path": "test.jsonl", "input": "body", "label": "y"},
            "train": {"path": "train.csv", "input": "body"},
        },
        {"leakage": {}},
    ).result("leakage")
    assert r is not None and want is not None
    for key in ("exact.rate", "near.rate", "contaminated.rate", "exact.count", "near.count"):
        assert r.metrics[key] == want.metrics[key]
    assert r.tables["duplicates"] == want.tables["duplicates"]
    assert r.examples == want.examples and r.flags == want.flags
    # the suite's check also recomputes the test metrics without the contaminated rows
    assert "clean.accuracy" in want.metrics and "clean.accuracy" not in r.metrics


def test_leakage_bad_gate_exits_2_naming_the_valid_paths(planted_texts: dict) -> None:
    d = planted_texts["dir"]
    res = runner.invoke(app, _leak_args(d, "--gate", "leakage.clean.accuracy.lower >= 0.8"))
    assert res.exit_code == 2
    out = flat(res.output)
    assert "no metric leakage.clean.accuracy" in out
    assert "leakage.exact.rate leakage.near.rate leakage.contaminated.rate" in out
    assert "leakage.embedding.rate" not in out  # only with --embedding
    res = runner.invoke(app, _leak_args(d, "--gate", "leakage.contaminated.rate.upper <= x"))
    assert res.exit_code == 2 and "threshold 'x' is not a number" in flat(res.output)


def test_report_rerenders_a_leakage_and_a_curves_report(planted_texts: dict) -> None:
    d = planted_texts["dir"]
    gate = "leakage.contaminated.rate.upper <= 0.01"
    assert runner.invoke(app, _leak_args(d, "--out", str(d / "l"), "--gate", gate)).exit_code == 1
    log = _trainer_state(d / "trainer_state.json", [0.9, 0.7, 0.6, 0.55, 0.56])
    assert runner.invoke(app, ["curves", str(log), "--out", str(d / "c")]).exit_code == 0
    res = runner.invoke(app, ["report", str(d / "l" / "report.json"), "--html", str(d / "l.html")])
    assert res.exit_code == 1, res.output  # the failed gate, read back from the JSON
    page = (d / "l.html").read_text(encoding="utf-8")
    assert 'id="check-leakage"' in page and "1 exact · 1 near" in page
    assert page == (d / "l" / "report.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", str(d / "c" / "report.json"), "--html", str(d / "c.html")])
    assert res.exit_code == 0, res.output
    page = (d / "c.html").read_text(encoding="utf-8")
    assert 'id="check-generalization"' in page and "Training curves" in page
