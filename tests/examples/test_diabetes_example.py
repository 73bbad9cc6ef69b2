"""examples/diabetes: the two regression uncertainty suites, run from a temporary copy of the
example, pass their gates; the headline conformal numbers are computed again here without
assay from the saved predictions (normalized) and the saved quantile models (CQR)."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

import assay

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "diabetes"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("diabetes")
    shutil.copytree(
        EXAMPLE, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("work", "__pycache__")
    )
    subprocess.run([sys.executable, str(tmp / "prepare.py")], check=True, capture_output=True)
    return tmp


def _k(n: int, alpha: float) -> int:
    return math.ceil((n + 1) * (1 - alpha))


def test_spread_suite_normalized_intervals(example):
    report = assay.evaluate(example / "suite_spread.yaml", out=example / "o1", progress=False)
    assert report.passed
    r = report.result("uncertainty")
    preds = pd.read_csv(example / "work" / "preds.csv").set_index("id")
    cal, test = (pd.read_csv(example / "work" / f"{s}.csv") for s in ("cal", "test"))
    pc, pt = preds.loc[cal["id"]], preds.loc[test["id"]]
    scores = np.sort(np.abs(cal["progression"].to_numpy() - pc["value"].to_numpy()) / pc["spread"])
    q = scores[_k(len(scores), 0.1) - 1]
    lo, hi = pt["value"] - q * pt["spread"], pt["value"] + q * pt["spread"]
    y = test["progression"].to_numpy()
    assert r.metrics["conformal.coverage"].value == pytest.approx(((y >= lo) & (y <= hi)).mean())
    assert r.metrics["conformal.width"].value == pytest.approx((hi - lo).mean())


def test_quantile_suite_cqr_intervals(example):
    report = assay.evaluate(example / "suite_quantiles.yaml", out=example / "o2", progress=False)
    assert report.passed
    r = report.result("uncertainty")
    lo_m, hi_m, _mid, features = joblib.load(example / "work" / "gbr.joblib")
    cal, test = (pd.read_csv(example / "work" / f"{s}.csv") for s in ("cal", "test"))

    def bounds(frame: pd.DataFrame) -> np.ndarray:
        return np.sort(np.c_[lo_m.predict(frame[features]), hi_m.predict(frame[features])], axis=1)

    bc, bt = bounds(cal), bounds(test)
    yc, yt = cal["progression"].to_numpy(), test["progression"].to_numpy()
    scores = np.sort(np.maximum(bc[:, 0] - yc, yc - bc[:, 1]))
    q = scores[_k(len(scores), 0.1) - 1]
    covered = (yt >= bt[:, 0] - q) & (yt <= bt[:, 1] + q)
    assert r.metrics["conformal.coverage"].value == pytest.approx(covered.mean())
    assert r.metrics["conformal.width"].value == pytest.approx(np.mean(bt[:, 1] - bt[:, 0] + 2 * q))
