"""Training logs: readers (TensorBoard, trainer_state.json, MLflow, CSV/JSONL) and the overfitting
diagnosis that reads them; sinks that log a Report to MLflow and TensorBoard."""

from assay.tracking._diagnose import CurvePair, Diagnosis, diagnose, find_pair, smooth
from assay.tracking._log import Series, TrainingLog
from assay.tracking._mlflow_sink import log_report
from assay.tracking._readers import (
    read_csv_log,
    read_log,
    read_mlflow,
    read_tensorboard,
    read_trainer_state,
)
from assay.tracking._tensorboard_sink import write_tensorboard

__all__ = [
    "CurvePair",
    "Diagnosis",
    "Series",
    "TrainingLog",
    "diagnose",
    "find_pair",
    "log_report",
    "read_csv_log",
    "read_log",
    "read_mlflow",
    "read_tensorboard",
    "read_trainer_state",
    "smooth",
    "write_tensorboard",
]
