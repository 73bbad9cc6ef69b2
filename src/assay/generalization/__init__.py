"""Generalization: training-log readers (TensorBoard, trainer_state.json, MLflow, CSV/JSONL) and the
overfitting diagnosis that reads them — pure functions over logged series, no models.

The ``generalization``, ``cv`` and ``leakage`` checks score with this library (and with
``assay.leakage``); ``assay curves`` calls it directly.
"""

from assay.generalization._diagnose import CurvePair, Diagnosis, diagnose, find_pair, smooth
from assay.generalization._log import Series, TrainingLog
from assay.generalization._readers import (
    read_csv_log,
    read_log,
    read_mlflow,
    read_tensorboard,
    read_trainer_state,
)

__all__ = [
    "CurvePair",
    "Diagnosis",
    "Series",
    "TrainingLog",
    "diagnose",
    "find_pair",
    "read_csv_log",
    "read_log",
    "read_mlflow",
    "read_tensorboard",
    "read_trainer_state",
    "smooth",
]
