"""assay's CBPE against NannyML's, chunk by chunk: binary on NannyML's ACS employment data,
multiclass on its synthetic credit-card data (3 classes).

NannyML pins pandas < 3 (assay's environment has pandas 3) and needs seaborn, so it runs in a
Python of its own: this process's if it can import nannyml, else ``$ASSAY_NANNYML_PYTHON``, else
the benchmarks' ``.bench-venv`` (``make bench`` builds it). Without any, the test is skipped.

Measured (NannyML 0.13.1, chunks of 5000 rows, 42 chunks): accuracy, precision, recall and F1
agree to 2.3e-16 and ROC AUC to 1.5e-9 (NannyML rounds its expected ROC curve to 5 decimals); both
decide to calibrate (isotonic). The tolerances below are those figures with room for rounding.

Multiclass (chunks of 5000 rows, 12 chunks), every class calibrated by both: accuracy and the
macro precision, recall and F1 agree to 2.4e-15, the macro one-vs-rest AUC to 1.3e-6. Left to
decide for themselves, NannyML leaves one class (prepaid_card) uncalibrated where assay's rule
calibrates it (its 10-fold ECE drops from 0.0037 to 0.0013); the estimates then differ by up to
1.5e-3. assay's interval sd (label variance plus 100 calibration refits) is 0.92-1.11 times
NannyML's sampling error for the count metrics and 1.3-1.9 times it for the AUC (larger in the
later chunks, where the scores have shifted away from the reference).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from assay.drift import estimate_performance

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("nannyml_cbpe.py")
CLASSES = ["prepaid_card", "highstreet_card", "upmarket_card"]
#: NannyML's metric name → assay's multiclass one, with the tolerance.
MULTICLASS = {
    "accuracy": ("accuracy", 1e-12),
    "precision": ("precision_macro", 1e-12),
    "recall": ("recall_macro", 1e-12),
    "f1": ("f1_macro", 1e-12),
    "roc_auc": ("roc_auc_ovr_macro", 1e-5),
}
TOLERANCE = {"accuracy": 1e-12, "precision": 1e-12, "recall": 1e-12, "f1": 1e-12, "roc_auc": 1e-6}
CHUNK = 5000


def _nannyml_python() -> str | None:
    if importlib.util.find_spec("nannyml") is not None:
        try:
            import nannyml  # noqa: F401
        except ImportError:
            pass
        else:
            return sys.executable
    for candidate in (os.environ.get("ASSAY_NANNYML_PYTHON"), ROOT / ".bench-venv/bin/python"):
        if candidate and Path(candidate).exists():
            probe = subprocess.run(
                [str(candidate), "-c", "import nannyml"], capture_output=True, check=False
            )
            if probe.returncode == 0:
                return str(candidate)
    return None


def _acs_data() -> Path:
    spec = importlib.util.find_spec("nannyml")
    if spec is None or spec.origin is None:
        pytest.skip("the nannyml package (its ACS data files) is not installed here")
    return Path(spec.origin).parent / "datasets" / "data"


def _nannyml_cbpe(*args: str) -> dict[str, Any]:
    """NannyML's per-chunk CBPE estimates (tests/drift/nannyml_cbpe.py run in its own Python)."""
    python = _nannyml_python()
    if python is None:
        pytest.skip("no Python that imports nannyml (set ASSAY_NANNYML_PYTHON or run make bench)")
    run = subprocess.run(
        [python, str(SCRIPT), args[0], str(CHUNK), *args[1:]],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"},
        timeout=300,
    )
    return dict(json.loads(run.stdout))


@pytest.mark.slow
def test_cbpe_agrees_with_nannyml_on_acs_employment() -> None:
    theirs = _nannyml_cbpe("binary")
    data = _acs_data()
    assert theirs["needs_calibration"] is True
    reference = pd.read_parquet(data / "employment_MA_reference.pq")
    analysis = pd.read_parquet(data / "employment_MA_analysis.pq")
    ours = estimate_performance(
        reference,
        analysis,
        y_true="employed",
        y_pred_proba="predicted_probability",
        y_pred="prediction",
        window=CHUNK,
        n_bootstrap=0,
        seed=0,
    )
    assert ours.calibration.method == "isotonic"
    assert [w.label for w in ours.windows] == [
        f"rows {c['start'] + 1}-{c['end']}" for c in theirs["chunks"]
    ]
    for metric, tol in TOLERANCE.items():
        a = np.array([w.estimated[metric].value for w in ours.windows])
        b = np.array([c[metric]["value"] for c in theirs["chunks"]])
        np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=metric)


@pytest.mark.slow
def test_multiclass_cbpe_agrees_with_nannyml_on_its_credit_card_data() -> None:
    theirs = _nannyml_cbpe("multiclass", "isotonic")
    data = _acs_data()
    assert theirs["calibrated"] == dict.fromkeys(CLASSES, True)
    reference = pd.read_csv(data / "mc_reference.csv")
    analysis = pd.read_csv(data / "mc_analysis.csv")
    ours = estimate_performance(
        reference,
        analysis,
        y_true="y_true",
        y_pred_proba={c: f"y_pred_proba_{c}" for c in CLASSES},
        y_pred="y_pred",
        window=CHUNK,
        calibration="isotonic",
        n_bootstrap=0,
        seed=0,
    )
    assert [w.label for w in ours.windows] == [
        f"rows {c['start'] + 1}-{c['end']}" for c in theirs["chunks"]
    ]
    for metric, (name, tol) in MULTICLASS.items():
        a = np.array([w.estimated[name].value for w in ours.windows])
        b = np.array([c[metric]["value"] for c in theirs["chunks"]])
        np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=metric)
