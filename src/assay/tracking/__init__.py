"""Training logs: readers (TensorBoard, trainer_state.json, MLflow, CSV/JSONL) and the overfitting
diagnosis that reads them."""

from assay.tracking._diagnose import CurvePair, Diagnosis, diagnose, find_pair, smooth
from assay.tracking._log import Series, TrainingLog
from assay.tracking._readers import (
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
