"""What can be checked once the data and the models are loaded, before any model is asked: the
gates against the labels found in the data, the ids a predictions file covers, and the classes a
scikit-learn model was trained on against the dataset's labels. Each refusal is exit 2 with the
fix; nothing is left to show up as a wrong metric after the run."""

from __future__ import annotations

from collections.abc import Mapping

from assay._runner._gates import validate_gates
from assay._types import CoversIds, Model, ModelInfo, WrapsEstimator
from assay.checks._base import parse_check_config
from assay.config._suite import Suite
from assay.data import Dataset
from assay.errors import ModelError

__all__ = ["check_gates_against_labels", "check_model_against_data"]

_SHOWN = 5


def check_gates_against_labels(
    suite: Suite, datasets: Mapping[str, Dataset], *, source: str = "suite"
) -> None:
    """Validate the gates again with the labels found in the data standing in for undeclared
    ``labels:``, so that a gate on a class the data does not have
    (``performance.per_class.Sprots.f1``) is refused before any model runs.

    Raises:
        ConfigError: a gate names a class that is not among the labels; the message lists the
            valid paths.
    """
    found = {
        name: ds.labels
        for name, ds in datasets.items()
        if suite.data[name].labels is None and ds.labels is not None
    }
    if not found or not suite.gates:
        return
    data = {
        name: spec.model_copy(update={"labels": list(found[name])}) if name in found else spec
        for name, spec in suite.data.items()
    }
    configs = {name: parse_check_config(name, opts) for name, opts in suite.checks.items()}
    validate_gates(suite.gates, suite.model_copy(update={"data": data}), configs, source=source)


def check_model_against_data(
    name: str, model: Model, info: ModelInfo, dataset: Dataset, notes: list[str]
) -> None:
    """Refuse a predictions file that lacks dataset ids (unless its ``missing_ids: skip``) and a
    scikit-learn model trained on classes that are not the dataset's labels (unless the data
    entry says ``outside_labels: other``); note ids a predictions file has beyond the dataset.

    Raises:
        ModelError: naming the model, the file, both label sets or the first missing ids, and
            the fix.
    """
    if isinstance(model, CoversIds):
        missing, extra = model.coverage(dataset.ids)
        if missing and info.details.get("missing_ids", "error") != "skip":
            shown = "; ".join(dataset.where(i) for i in missing[:_SHOWN])
            raise ModelError(
                f"models.{name}: {info.details.get('file', 'the predictions file')} has no "
                f"prediction for {len(missing)} of the {len(dataset)} ids of "
                f"{dataset.file_name} (first: {shown}{'; …' if len(missing) > _SHOWN else ''}). "
                "Fix: add predictions for them; or, to score the rest and count these as "
                "performance.unscored.ids_missing, set `missing_ids: skip` in the model's options"
            )
        if missing:
            notes.append(
                f"model {name!r}: {len(missing)} dataset ids have no prediction "
                f"(e.g. {', '.join(map(str, missing[:_SHOWN]))}); missing_ids: skip"
            )
        if extra:
            notes.append(
                f"model {name!r}: {len(extra)} predictions have no dataset row "
                f"(e.g. {', '.join(map(str, extra[:_SHOWN]))})"
            )
    if (
        isinstance(model, WrapsEstimator)
        and info.task == "classification"
        and info.labels
        and dataset.labels is not None
        and dataset.spec.outside_labels == "error"
    ):
        _refuse_foreign_classes(name, info, dataset)


def _refuse_foreign_classes(name: str, info: ModelInfo, dataset: Dataset) -> None:
    classes = list(info.labels or ())
    labels = list(dataset.labels or ())
    outside = [c for c in classes if c not in labels]
    if not outside:
        return
    source = "declared for" if dataset.spec.labels is not None else "found in"
    file = info.details.get("file", "its file")
    head = (
        f"models.{name}: the model was trained on the classes {', '.join(classes)} (classes_ of "
        f"{file}), but the labels {source} {dataset.file_name} are {', '.join(labels)}"
    )
    if len(outside) == len(classes):
        example = ", ".join(f"{c}: {lab}" for c, lab in zip(classes, labels))
        raise ModelError(
            f"{head}: not one class matches, so every prediction would be wrong. Fix: map the "
            f"model's classes to the labels in the model's options, e.g. `label_map: "
            f"{{{example}}}` (check the order), or score data labelled like the training data"
        )
    raise ModelError(
        f"{head}: the model can predict {', '.join(map(repr, outside))}, which "
        f"{'is' if len(outside) == 1 else 'are'} not among them. Fix: list every class in "
        "`labels:` in the data entry (a class the test data lacks may be listed); or map the "
        "model's classes with `label_map:` in its options; or set `outside_labels: other` in the "
        "data entry to count such predictions as wrong answers of the class (other)"
    )
