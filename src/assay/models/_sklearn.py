"""``sklearn:`` — a scikit-learn estimator or pipeline saved with joblib or pickle."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from assay._types import ModelInfo, Output, Payload, Task, canonical_label
from assay.errors import MissingDependencyError, ModelError, TrustRequiredError
from assay.models._convert import file_sha256, parse_task, probabilities_from, resolve_path
from assay.models._registry import check_options, register_model

__all__ = ["SklearnModel", "estimator_task"]

_SUFFIXES = (".joblib", ".pkl", ".pickle")
_OPTIONS = {"task"}


class SklearnModel:
    """A fitted scikit-learn estimator (or anything with its ``predict``/``predict_proba`` API).

    Inputs: a batch of texts goes in as a list of strings (for text pipelines such as
    ``TfidfVectorizer → LogisticRegression``); a batch of feature dicts as a pandas DataFrame whose
    columns are the estimator's ``feature_names_in_``. An estimator fitted on a bare array (no
    ``feature_names_in_``) gets a numpy array instead — a DataFrame would make scikit-learn warn —
    with the columns in the order of the first payload seen, kept for the model's lifetime.

    Outputs: labels and probability keys go through ``canonical_label``; probabilities come from
    ``predict_proba`` when the estimator has it, keyed by ``classes_``.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        name: str,
        spec: str,
        task: Task,
        fingerprint: str,
        path: Path | None,
    ) -> None:
        import sklearn

        self.estimator = estimator
        self._task = task
        classes = getattr(estimator, "classes_", None)
        self._classes: list[Any] | None = list(classes) if classes is not None else None
        features = getattr(estimator, "feature_names_in_", None)
        self._features: list[str] | None = (
            [str(c) for c in features] if features is not None else None
        )
        self._columns: list[str] | None = self._features
        self._lock = threading.Lock()
        self._info = ModelInfo(
            name=name,
            spec=spec,
            task=task,
            fingerprint=fingerprint,
            labels=(
                tuple(canonical_label(c) for c in self._classes)
                if self._classes is not None and task == "classification"
                else None
            ),
            details={
                "adapter": "sklearn",
                "class": type(estimator).__name__,
                "file": path.name if path is not None else None,
                "sklearn_version": sklearn.__version__,
                "features": self._features,
            },
        )

    def info(self) -> ModelInfo:
        return self._info

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        if not batch:
            return []
        X = self._inputs(batch)
        where = f"model {self._info.name!r}"
        raw = list(self.estimator.predict(X))
        if self._task == "regression":
            try:
                return [Output(value=float(v)) for v in raw]
            except (TypeError, ValueError):
                raise ModelError(f"{where}: predict returned non-numeric values") from None
        probas: list[dict[str, float] | None] = [None] * len(raw)
        if self._classes is not None and hasattr(self.estimator, "predict_proba"):
            matrix = self.estimator.predict_proba(X)
            probas = [
                probabilities_from(dict(zip(self._classes, row, strict=True)), where=where)
                for row in matrix
            ]
        return [
            Output(label=canonical_label(label), probabilities=p)
            for label, p in zip(raw, probas, strict=True)
        ]

    def _inputs(self, batch: Sequence[Payload]) -> Any:
        if all(isinstance(p, str) for p in batch):
            return list(batch)
        if not all(isinstance(p, Mapping) for p in batch):
            kinds = sorted({type(p).__name__ for p in batch})
            raise ModelError(
                f"model {self._info.name!r}: inputs must be all texts or all feature dicts; "
                f"got {', '.join(kinds)}"
            )

        with self._lock:
            if self._columns is None:
                self._columns = [str(k) for k in batch[0]]
            columns = self._columns
        for i, p in enumerate(batch):
            missing = [c for c in columns if c not in p]
            if missing:
                raise ModelError(
                    f"model {self._info.name!r}: input {i} lacks feature(s) "
                    f"{', '.join(map(repr, missing[:10]))}; the estimator reads "
                    f"{', '.join(columns)}"
                )
        frame = pd.DataFrame([[p[c] for c in columns] for p in batch], columns=columns)
        return frame if self._features is not None else frame.to_numpy()


@register_model("sklearn")
def _load_sklearn(
    target: str,
    *,
    name: str,
    spec: str,
    trust: bool,
    base_dir: Path,
    options: dict[str, Any],
) -> SklearnModel:
    check_options(options, _OPTIONS, name=name, prefix="sklearn")
    path = resolve_path(target, base_dir)
    if path.suffix.lower() not in _SUFFIXES:
        raise ModelError(
            f"models.{name}: {path} is not a joblib or pickle file; sklearn: takes "
            f"{', '.join(_SUFFIXES)} files"
        )
    if not path.is_file():
        raise ModelError(f"models.{name}: model file {path} does not exist")
    if not trust:
        raise TrustRequiredError(
            f"models.{name}: loading {path.name} runs code stored in the file (joblib and pickle "
            "can execute anything when loaded), so assay needs your say-so; if you trust the "
            "file, pass --trust on the command line or set `trust: true` in the suite "
            "(trust=True in Python)"
        )
    try:
        import joblib
        import sklearn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - both are core dependencies
        raise MissingDependencyError(
            f"the sklearn: adapter needs scikit-learn and joblib ({exc}); pip install assay"
        ) from exc
    fingerprint = file_sha256(path, extra=options)
    try:
        estimator = joblib.load(path)
    except Exception as exc:
        raise ModelError(f"models.{name}: cannot load {path}: {type(exc).__name__}: {exc}") from exc
    if not hasattr(estimator, "predict"):
        raise ModelError(
            f"models.{name}: {path.name} holds a {type(estimator).__name__}, which has no predict()"
        )
    task = parse_task(options.get("task"), name=name) or estimator_task(estimator, name=name)
    return SklearnModel(
        estimator, name=name, spec=spec, task=task, fingerprint=fingerprint, path=path
    )


def estimator_task(estimator: Any, *, name: str) -> Task:
    import sklearn.base

    if sklearn.base.is_classifier(estimator) or (
        hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
    ):
        return "classification"
    if sklearn.base.is_regressor(estimator):
        return "regression"
    if hasattr(estimator, "classes_"):
        return "classification"
    raise ModelError(
        f"models.{name}: cannot tell whether {type(estimator).__name__} classifies or regresses; "
        "set the task in the model options (task: classification or task: regression)"
    )
