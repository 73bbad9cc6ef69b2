"""``sklearn:`` — a scikit-learn estimator or pipeline saved with joblib or pickle."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from assay._types import ModelInfo, Output, Payload, Task, canonical_label
from assay.errors import MissingDependencyError, ModelError, TrustRequiredError
from assay.models._convert import (
    file_sha256,
    parse_task,
    probabilities_from,
    resolve_path,
    spread_from,
)
from assay.models._registry import check_options, register_model

__all__ = ["SklearnModel", "estimator_task", "load_pickled"]

_SUFFIXES = (".joblib", ".pkl", ".pickle")
_OPTIONS = {"task", "label_map", "return_std"}


class SklearnModel:
    """A fitted scikit-learn estimator (or anything with its ``predict``/``predict_proba`` API).

    Inputs: a batch of texts goes in as a list of strings (for text pipelines such as
    ``TfidfVectorizer → LogisticRegression``); a batch of feature dicts as a pandas DataFrame whose
    columns are the estimator's ``feature_names_in_``. An estimator fitted on a bare array (no
    ``feature_names_in_``) gets a numpy array instead — a DataFrame would make scikit-learn warn —
    with the columns in the order of the first payload seen, kept for the model's lifetime.

    Outputs: labels and probability keys go through ``canonical_label``; probabilities come from
    ``predict_proba`` when the estimator has it, keyed by ``classes_``. ``label_map`` (the
    ``label_map`` option, ``{0: benign, 1: malignant}``) renames classes the estimator was
    trained on to the dataset's labels; a class it does not name keeps its own label.
    ``return_std: true`` (regressors such as ``GaussianProcessRegressor`` and ``BayesianRidge``)
    calls ``predict(X, return_std=True)`` and answers the standard deviation as the value's
    ``spread``, which the uncertainty check reads.
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
        label_map: Mapping[str, str] | None = None,
        return_std: bool = False,
    ) -> None:
        import sklearn

        self.estimator = estimator
        self._task = task
        self._return_std = return_std
        classes = getattr(estimator, "classes_", None)
        self._label_map = dict(label_map or {})
        self._classes: list[Any] | None = (
            [self._label_map.get(canonical_label(c), c) for c in classes]
            if classes is not None
            else None
        )
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
                **({"label_map": self._label_map} if self._label_map else {}),
            },
        )

    def __getstate__(self) -> dict[str, Any]:
        # Picklable (a lock is not), so the ray backend can ship an estimator held in memory.
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def info(self) -> ModelInfo:
        return self._info

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        if not batch:
            return []
        X = self._inputs(batch)
        where = f"model {self._info.name!r}"
        if self._task == "regression" and self._return_std:
            mean, std = self.estimator.predict(X, return_std=True)
            return [
                Output(value=float(v), spread=spread_from(s, where=where))
                for v, s in zip(mean, std, strict=True)
            ]
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
            Output(label=self._mapped(label), probabilities=p)
            for label, p in zip(raw, probas, strict=True)
        ]

    def _mapped(self, label: Any) -> str:
        c = canonical_label(label)
        return self._label_map.get(c, c)

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
        import joblib  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - both are core dependencies
        raise MissingDependencyError(
            f"the sklearn: adapter needs scikit-learn and joblib ({exc}); pip install assay"
        ) from exc
    fingerprint = file_sha256(path, extra=options)
    estimator = load_pickled(path, where=f"models.{name}")
    if not hasattr(estimator, "predict"):
        raise ModelError(
            f"models.{name}: {path.name} holds a {type(estimator).__name__}, which has no predict()"
        )
    task = parse_task(options.get("task"), name=name) or estimator_task(estimator, name=name)
    return SklearnModel(
        estimator,
        name=name,
        spec=spec,
        task=task,
        fingerprint=fingerprint,
        path=path,
        label_map=_label_map(options.get("label_map"), estimator, name=name),
        return_std=_return_std(options.get("return_std", False), estimator, task, name=name),
    )


