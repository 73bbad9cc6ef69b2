"""Tracking sinks: log a Report to MLflow and to TensorBoard (they read only the Report)."""

from assay.tracking._mlflow_sink import log_report
from assay.tracking._tensorboard_sink import write_tensorboard

__all__ = ["log_report", "write_tensorboard"]
