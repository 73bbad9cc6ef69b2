"""Models from Python objects already in memory (a notebook's fitted estimator or function)."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from typing import Any

from assay._types import Model, Task
from assay.errors import ModelError
from assay.models._convert import parse_task
from assay.models._python import python_model
from assay.models._sklearn import SklearnModel, estimator_task

__all__ = ["model_from_object"]


def model_from_object(obj: Any, *, name: str = "candidate", task: Task | None = None) -> Model:
    """A Model around ``obj``, with no file and no spec string.

    - an assay ``Model`` (``info()`` and ``predict()``) is used as it is;
    - a fitted scikit-learn style estimator (``fit`` and ``predict``) is evaluated like an
      ``sklearn:`` file: texts or feature columns in, ``predict_proba`` keyed by ``classes_``; its
      fingerprint is ``joblib.hash`` of the fitted object, so a refitted estimator is never
      answered from the cache of the old one;
    - a function taking a list of inputs (or an object with ``predict``) is evaluated like a
      ``python:`` callable; its fingerprint covers its module, name and source text, not the
      values it closes over — the in-memory API therefore runs without the answer cache.

    Args:
        obj: the estimator, function or Model.
        name: the model's name in the suite.
        task: ``classification``, ``regression`` or ``generation`` when it cannot be told.

    Raises:
        ModelError: ``obj`` is none of these.

    Example:
        >>> m = model_from_object(lambda texts: ["pos" for _ in texts], task="classification")
        >>> m.predict(["fine"])[0].label
        'pos'
    """
    if isinstance(obj, Model):
        return obj
    parsed = parse_task(task, name=name)
    kind = type(obj).__name__
    if callable(getattr(obj, "predict", None)) and callable(getattr(obj, "fit", None)):
        import joblib

        return SklearnModel(
            obj,
            name=name,
            spec=f"object:{kind}",
            task=parsed or estimator_task(obj, name=name),
            fingerprint=joblib.hash(obj),
            path=None,
        )
    if callable(obj) or callable(getattr(obj, "predict", None)):
        target = obj if callable(obj) and not hasattr(obj, "predict") else type(obj)
        qualname = getattr(target, "__qualname__", kind)
        h = hashlib.sha256(f"object:{getattr(target, '__module__', '')}:{qualname}\n".encode())
        # defined where no source is kept (a plain REPL): the names alone
        with contextlib.suppress(OSError, TypeError):
            h.update(inspect.getsource(target).encode())
        return python_model(
            obj,
            name=name,
            spec=f"object:{qualname}",
            options={"task": parsed} if parsed else {},
            kind="object" if hasattr(obj, "predict") else "function",
            attr=qualname,
            fingerprint=h,
            details={"callable": qualname, "source": None},
        )
    raise ModelError(
        f"models.{name}: a {kind} is not a model; pass a fitted estimator (with fit and predict), "
        "a function taking a list of inputs, or a spec string such as 'sklearn:model.joblib'"
    )
