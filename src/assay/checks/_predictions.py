"""Lining up a model's answers with a dataset's labels: the input every scoring check starts from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from assay._types import ERROR_LABEL, UNPARSEABLE_LABEL, Output, Request, Response, canonical_label
from assay.data._dataset import Dataset
from assay.errors import ModelError
from assay.report._schema import ErrorSummary

__all__ = ["Predictions", "collect_predictions"]

_MAX_ERROR_EXAMPLES = 10
_PROBA_TOLERANCE = 1e-3


@dataclass
class Predictions:
    """A model's answers aligned with the dataset rows that were scored.

    ``mask`` selects, among the dataset's rows, those in ``ids`` (rows whose call failed are left
    out when errors are excluded).
    """

    task: Literal["classification", "regression"]
    ids: list[str]
    mask: np.ndarray
    labels: list[str] = field(default_factory=list)
    y_true: np.ndarray = field(default_factory=lambda: np.empty(0))
    y_pred: np.ndarray = field(default_factory=lambda: np.empty(0))
    proba: np.ndarray | None = None
    errors: ErrorSummary = field(default_factory=ErrorSummary)
    flags: list[str] = field(default_factory=list)
    #: answers that named no label (``(unparseable)``): ``{"id", "output"}`` with the raw text
    unparseable: list[dict[str, str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.ids)

    def subset(self, select: np.ndarray) -> Predictions:
        """The predictions of the rows where ``select`` (a boolean array over ``ids``) is true."""
        return Predictions(
            task=self.task,
            ids=[i for i, s in zip(self.ids, select) if s],
            mask=self.mask,
            labels=self.labels,
            y_true=self.y_true[select],
            y_pred=self.y_pred[select],
            proba=None if self.proba is None else self.proba[select],
            errors=self.errors,
        )


def collect_predictions(
    *,
    dataset: Dataset,
    requests: Sequence[Request],
    responses: Mapping[str, Response],
    task: Literal["classification", "regression"],
    treatment: Literal["exclude", "wrong"],
    model: str,
) -> Predictions:
    """Align answers with labels. ``requests`` are the model's original requests, in row order.

    Raises:
        ModelError: an answer has no label (classification) or no value (regression), or its
            probabilities do not sum to 1.
    """
    n_rows = len(dataset)
    ok = np.ones(n_rows, dtype=bool)
    error_examples: list[dict[str, str]] = []
    outputs: list[Output | None] = []
    for row, req in enumerate(requests):
        resp = responses.get(req.key)
        if resp is None or not resp.ok:
            ok[row] = False
            if len(error_examples) < _MAX_ERROR_EXAMPLES:
                msg = "no response" if resp is None else str(resp.error)
                error_examples.append({"id": req.tags.get("example_id", str(row)), "error": msg})
            outputs.append(None)
        else:
            outputs.append(resp.output)
    n_errors = int((~ok).sum())
    errors = ErrorSummary(
        n_requests=n_rows, n_errors=n_errors, treatment=treatment, examples=error_examples
    )
    keep = ok if treatment == "exclude" else np.ones(n_rows, dtype=bool)
    ids = [i for i, k in zip(dataset.ids, keep) if k]
    flags = []
    if n_errors:
        how = "left out of every metric" if treatment == "exclude" else "counted as wrong answers"
        flags.append(f"{n_errors} of {n_rows} model calls failed; {how}")

    if task == "regression":
        y_true = dataset.label_values()[keep]
        values = []
        for row, out in enumerate(outputs):
            if not keep[row]:
                continue
            if out is None:  # counted as wrong: no value exists, so NaN would poison the metric
                values.append(np.nan)
                continue
            if out.value is None:
                raise ModelError(
                    f"model {model!r}: the answer for id {dataset.ids[row]} has no value; "
                    f"a regression model must return numbers"
                )
            values.append(float(out.value))
        y_pred = np.asarray(values, dtype=float)
        if treatment == "wrong" and np.isnan(y_pred).any():
            raise ModelError(
                f"model {model!r}: {n_errors} calls failed and errors: wrong has no meaning for "
                "regression (there is no wrong number); use engine.errors: exclude"
            )
        return Predictions(task, ids, keep, [], y_true, y_pred, None, errors, flags)

    true_all = dataset.label_strings()
    y_true_list = [t for t, k in zip(true_all, keep) if k]
    y_pred_list: list[str] = []
    probs: list[dict[str, float] | None] = []
    unparseable: list[dict[str, str]] = []
    for row, out in enumerate(outputs):
        if not keep[row]:
            continue
        if out is None:
            y_pred_list.append(ERROR_LABEL)
            probs.append(None)
            continue
        if out.label is None:
            raise ModelError(
                f"model {model!r}: the answer for id {dataset.ids[row]} has no label; "
                f"a classifier must return labels"
            )
        y_pred_list.append(canonical_label(out.label))
        probs.append(out.probabilities)
        if y_pred_list[-1] == UNPARSEABLE_LABEL:
            unparseable.append({"id": str(dataset.ids[row]), "output": out.text or ""})

    labels = list(dataset.labels or sorted(set(y_true_list)))
    extra = sorted({p for p in y_pred_list if p not in labels and p != ERROR_LABEL})
    if extra:
        flags.append(
            f"model {model!r} predicted labels outside the label set: {', '.join(extra[:10])}"
        )
        labels += extra
    if ERROR_LABEL in y_pred_list:
        labels.append(ERROR_LABEL)
    failed = [p == ERROR_LABEL for p in y_pred_list]
    proba = _proba_matrix(probs, failed, labels, dataset_ids=ids, model=model)
    if proba is None and any(p is not None for p in probs):
        flags.append(
            "some answers had no probabilities, so AUC, log loss and calibration are left out"
        )
    pred = Predictions(
        task,
        ids,
        keep,
        labels,
        np.asarray(y_true_list, dtype=object),
        np.asarray(y_pred_list, dtype=object),
        proba,
        errors,
        flags,
        unparseable,
    )
    # Every check scores the same predictions: placeholders are resolved here, once.
    for placeholder in (UNPARSEABLE_LABEL, ERROR_LABEL):
        if placeholder in pred.labels:
            pred = _placeholder_as_wrong(pred, placeholder)
    return pred


def _proba_matrix(
    probs: list[dict[str, float] | None],
    failed: list[bool],
    labels: list[str],
    *,
    dataset_ids: list[str],
    model: str,
) -> np.ndarray | None:
    # Probabilities are used only when every answered call has them. A failed call counted as
    # wrong gets a uniform distribution over the real classes.
    if any(p is None and not f for p, f in zip(probs, failed)) or all(failed):
        return None
    col = {lbl: j for j, lbl in enumerate(labels)}
    real_classes = [lbl for lbl in labels if lbl != ERROR_LABEL]
    m = np.zeros((len(probs), len(labels)))
    for i, p in enumerate(probs):
        if p is None:
            for lbl in real_classes:
                m[i, col[lbl]] = 1.0 / len(real_classes)
            continue
        for raw_label, value in p.items():
            lbl = canonical_label(raw_label)
            if lbl not in col:
                continue
            m[i, col[lbl]] = float(value)
        s = m[i].sum()
        if not np.isfinite(s) or abs(s - 1.0) > _PROBA_TOLERANCE:
            raise ModelError(
                f"model {model!r}: probabilities for id {dataset_ids[i]} sum to {s:.6g}, not 1 "
                f"(classes: {', '.join(sorted(map(str, p)))}); return a distribution over {', '.join(labels)}"
            )
        m[i] /= s
    return m


def _placeholder_as_wrong(pred: Predictions, placeholder: str) -> Predictions:
    """In a binary problem, an answer that named no label (``(unparseable)``), or a failed call
    counted as wrong (``(error)``), becomes the class it was not.

    It is wrong either way; this keeps the problem binary, so that precision, recall and AUC of
    the positive class stay defined (``unparseable_rate`` and the error count say how many there
    were). With more classes, the placeholder keeps its own column of the confusion matrix.
    """
    real = [lbl for lbl in pred.labels if lbl not in (UNPARSEABLE_LABEL, ERROR_LABEL)]
    if len(real) != 2:
        return pred
    other = {real[0]: real[1], real[1]: real[0]}
    bad = pred.y_pred == placeholder
    y_pred = pred.y_pred.copy()
    y_pred[bad] = [other[str(t)] for t in pred.y_true[bad]]
    proba = pred.proba
    if proba is not None:
        proba = np.delete(proba, pred.labels.index(placeholder), axis=1)
    labels = [lbl for lbl in pred.labels if lbl != placeholder]
    return replace(pred, labels=labels, y_pred=y_pred, proba=proba)
