"""The MLflow evaluator plugin: ``mlflow.models.evaluate(..., evaluators=["assay"])`` runs a suite.

MLflow finds this class through the ``mlflow.model_evaluator`` entry-point group (name ``assay``,
declared in ``pyproject.toml``). The evaluation dataset becomes a CSV with an id column, the model
becomes an ``sklearn:`` model when the pyfunc wraps a scikit-learn estimator (so robustness and
fairness checks can ask it new inputs) or else a ``predictions:`` file of its answers (checks that
need new inputs then say so in the report); the suite's checks and gates come from the evaluator
config. The Report is logged into MLflow's run like ``assay run --mlflow`` logs it (metrics with
their interval bounds, params, tags, ``report.json`` and ``report.html``).

MLflow's evaluation API needs the full ``mlflow`` package (``mlflow-skinny`` lacks matplotlib,
which ``mlflow.models.evaluation`` imports). Loading this module needs nothing beyond assay; the
class is duck-typed to MLflow's ``ModelEvaluator`` (``can_evaluate`` / ``evaluate``), which is all
MLflow's registry calls.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

import assay
from assay.errors import ConfigError, MissingDependencyError
from assay.tracking._mlflow_sink import log_report, mlflow_metrics

__all__ = ["CONFIG_KEYS", "MODEL_TYPES", "AssayEvaluator"]

#: MLflow model types the evaluator scores, and the assay task of each.
MODEL_TYPES = {"classifier": "classification", "regressor": "regression"}
#: Keys of the evaluator's config (``evaluator_config={"assay": {...}}`` in mlflow.models.evaluate).
CONFIG_KEYS = ("checks", "gates", "level", "seed", "name", "out")
_ID, _LABEL = "assay_id", "assay_label"


def _mlflow_evaluation() -> Any:
    try:
        # Registering MLflow's own evaluators imports matplotlib: absent with mlflow-skinny.
        import mlflow.models.evaluation.evaluator_registry  # noqa: F401
        from mlflow.models import evaluation
    except ImportError as exc:
        raise MissingDependencyError(
            "the assay MLflow evaluator needs the full mlflow package (mlflow-skinny lacks "
            f"what mlflow.models.evaluation imports: {exc}); pip install mlflow"
        ) from None
    return evaluation


def _options(config: Mapping[str, Any] | None) -> dict[str, Any]:
    cfg = dict(config or {})
    unknown = sorted(set(cfg) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(
            f"evaluator_config: unknown key(s) {', '.join(map(repr, unknown))} for the assay "
            f"evaluator; allowed: {', '.join(CONFIG_KEYS)}"
        )
    if "checks" in cfg and not isinstance(cfg["checks"], Mapping):
        raise ConfigError(
            f"evaluator_config.checks: expected a mapping of check name to options, got "
            f"{type(cfg['checks']).__name__}; e.g. {{'performance': {{}}}}"
        )
    return cfg


class AssayEvaluator:
    """An MLflow ``ModelEvaluator`` that runs assay's checks and logs the Report.

    ``evaluator_config`` keys: ``checks`` (the suite's ``checks:`` mapping, default
    ``{"performance": {}}``), ``gates`` (gate strings), ``level``, ``seed``, ``name`` (the suite's
    name, default ``mlflow``), ``out`` (folder for the data, model and report files; default a
    temporary folder).

    Example:
        >>> mlflow.models.evaluate(  # doctest: +SKIP
        ...     model_uri, data, targets="label", model_type="classifier", evaluators=["assay"],
        ...     evaluator_config={"assay": {"gates": ["performance.accuracy.lower >= 0.9"]}},
        ... )
    """

    name = "assay"

    @classmethod
    def can_evaluate(cls, *, model_type: str, evaluator_config: Any, **kwargs: Any) -> bool:
        """True for classifiers and regressors with a valid config (raises on an invalid one)."""
        if model_type not in MODEL_TYPES:
            return False
        _options(evaluator_config)
        return True

    def evaluate(
        self,
        *,
        model_type: str,
        dataset: Any,
        run_id: str,
        evaluator_config: Mapping[str, Any] | None,
        model: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Run the suite on MLflow's evaluation dataset, log the Report into ``run_id``, and
        return MLflow's ``EvaluationResult`` (metrics as ``assay run --mlflow`` names them)."""
        evaluation = _mlflow_evaluation()

        cfg = _options(evaluator_config)
        task = MODEL_TYPES.get(model_type)
        if task is None:
            raise ConfigError(
                f"model_type {model_type!r} is not evaluated by assay; use one of "
                f"{', '.join(MODEL_TYPES)}"
            )
        folder = Path(cfg.get("out") or tempfile.mkdtemp(prefix="assay-mlflow-"))
        folder.mkdir(parents=True, exist_ok=True)
        frame, features = _frame(dataset)
        frame.to_csv(folder / "data.csv", index=False)
        spec = _model_spec(model, dataset, frame, features, folder)
        suite = {
            "name": str(cfg.get("name") or "mlflow"),
            "task": task,
            "data": {"path": "data.csv", "id": _ID, "input": features, "label": _LABEL},
            "models": {"candidate": spec},
            "trust": True,  # the model file was written here, from the caller's own model
            "checks": dict(cfg.get("checks") or {"performance": {}}),
            "gates": list(cfg.get("gates") or []),
            "engine": {"cache": None, "progress": False},
        }
        for key in ("level", "seed"):
            if key in cfg:
                suite[key] = cfg[key]
        (folder / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
        report = assay.evaluate(folder / "suite.yaml", out=folder / "out", progress=False)
        log_report(
            report,
            run_id=run_id,
            artifacts=[folder / "out" / "report.json", folder / "out" / "report.html"],
        )
        return evaluation.EvaluationResult(
            metrics=mlflow_metrics(report), artifacts={}, run_id=run_id
        )


def _frame(dataset: Any) -> tuple[pd.DataFrame, list[str]]:
    """MLflow's dataset as one frame: an id column, the features, the label."""
    data = dataset.features_data
    names = [str(c) for c in (dataset.feature_names or [])]
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        frame.columns = [str(c) for c in frame.columns]
    else:
        arr = np.asarray(data)
        names = names or [f"feature_{i}" for i in range(arr.shape[1])]
        frame = pd.DataFrame(arr, columns=names)
    features = list(frame.columns)
    for reserved in (_ID, _LABEL):
        if reserved in features:
            raise ConfigError(
                f"the evaluation data has a column {reserved!r}, which the assay evaluator uses "
                "for its own; rename that column"
            )
    if not getattr(dataset, "has_targets", False) or dataset.labels_data is None:
        raise ConfigError(
            "the assay evaluator needs the true labels: pass targets= to mlflow.models.evaluate"
        )
    frame.insert(0, _ID, [f"r{i}" for i in range(len(frame))])
    frame[_LABEL] = np.asarray(dataset.labels_data)
    return frame, features


def _model_spec(
    model: Any, dataset: Any, frame: pd.DataFrame, features: list[str], folder: Path
) -> str:
    """``sklearn:`` for a pyfunc around a scikit-learn estimator, else ``predictions:``."""
    raw = None
    if model is not None and hasattr(model, "get_raw_model"):
        try:
            raw = model.get_raw_model()
        except Exception:  # a pyfunc without a raw model (custom python models)
            raw = None
    if raw is not None and type(raw).__module__.split(".")[0] == "sklearn":
        import joblib

        joblib.dump(raw, folder / "model.joblib")
        return "sklearn:model.joblib"
    if model is not None:
        answers = model.predict(frame[features])
    elif getattr(dataset, "has_predictions", False):
        answers = dataset.predictions_data
    else:
        raise ConfigError(
            "the assay evaluator got neither a model nor predictions: pass a model, or "
            "predictions= with a column of the data"
        )
    pred = np.asarray(answers)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.ndim != 1 or len(pred) != len(frame):
        raise ConfigError(
            f"the model's predictions have shape {pred.shape}; the assay evaluator needs one "
            f"answer per row ({len(frame)} rows)"
        )
    pd.DataFrame({"id": frame[_ID], "prediction": pred}).to_csv(
        folder / "predictions.csv", index=False
    )
    return "predictions:predictions.csv"
