"""A suite built from Python objects (``assay.evaluate(model=estimator, data=frame, label=...)``):
the notebook path to the same run as a YAML suite, with no file to write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from assay._runner._suite import suite_from_dict
from assay._types import Model, Task, WrapsEstimator
from assay.config._suite import Suite
from assay.data import infer_roles, read_table
from assay.errors import ConfigError
from assay.models._objects import model_from_object

__all__ = ["FRAME_PATH", "InlineSuite", "inline_suite", "model_entries"]

#: What a suite records as the ``path`` of a dataset given as a DataFrame.
FRAME_PATH = "<DataFrame>"

#: The names models get when several are given as a list.
_NAMES = ("candidate", "baseline")


@dataclass
class InlineSuite:
    """A validated suite, and the objects its placeholders stand for.

    Attributes:
        suite: the Suite (in-memory models recorded by their ``info().spec``, frames as
            ``<DataFrame>``).
        models: in-memory models by suite name; the other names are spec strings to load.
        frames: DataFrames by dataset name; the other datasets are files.
    """

    suite: Suite
    models: dict[str, Model] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)


def model_entries(
    model: Any, *, task: Task | None = None
) -> tuple[dict[str, Any], dict[str, Model]]:
    """``model`` as suite entries (name → spec string or placeholder) and in-memory Models.

    ``model`` is one model (a spec string, a fitted estimator, a function, an assay Model), a list
    of them (named ``candidate``, ``baseline``, then ``model2``...), or a mapping name → model.
    """
    if isinstance(model, Mapping):
        named = {str(k): v for k, v in model.items()}
    elif isinstance(model, (list, tuple)):
        names = [*_NAMES, *(f"model{i}" for i in range(2, len(model)))]
        named = dict(zip(names, model))
    else:
        named = {"candidate": model}
    if not named:
        raise ConfigError(
            "assay.evaluate: model= names no model; pass an estimator, a function or a spec"
        )
    entries: dict[str, Any] = {}
    objects: dict[str, Model] = {}
    for name, m in named.items():
        if isinstance(m, str):
            entries[name] = m
            continue
        objects[name] = model_from_object(m, name=name, task=task)
        entries[name] = objects[name].info().spec
    return entries, objects


def inline_suite(
    *,
    model: Any,
    data: pd.DataFrame | str | Path,
    label: str | None,
    input: str | list[str] | None,
    id: str | None,
    checks: Sequence[str] | Mapping[str, Any] | None,
    gates: Sequence[str] | None,
    task: Task | None,
) -> InlineSuite:
    """The suite for ``assay.evaluate`` called without a suite file.

    Column roles: ``label`` as given (guessed from its name otherwise); ids from ``id``, else an
    ``id`` column, else the DataFrame's index (the row number for a file); ``input`` as given,
    else the estimator's ``feature_names_in_``, else the text column or the remaining columns
    (:func:`assay.data.infer_roles`). The answer cache is off: an in-memory function's
    fingerprint cannot see the values it closes over.

    Raises:
        ConfigError, DataError: naming the argument and the fix.
    """
    entries, objects = model_entries(model, task=task)
    frame = data if isinstance(data, pd.DataFrame) else None
    table = data if isinstance(data, pd.DataFrame) else read_table(data, limit=1)
    guess = infer_roles(data, label=label)
    if id is None and "id" in [str(c) for c in table.columns]:
        id = "id"
    if input is None:
        inferred = _features_of(objects.values()) or guess.roles.input
        input = inferred if not isinstance(inferred, dict) else inferred["image"]
        if isinstance(input, list):
            input = [c for c in input if c not in (id, guess.roles.label)]
    if input is None:
        raise ConfigError(
            "assay.evaluate: cannot tell which columns the model reads; pass input='text' or "
            "input=['feature', ...]"
        )
    spec: dict[str, Any] = {
        "path": FRAME_PATH if isinstance(data, pd.DataFrame) else str(Path(data).resolve()),
        "input": input,
        "label": label if label is not None else guess.roles.label,
    }
    if id is not None:
        spec["id"] = id
    raw: dict[str, Any] = {
        "name": "notebook",
        "data": {"test": spec},
        "models": entries,
        "engine": {"cache": None},
        "gates": list(gates or []),
    }
    if checks is not None:
        raw["checks"] = list(checks) if not isinstance(checks, Mapping) else dict(checks)
    if task is not None:
        raw["task"] = task
    suite = suite_from_dict(raw, base_dir=Path.cwd(), source="assay.evaluate")
    return InlineSuite(
        suite=suite, models=objects, frames={"test": frame} if frame is not None else {}
    )


def _features_of(models: Any) -> list[str] | None:
    """The feature names a fitted estimator was trained on (``feature_names_in_``), if any."""
    for m in models:
        if isinstance(m, WrapsEstimator):
            names = getattr(m.estimator, "feature_names_in_", None)
            if names is not None:
                return [str(c) for c in names]
    return None
