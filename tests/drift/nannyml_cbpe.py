"""Run NannyML's CBPE on NannyML's ACS employment data and print its per-chunk estimates as JSON.

Run by tests/drift/test_cbpe_nannyml.py with a Python that can import nannyml (NannyML pins
pandas < 3 and needs seaborn, so it usually lives in its own virtual environment, e.g. the
benchmarks' .bench-venv). This file never imports assay.

    python tests/drift/nannyml_cbpe.py CHUNK_SIZE
"""

import json
import os
import sys
import warnings
from pathlib import Path

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"  # no telemetry call from a test

import nannyml
import pandas as pd

METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]


def main() -> None:
    chunk_size = int(sys.argv[1])
    data = Path(nannyml.__file__).parent / "datasets" / "data"
    reference = pd.read_parquet(data / "employment_MA_reference.pq")
    analysis = pd.read_parquet(data / "employment_MA_analysis.pq")
    estimator = nannyml.CBPE(
        y_pred_proba="predicted_probability",
        y_pred="prediction",
        y_true="employed",
        problem_type="classification_binary",
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
    out = {
        "nannyml": nannyml.__version__,
        "needs_calibration": bool(estimator.needs_calibration),
        "chunks": chunks,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
