"""Run NannyML's multiclass CBPE on NannyML's synthetic credit-card data; print its per-chunk
estimates as JSON.

Run by tests/drift/test_cbpe_nannyml.py with a Python that can import nannyml (it pins
pandas < 3, so it usually lives in its own virtual environment). This file never imports assay.

    python tests/drift/nannyml_cbpe_multiclass.py CHUNK_SIZE [auto|isotonic]

``isotonic`` makes NannyML calibrate every class (its per-class "needs calibration" test always
answers yes), so that the estimators can be compared apart from that decision.
"""

import json
import os
import sys
import warnings
from pathlib import Path

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no telemetry call from a test

import nannyml
import nannyml.performance_estimation.confidence_based.cbpe as nannyml_cbpe
import pandas as pd
from nannyml.calibration import IsotonicCalibrator

METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]
CLASSES = ["prepaid_card", "highstreet_card", "upmarket_card"]


def main() -> None:
    chunk_size = int(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "isotonic":
        nannyml_cbpe.needs_calibration = lambda *args, **kwargs: True
    data = Path(nannyml.__file__).parent / "datasets" / "data"
    reference = pd.read_csv(data / "mc_reference.csv")
    analysis = pd.read_csv(data / "mc_analysis.csv")
    estimator = nannyml.CBPE(
        y_pred_proba={c: f"y_pred_proba_{c}" for c in CLASSES},
        y_pred="y_pred",
        y_true="y_true",
        problem_type="classification_multiclass",
        metrics=METRICS,
        chunk_size=chunk_size,
    )
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
    calibrated = {c: isinstance(estimator._calibrators[c], IsotonicCalibrator) for c in CLASSES}
    out = {"nannyml": nannyml.__version__, "calibrated": calibrated, "chunks": chunks}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
