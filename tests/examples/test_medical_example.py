"""examples/medical: the breast-cancer triage suite, run from a temporary copy of the example.

Its headline numbers are computed again here without assay, from the saved pipeline and the
check's calibration/test split (drawn again from the same named random stream): sensitivity at
95% specificity (scikit-learn's ``roc_curve`` on the calibration rows, then the test rows at that
threshold) and the LAC conformal coverage.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

import assay
from assay.stats import stream

ROOT = Path(__file__).resolve().parents[2]
MEDICAL = ROOT / "examples" / "medical"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, assay.Report, float]:
    tmp = tmp_path_factory.mktemp("medical")
    shutil.copytree(
        MEDICAL, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("work", "__pycache__")
    )
    subprocess.run([sys.executable, str(tmp / "prepare.py")], check=True, capture_output=True)
    started = time.perf_counter()
    report = assay.evaluate(tmp / "suite.yaml", out=tmp / "out", progress=False)
    return tmp, report, time.perf_counter() - started


def test_medical_example_gates_and_figures(run):
    tmp, report, seconds = run
    assert report.passed, [(g.gate, g.detail) for g in report.gates if not g.passed]
    r = report.result("uncertainty")
    for path in (
        "operating_point.sensitivity",
        "selective.at_risk.referral_rate",
        "selective.coverage_0.9.risk",
        "conformal.coverage",
        "conformal.groups.size_band:small.coverage",
        "calibration.temperature_scaled.ece",
    ):
        assert r.metrics[path].defined, path
    assert (tmp / "out" / "report.html").stat().st_size > 0
    assert seconds < 60


def test_medical_example_numbers_equal_a_direct_computation(run):
    tmp, report, _ = run
    r = report.result("uncertainty")
    test = pd.read_csv(tmp / "work" / "test.csv")
    model = joblib.load(tmp / "work" / "model.joblib")
    features = [c for c in test.columns if c not in ("id", "size_band", "diagnosis")]
    p_malignant = model.predict_proba(test[features])[:, list(model.classes_).index("malignant")]
    malignant = (test["diagnosis"] == "malignant").to_numpy()
    # the check's split: its shared stream, as Check.rng(ctx, "split", shared=True) names it
    n = len(test)
    perm = stream(0, "uncertainty", "*", "split").permutation(n)
    cal = np.zeros(n, dtype=bool)
    cal[perm[: round(0.5 * n)]] = True
    assert r.tables["split"] == {"n_calibration": int(cal.sum()), "n_test": int((~cal).sum())}
    fpr, tpr, thr = roc_curve(malignant[cal], p_malignant[cal], drop_intermediate=False)
    ok = 1 - fpr >= 0.95
    t = thr[ok][np.argmax(tpr[ok])]
    sens = (p_malignant[~cal & malignant] >= t).mean()
    assert r.metrics["operating_point.sensitivity"].value == pytest.approx(sens)
    # LAC at alpha 0.05: the 1 − p_true scores of the calibration rows
    p_true = np.where(malignant, p_malignant, 1 - p_malignant)
    scores = np.sort(1 - p_true[cal])
    q = scores[int(np.ceil((cal.sum() + 1) * 0.95)) - 1]
    covered = (1 - p_true[~cal]) <= q + 1e-8
    assert r.metrics["conformal.coverage"].value == pytest.approx(covered.mean())
