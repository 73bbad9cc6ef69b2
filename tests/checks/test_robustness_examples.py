"""Robustness on real bundled data: the digits image example end to end, and a tabular model on
scikit-learn's breast-cancer set under numeric noise, missing values and a unit change. Each metric
is checked against a literal recomputation with the model called directly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

import assay
from assay.perturb import PerturbEnv, parse_recipe, perturb_inputs
from assay.perturb._tabular import column_stats

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits example folder, prepared with 500 digits (200 held out)."""
    d = tmp_path_factory.mktemp("digits")
    shutil.copytree(
        ROOT / "examples" / "digits",
        d,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("work", ".assay", "__pycache__"),
    )
    subprocess.run(
        [sys.executable, str(d / "prepare.py"), "--limit", "500", "--n-test", "200"],
        check=True,
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return d


def _literal_predict(folder: Path, paths: list[str]) -> np.ndarray:
    """The example's classifier applied by hand: read each PNG, scale to [0, 1], predict."""
    model = joblib.load(folder / "work" / "model.joblib")
    rows = []
    for p in paths:
        q = Path(p) if Path(p).is_absolute() else folder / p
        rows.append(np.asarray(Image.open(q).convert("L"), dtype=float).ravel() / 255)
    return np.array([str(c) for c in model.predict(np.vstack(rows))])


@pytest.mark.slow
def test_digits_example_end_to_end(digits: Path) -> None:
    report = assay.evaluate(digits / "suite.yaml", write=False, progress=False)
    perf = report.result("performance")
    r = report.result("robustness")
    assert perf is not None and r is not None and perf.n == 200
    test = pd.read_csv(digits / "work" / "test.csv")
    orig = _literal_predict(digits, test["image"].tolist())
    truth = test["label"].astype(str).to_numpy()
    assert perf.metrics["accuracy"].value == pytest.approx(np.mean(orig == truth), abs=1e-12)

    # One variant recomputed literally: the same perturbed files, the model called directly.
    env = PerturbEnv(image_dir=digits / ".assay" / "perturbed", base_dir=digits)
    payloads = [{"image": p} for p in test["image"]]
    out = perturb_inputs(
        payloads, parse_recipe("rotation:0.2"), ids=test["id"].tolist(), seed=0, env=env
    )
    pert = _literal_predict(digits, [o["image"] for o in out])
    assert r.metrics["rotation@20.flip_rate"].value == pytest.approx(np.mean(pert != orig), 1e-12)
    deg = r.metrics["rotation@20.degradation"]
    assert deg.value == pytest.approx(np.mean(pert == truth) - np.mean(orig == truth), abs=1e-12)
    # A 18-degree rotation costs a pixel classifier accuracy, clearly; a 9-degree one less so.
    assert deg.upper < 0
    assert r.metrics["rotation@10.accuracy"].value >= r.metrics["rotation@20.accuracy"].value
    assert r.metrics["occlusion@25.flip_rate"].lower > r.metrics["occlusion@10.flip_rate"].value
    for key, est in r.metrics.items():
        if est.method != "none":
            assert est.lower <= est.value <= est.upper, key
    assert any(e["perturbation"].startswith("rotation") for e in r.examples)
    assert report.passed, [(g.gate, g.detail) for g in report.gates]
    # Perturbed images are cached by content: a re-run asks the model nothing.
    again = assay.evaluate(digits / "suite.yaml", write=False, progress=False)
    assert again.engine["n_called"] == 0


def test_an_image_perturbation_that_changes_no_pixel_counts_as_unchanged(tmp_path: Path) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((16, 16), 128, dtype=np.uint8), mode="L").save(grey)
    dot = tmp_path / "dot.png"
    a = np.full((16, 16), 128, dtype=np.uint8)
    a[0, 0] = 0
    Image.fromarray(a, mode="L").save(dot)
    pd.DataFrame({"id": ["g", "d"], "image": [str(grey), str(dot)], "label": ["x", "x"]}).to_csv(
        tmp_path / "test.csv", index=False
    )
    (tmp_path / "model.py").write_text(
        "def predict(batch):\n    return ['x' for _ in batch]\npredict.task = 'classification'\n"
    )
    # Occluding the whole of a uniformly grey image with grey changes no pixel.
    suite = {
        "name": "grey",
        "data": {"path": "test.csv", "id": "id", "input": {"image": "image"}, "label": "label"},
        "models": {"m": "python:model.py:predict"},
        "checks": {"robustness": {"perturbations": ["occlusion:1.0"]}},
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    r = assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False).result("robustness")
    assert r is not None
    assert r.metrics["occlusion.n_unchanged"].value == 1
    assert r.metrics["occlusion.flip_rate"].n == 1
    assert any("1 of 2 inputs could not be changed" in f for f in r.flags)


