"""Tracking sinks: log a Report to MLflow and to TensorBoard (they read only the Report)."""

from assay.tracking._mlflow_sink import log_report, mlflow_run_url
from assay.tracking._tensorboard_sink import write_tensorboard

__all__ = ["log_report", "mlflow_run_url", "write_tensorboard"]
