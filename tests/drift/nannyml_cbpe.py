"""Run NannyML's CBPE on its own data and print the per-chunk estimates as JSON.

- ``binary``: the ACS employment data (``employment_MA_*``);
- ``multiclass``: the synthetic credit-card data (``mc_*``); ``isotonic`` makes NannyML calibrate
  every class (its per-class "needs calibration" test always answers yes), so that the estimators
  can be compared apart from that decision.

Run by tests/drift/test_cbpe_nannyml.py with a Python that can import nannyml (NannyML pins
pandas < 3 and needs seaborn, so it usually lives in its own virtual environment, e.g. the
benchmarks' .bench-venv). This file never imports assay.

    python tests/drift/nannyml_cbpe.py binary|multiclass CHUNK_SIZE [auto|isotonic]
"""

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no telemetry call from a test

import nannyml
import nannyml.performance_estimation.confidence_based.cbpe as nannyml_cbpe
import pandas as pd
from nannyml.calibration import IsotonicCalibrator

METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]
CLASSES = ["prepaid_card", "highstreet_card", "upmarket_card"]
DATA = Path(nannyml.__file__).parent / "datasets" / "data"


def _estimator(kind: str, chunk_size: int) -> Any:
    if kind == "binary":
        return nannyml.CBPE(
            y_pred_proba="predicted_probability",
            y_pred="prediction",
            y_true="employed",
            problem_type="classification_binary",
            metrics=METRICS,
            chunk_size=chunk_size,
        )
    return nannyml.CBPE(
        y_pred_proba={c: f"y_pred_proba_{c}" for c in CLASSES},
        y_pred="y_pred",
        y_true="y_true",
        problem_type="classification_multiclass",
        metrics=METRICS,
        chunk_size=chunk_size,
    )


def _data(kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if kind == "binary":
        return (
            pd.read_parquet(DATA / "employment_MA_reference.pq"),
            pd.read_parquet(DATA / "employment_MA_analysis.pq"),
        )
    return pd.read_csv(DATA / "mc_reference.csv"), pd.read_csv(DATA / "mc_analysis.csv")


def main() -> None:
    kind, chunk_size = sys.argv[1], int(sys.argv[2])
    if len(sys.argv) > 3 and sys.argv[3] == "isotonic":
        nannyml_cbpe.needs_calibration = lambda *args, **kwargs: True
    reference, analysis = _data(kind)
    estimator = _estimator(kind, chunk_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(reference)
        frame = estimator.estimate(analysis).filter(period="analysis").to_df()
    chunks = [
        {
            "start": int(row[("chunk", "start_index")]),
            "end": int(row[("chunk", "end_index")]) + 1,
            **{
                m: {
                    "value": float(row[(m, "value")]),
                    "sampling_error": float(row[(m, "sampling_error")]),
                }
                for m in METRICS
            },
        }
        for _, row in frame.iterrows()
    ]
    out: dict[str, Any] = {"nannyml": nannyml.__version__, "chunks": chunks}
    if kind == "binary":
        out["needs_calibration"] = bool(estimator.needs_calibration)
    else:
        out["calibrated"] = {
            c: isinstance(estimator._calibrators[c], IsotonicCalibrator) for c in CLASSES
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