def _return_std(raw: Any, estimator: Any, task: Task, *, name: str) -> bool:
    """The ``return_std`` option, refused where ``predict`` cannot give a standard deviation."""
    where = f"models.{name}.options.return_std"
    if not isinstance(raw, bool):
        raise ModelError(f"{where}: {raw!r} is not true or false")
    if not raw:
        return False
    if task != "regression":
        raise ModelError(f"{where}: only a regressor answers a standard deviation; drop it")
    params = inspect.signature(estimator.predict).parameters
    forwards = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "return_std" not in params and not forwards:  # a Pipeline forwards it to its last step
        raise ModelError(
            f"{where}: {type(estimator).__name__}.predict takes no return_std (it has no "
            "predictive spread); GaussianProcessRegressor and BayesianRidge do, or write the "
            "spread into a predictions: file's spread column"
        )
    return True


def _label_map(raw: Any, estimator: Any, *, name: str) -> dict[str, str]:
    """The ``label_map`` option as canonical class → canonical label, every key a class the
    estimator was trained on."""
    if raw is None:
        return {}
    where = f"models.{name}.options.label_map"
    classes = getattr(estimator, "classes_", None)
    if not isinstance(raw, Mapping) or classes is None:
        raise ModelError(
            f"{where}: give a mapping from the classes the model was trained on to the dataset's "
            "labels, e.g. {0: benign, 1: malignant}"
            + ("" if classes is not None else "; this estimator has no classes_ to map")
        )
    known = [canonical_label(c) for c in classes]
    try:
        mapping = {canonical_label(k): canonical_label(v) for k, v in raw.items()}
    except ValueError as e:
        raise ModelError(f"{where}: {e}") from None
    unknown = [k for k in mapping if k not in known]
    if unknown:
        raise ModelError(
            f"{where}: {', '.join(map(repr, unknown))} is not a class of the model; its classes "
            f"(classes_): {', '.join(known)}"
        )
    return mapping


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


def load_pickled(path: Path, *, where: str) -> Any:
    """The object in a joblib or pickle file, or a ``ModelError`` that says why it cannot be read.

    A file that is not a pickle at all (an HTML error page, a Git LFS pointer, a truncated
    download) makes the unpickler fail with bare internals such as ``KeyError: 60``; a pickle
    written by another version of scikit-learn (or of a package it needs) fails on a missing
    class. Both become one message naming the file, the cause and how to re-save it.
    """
    import joblib
    import sklearn

    try:
        return joblib.load(path)
    except MemoryError:
        # a corrupt frame header asks for exabytes; so does a model too big for this machine
        size = path.stat().st_size
        raise ModelError(
            f"{where}: could not load model file {path}: reading its {size:,} bytes asked for "
            "more memory than this machine has (a corrupt or truncated file, or a model too "
            f"large to load here); re-save it with joblib.dump(model, {path.name!r}), or load "
            "it on a machine with more memory"
        ) from None
    except Exception as exc:
        if not path.is_file():
            raise ModelError(f"{where}: model file {path} does not exist") from None
        head = path.read_bytes()[:64]
        if head.startswith(b"version https://git-lfs"):
            what = "a Git LFS pointer, not the model (run `git lfs pull` to fetch the file)"
        elif head.lstrip().startswith(b"<"):
            what = "a text/HTML page, not a model (a failed download?)"
        elif not head:
            what = "an empty file"
        elif isinstance(exc, (ModuleNotFoundError, ImportError, AttributeError)):
            what = "saved with a package or version that is not installed here"
        else:
            what = "not a joblib/pickle file, or saved with another version"
        raise ModelError(
            f"{where}: could not load model file {path}: {what} ({type(exc).__name__}: {exc}); "
            f"re-save it with joblib.dump(model, {path.name!r}) using the versions installed "
            f"here (scikit-learn {sklearn.__version__}), or fix the file"
        ) from exc
