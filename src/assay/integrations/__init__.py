"""Integrations that other tools load: the MLflow evaluator plugin
(``mlflow.models.evaluate(..., evaluators=["assay"])``, registered as an entry point)."""

from assay.integrations._mlflow_evaluator import AssayEvaluator

__all__ = ["AssayEvaluator"]
