"""Lining up a model's answers with a dataset's labels: the input every scoring check starts from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from assay._types import (
    ERROR_LABEL,
    OTHER_LABEL,
    UNPARSEABLE_LABEL,
    Output,
    Request,
    Response,
    canonical_label,
)
from assay.data._dataset import Dataset
from assay.errors import ModelError
from assay.report._schema import ErrorSummary

__all__ = [
    "EXACT_SUM",
    "MAX_UNSCORED_EXAMPLES",
    "PROBA_SUM_TOLERANCE",
    "UNSCORED_REASONS",
    "Predictions",
    "Unscored",
    "collect_predictions",
    "failed_calls_flag",
    "failure_cause",
    "no_probabilities_flag",
    "outside_labels_flag",
    "probability_value",
    "renormalised_flag",
]

_MAX_ERROR_EXAMPLES = 10
#: How far the probabilities of one answer may sum from 1 and still be taken (and renormalised):
#: probabilities rounded to 3 decimals over 20 classes, or to 2 decimals over 2, stay within it.
PROBA_SUM_TOLERANCE = 1e-2
#: Below this a sum counts as exactly 1 (float rounding), and renormalising it is not mentioned.
EXACT_SUM = 1e-6
#: Examples kept per reason a row went unscored (and of failed calls), for the report.
MAX_UNSCORED_EXAMPLES = 5
_PLACEHOLDERS = (UNPARSEABLE_LABEL, OTHER_LABEL, ERROR_LABEL)

#: Why a dataset row can go unscored, in the order the report and the console list them; each is
#: a gate path ``performance.unscored.<reason>``.
UNSCORED_REASONS: tuple[str, ...] = (
    "rows_dropped",
    "ids_missing",
    "calls_failed",
    "outside_labels",
    "no_probabilities",
)


@dataclass
class Unscored:
    """What a run could not score, by reason, with the first few places of each.

    Attributes:
        counts: reason → how many (``rows_dropped``: data rows dropped by ``on_invalid: skip``;
            ``ids_missing``: dataset ids a predictions file has no row for; ``calls_failed``: other
            failed calls; ``outside_labels``: predicted labels outside the labels, counted as
            ``(other)``; ``no_probabilities``: answers without probabilities while others had
            them, which leaves the probability metrics out).
        examples: reason → the first few places (``"id 'p60' (row 61 of test.csv)"``).
        causes: failed calls by cause (the error's type), most common first.
        renormalised: answers whose probabilities summed to 1 only within
            ``PROBA_SUM_TOLERANCE`` and were renormalised (scored; said so).
    """

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UNSCORED_REASONS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)
    causes: dict[str, int] = field(default_factory=dict)
    renormalised: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_table(self) -> dict[str, Any]:
        """JSON-ready: ``{"counts", "examples", "causes"}``."""
        return {
            "counts": dict(self.counts),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "causes": dict(self.causes),
            "renormalised": self.renormalised,
        }


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
    #: what could not be scored, by reason
    unscored: Unscored = field(default_factory=Unscored)

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
    missing_ids: Sequence[str] = (),
    locate: Callable[[str], str | None] | None = None,
) -> Predictions:
    """Align answers with labels. ``requests`` are the model's original requests, in row order.

    Args:
        missing_ids: dataset ids the model (a predictions file) has no answer for; their failed
            calls are counted as ``ids_missing``, not ``calls_failed``.
        locate: where the answer for an id is (``"row 61 of preds.csv"``), for messages; by
            default the dataset row.

    Raises:
        ModelError: an answer has no label (classification) or no value (regression); a
            predicted label is outside the labels (unless the data entry says
            ``outside_labels: other``); or its probabilities are not numbers in [0, 1] summing
            to 1 within ``PROBA_SUM_TOLERANCE``. Each names the example's file and row.
    """
    where = _locator(dataset, locate)
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
    unscored = _count_unscored(dataset, requests, responses, ok, missing_ids, where)
    errors = ErrorSummary(
        n_requests=n_rows, n_errors=n_errors, treatment=treatment, examples=error_examples
    )
    keep = ok if treatment == "exclude" else np.ones(n_rows, dtype=bool)
    ids = [i for i, k in zip(dataset.ids, keep) if k]
    flags = []
    if n_errors:
        flags.append(failed_calls_flag(n_errors, n_rows, treatment))

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
        return Predictions(
            task, ids, keep, [], y_true, y_pred, None, errors, flags, unscored=unscored
        )

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
    y_pred_list = _outside_labels(
        y_pred_list, labels, ids=ids, dataset=dataset, model=model, where=where, unscored=unscored
    )
    if unscored.counts["outside_labels"]:
        labels.append(OTHER_LABEL)
        flags.append(outside_labels_flag(unscored.counts["outside_labels"]))
    for placeholder in (UNPARSEABLE_LABEL, ERROR_LABEL):  # answers that are not a class
        if placeholder in y_pred_list:
            labels.append(placeholder)
    failed = [p == ERROR_LABEL for p in y_pred_list]
    without = [i for i, (p, f) in enumerate(zip(probs, failed)) if p is None and not f]
    if without and len(without) < sum(not f for f in failed):
        unscored.counts["no_probabilities"] = len(without)
        unscored.examples["no_probabilities"] = [
            where(ids[i]) for i in without[:MAX_UNSCORED_EXAMPLES]
        ]
        flags.append(no_probabilities_flag(len(without), len(failed), where(ids[without[0]])))
    proba, renormalised = _proba_matrix(probs, failed, labels, ids=ids, model=model, where=where)
    if renormalised:
        unscored.renormalised = len(renormalised)
        flags.append(
            renormalised_flag(len(renormalised), min(renormalised), max(renormalised))
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
        unscored,
    )
    # Every check scores the same predictions: placeholders are resolved here, once.
    for placeholder in (UNPARSEABLE_LABEL, OTHER_LABEL, ERROR_LABEL):
        if placeholder in pred.labels:
            pred = _placeholder_as_wrong(pred, placeholder)
    return pred


# -- what the report says about rows it could not score as they came (in memory and streamed) --


def failed_calls_flag(n_errors: int, n_rows: int, treatment: str) -> str:
    how = "left out of every metric" if treatment == "exclude" else "counted as wrong answers"
    return f"{n_errors} of {n_rows} model calls failed; {how}"


def outside_labels_flag(n: int) -> str:
    return (
        f"{n} predictions were outside the labels; counted as wrong answers of the class "
        f"{OTHER_LABEL} (outside_labels: other)"
    )


def no_probabilities_flag(n_without: int, n_answers: int, first: str) -> str:
    return (
        f"{n_without} of {n_answers} answers had no probabilities (first: {first}), so AUC, log "
        "loss, Brier and calibration are left out"
    )


def renormalised_flag(n: int, lowest: float, highest: float) -> str:
    return (
        f"the probabilities of {n} answers summed to between {lowest:.4g} and {highest:.4g}, "
        f"not exactly 1 (rounded values?), and were renormalised (tolerance "
        f"{PROBA_SUM_TOLERANCE:g})"
    )


def _locator(dataset: Dataset, locate: Callable[[str], str | None] | None) -> Callable[[str], str]:
    """How messages name the example of an id: its answer's file row, else its data row."""

    def where(id: str) -> str:
        at = locate(id) if locate is not None else None
        return f"id {id!r} ({at})" if at else dataset.where(id)

    return where


def _count_unscored(
    dataset: Dataset,
    requests: Sequence[Request],
    responses: Mapping[str, Response],
    ok: np.ndarray,
    missing_ids: Sequence[str],
    where: Callable[[str], str],
) -> Unscored:
    """Rows dropped when the data was read, ids without an answer, and the other failed calls."""
    out = Unscored()
    out.counts["rows_dropped"] = sum(dataset.dropped.values())
    if dataset.dropped_examples:
        out.examples["rows_dropped"] = [
            f"row {e['row']} of {dataset.file_name} ({e['reason']})"
            for e in dataset.dropped_examples[:MAX_UNSCORED_EXAMPLES]
        ]
    missing = set(map(str, missing_ids))
    absent = [i for i in dataset.ids if i in missing]
    out.counts["ids_missing"] = len(absent)
    if absent:
        out.examples["ids_missing"] = [dataset.where(i) for i in absent[:MAX_UNSCORED_EXAMPLES]]
    ids = dataset.ids
    failed = [
        (ids[row], responses.get(req.key))
        for row, req in enumerate(requests)
        if not ok[row] and ids[row] not in missing
    ]
    out.counts["calls_failed"] = len(failed)
    if failed:
        out.examples["calls_failed"] = [where(i) for i, _ in failed[:MAX_UNSCORED_EXAMPLES]]
        causes = Counter(failure_cause(resp) for _, resp in failed)
        out.causes.update(dict(causes.most_common()))
    return out


def failure_cause(resp: Response | None) -> str:
    """A failed call's cause: the error's type (``ModelError``), or the message's start."""
    if resp is None or resp.error is None:
        return "no response"
    head = resp.error.split(":", 1)[0].strip()
    return head if head.isidentifier() else resp.error[:60]


def _outside_labels(
    y_pred: list[str],
    labels: list[str],
    *,
    ids: list[str],
    dataset: Dataset,
    model: str,
    where: Callable[[str], str],
    unscored: Unscored,
) -> list[str]:
    """Refuse predicted labels that are not among ``labels`` (naming the first), or, with
    ``outside_labels: other``, count them and make them ``(other)``."""
    known = {*labels, ERROR_LABEL, UNPARSEABLE_LABEL}
    outside = [i for i, p in enumerate(y_pred) if p not in known]
    if not outside:
        return y_pred
    if dataset.spec.outside_labels == "other":
        unscored.counts["outside_labels"] = len(outside)
        unscored.examples["outside_labels"] = [
            f"{where(ids[i])}: {y_pred[i]!r}" for i in outside[:MAX_UNSCORED_EXAMPLES]
        ]
        mapped = set(outside)
        return [OTHER_LABEL if i in mapped else p for i, p in enumerate(y_pred)]
    first = outside[0]
    values = sorted({y_pred[i] for i in outside})
    source = "declared" if dataset.spec.labels is not None else "found in the data"
    raise ModelError(
        f"model {model!r} predicted {y_pred[first]!r} for {where(ids[first])}, which is not "
        f"among the labels {source} of {dataset.file_name}: {', '.join(labels)} "
        f"({len(outside)} prediction{'s' if len(outside) != 1 else ''} outside them: "
        f"{', '.join(map(repr, values[:10]))}). Fix: correct the predictions; or map the "
        "model's classes to these labels (label_map: in a scikit-learn model's options); or add "
        f"the class to `labels:` in the data entry; or set `outside_labels: other` there to "
        f"count such predictions as wrong answers of the class {OTHER_LABEL}"
    )


def _proba_matrix(
    probs: list[dict[str, float] | None],
    failed: list[bool],
    labels: list[str],
    *,
    ids: list[str],
    model: str,
    where: Callable[[str], str],
) -> tuple[np.ndarray | None, list[float]]:
    """The probability matrix (columns in ``labels`` order) and the sums of the rows that were
    renormalised. ``None`` unless every answered call has probabilities; a failed call counted
    as wrong gets a uniform distribution over the real classes."""
    if any(p is None and not f for p, f in zip(probs, failed)) or all(failed):
        return None, []
    col = {lbl: j for j, lbl in enumerate(labels)}
    real_classes = [lbl for lbl in labels if lbl not in (ERROR_LABEL, OTHER_LABEL)]
    m = np.zeros((len(probs), len(labels)))
    renormalised: list[float] = []
    for i, p in enumerate(probs):
        if p is None:
            for lbl in real_classes:
                m[i, col[lbl]] = 1.0 / len(real_classes)
            continue
        for raw_label, value in p.items():
            lbl = canonical_label(raw_label)
            x = probability_value(value, model=model, label=lbl, where=where(ids[i]))
            if lbl not in col:
                if OTHER_LABEL not in col:
                    raise ModelError(
                        f"model {model!r}: the probabilities for {where(ids[i])} name the class "
                        f"{lbl!r}, which is not among the labels ({', '.join(labels)}). Fix: map "
                        "the model's classes to the labels (label_map:), add the class to "
                        "`labels:` in the data entry, or set `outside_labels: other` there"
                    )
                lbl = OTHER_LABEL
            m[i, col[lbl]] += x
        s = m[i].sum()
        if abs(s - 1.0) > PROBA_SUM_TOLERANCE:
            raise ModelError(
                f"model {model!r}: the probabilities for {where(ids[i])} sum to {s:.6g}, not 1 "
                f"(classes: {', '.join(sorted(map(str, p)))}); return a distribution over "
                f"{', '.join(real_classes)} (sums within {PROBA_SUM_TOLERANCE:g} of 1 are "
                "renormalised)"
            )
        if abs(s - 1.0) > EXACT_SUM:
            renormalised.append(float(s))
        m[i] /= s
    return m, renormalised


def probability_value(value: Any, *, model: str, label: str, where: str) -> float:
    """One class probability of one answer, as a float in [0, 1].

    Raises:
        ModelError: it is not a number in [0, 1] (a score or a logit), naming the model, the
            class and the example.
    """
    x = float(value)
    if not (np.isfinite(x) and 0.0 <= x <= 1.0):
        raise ModelError(
            f"model {model!r}: the probability of {label!r} for {where} is {x:g}, not a number "
            "in [0, 1]; return class probabilities (softmax outputs), not scores or logits"
        )
    return x


def _placeholder_as_wrong(pred: Predictions, placeholder: str) -> Predictions:
    """In a binary problem, an answer that named no label (``(unparseable)``), a label outside
    the labels (``(other)``), or a failed call counted as wrong (``(error)``), becomes the class
    it was not.

    It is wrong either way; this keeps the problem binary, so that precision, recall and AUC of
    the positive class stay defined (``unparseable_rate`` and the error count say how many there
    were). With more classes, the placeholder keeps its own column of the confusion matrix.
    """
    real = [lbl for lbl in pred.labels if lbl not in _PLACEHOLDERS]
    if len(real) != 2:
        return pred
    other = {real[0]: real[1], real[1]: real[0]}
    bad = pred.y_pred == placeholder
    y_pred = pred.y_pred.copy()
    y_pred[bad] = [other[str(t)] for t in pred.y_true[bad]]
    proba = pred.proba
    if proba is not None:
        proba = np.delete(proba, pred.labels.index(placeholder), axis=1)
        # mass an answer gave a class outside the labels goes back to the two real ones
        sums = proba.sum(axis=1, keepdims=True)
        proba = np.where(sums > 0, proba / np.where(sums > 0, sums, 1.0), 1.0 / proba.shape[1])
    labels = [lbl for lbl in pred.labels if lbl != placeholder]
    return replace(pred, labels=labels, y_pred=y_pred, proba=proba)