def test_tabular_breast_cancer_degrades_under_noise_missing_values_and_units(
    tmp_path: Path,
) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    features = [c for c in frame.columns if c != "target"]
    frame["label"] = np.where(frame["target"] == 1, "benign", "malignant")
    frame["id"] = [f"r{i}" for i in range(len(frame))]
    train, test = train_test_split(frame, test_size=0.5, random_state=0, stratify=frame["label"])
    model = make_pipeline(
        SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000, C=0.3)
    )
    model.fit(train[features].to_numpy(), train["label"])
    joblib.dump(model, tmp_path / "model.joblib")
    test[["id", *features, "label"]].to_csv(tmp_path / "test.csv", index=False)
    suite = {
        "name": "breast_cancer",
        "seed": 0,
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "label"},
        "models": {"m": "sklearn:model.joblib"},
        "trust": True,
        "checks": {
            "robustness": {
                "perturbations": [
                    {"name": "numeric_noise", "severity": [0.1, 0.5]},
                    "missing:0.3",
                    "scale:0.1",
                ]
            }
        },
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    r = assay.evaluate(tmp_path / "suite.yaml", write=False, progress=False).result("robustness")
    assert r is not None and r.n == len(test)

    rows = test[features].to_dict("records")
    env = PerturbEnv(columns=column_stats(test, features))
    orig = model.predict(test[features].to_numpy())
    truth = test["label"].to_numpy()
    for key, recipe in (
        ("numeric_noise@10", "numeric_noise:0.1"),
        ("numeric_noise@50", "numeric_noise:0.5"),
        ("missing", "missing:0.3"),
        ("scale", "scale:0.1"),
    ):
        out = perturb_inputs(rows, parse_recipe(recipe), ids=test["id"].tolist(), seed=0, env=env)
        x = pd.DataFrame(out, columns=features).astype(float).to_numpy()
        pert = model.predict(x)
        deg = r.metrics[f"{key}.degradation"]
        assert deg.value == pytest.approx(
            np.mean(pert == truth) - np.mean(orig == truth), abs=1e-12
        )
        assert r.metrics[f"{key}.flip_rate"].value == pytest.approx(np.mean(pert != orig), 1e-12)
        assert deg.lower <= deg.value <= deg.upper
    # More noise, more flips; a unit change on a tenth of the columns breaks a linear model.
    assert (
        r.metrics["numeric_noise@50.flip_rate"].value
        > r.metrics["numeric_noise@10.flip_rate"].value
    )
    assert r.metrics["scale.degradation"].upper < 0


def test_a_model_that_raises_on_perturbed_inputs_is_a_finding_counted_shown_and_gateable(
    tmp_path: Path,
) -> None:
    """LogisticRegression without an imputer raises on missing values: every input the
    `missing` perturbation changed is a failed call. That used to read "changed no input; it
    has no rates"."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_")).iloc[:120]
    features = ["mean_radius", "mean_texture", "mean_smoothness", "mean_area"]
    frame["id"] = [f"r{i}" for i in range(len(frame))]
    model = LogisticRegression(max_iter=2000).fit(frame[features], frame["target"])
    joblib.dump(model, tmp_path / "model.joblib")
    frame[["id", *features, "target"]].to_csv(tmp_path / "test.csv", index=False)
    suite = {
        "data": {"path": "test.csv", "id": "id", "input": features, "label": "target"},
        "models": {"m": "sklearn:model.joblib"},
        "trust": True,
        "engine": {"cache": None, "progress": False, "batch_size": 1000},
        "checks": {"robustness": {"perturbations": ["missing:0.5", "numeric_noise:0.1"]}},
        "gates": ["robustness.missing.error_rate.upper <= 0.01"],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    report = assay.evaluate(tmp_path / "suite.yaml", out=tmp_path / "out", progress=False)
    r = report.result("robustness")
    assert r is not None
    # every changed row fails: the batch of perturbed inputs raises, so each is a failed call
    changed = 120 - int(r.metrics["missing.n_unchanged"].value)
    assert changed > 0
    assert r.metrics["missing.n_errors"].value == changed
    assert r.metrics["missing.error_rate"].value == 1.0
    assert r.metrics["numeric_noise.n_errors"].value == 0
    flag = next(f for f in r.flags if f.startswith("missing:"))
    assert f"failed on {changed} of {changed} perturbed inputs" in flag and "NaN" in flag
    assert not any("changed no input" in f for f in r.flags)
    row = next(x for x in r.tables["perturbations"] if x["key"] == "missing")
    assert row["n_errors"] == changed and "NaN" in row["first_error"]
    gate = report.gates[0]
    assert not gate.passed and report.passed is False
    html = (tmp_path / "out" / "report.html").read_text()
    assert "failed on" in html and "failed calls" in html
    from rich.console import Console

    from assay.report._console import print_summary

    console = Console(record=True, width=200)
    print_summary(report, console=console)
    text = console.export_text()
    assert f"model failed on perturbed inputs: missing {changed}" in text
