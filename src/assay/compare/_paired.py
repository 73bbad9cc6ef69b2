"""Two models' answers on the same examples, aligned: the input of every paired test.

They come from a run (two models' :class:`~assay.checks._predictions.Predictions`) or from two
Reports (the performance check's ``per_example`` table). Different example ids or label sets are
refused: a paired test on different examples is no paired test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from assay.errors import ReportError

__all__ = ["PairedPredictions", "align_tables"]

_SHOW = 5


@dataclass(frozen=True)
class PairedPredictions:
    """The candidate's and the baseline's predictions on the same examples, in the same order.

    Attributes:
        task: ``classification``, ``regression`` or ``generation``.
        ids: example ids.
        y_true: labels (strings) or true values.
        candidate, baseline: predicted labels or values.
        labels: the label set (classification), predicted-only labels appended.
        candidate_score, baseline_score: positive-class probabilities (binary, when both have them).
        positive_label: the positive class of the scores.
        notes: what the alignment found (truncated tables).
        candidate_proba, baseline_proba: ``(n, k)`` class scores (multiclass, when both have them),
            columns in the order of ``proba_labels``.
        proba_labels: the classes of the score columns.
        scores: generation only: metric name → (candidate's, baseline's) per-example scores
            (exact match 0/1, token F1, ROUGE-L, ...), from the same references.
    """

    task: Literal["classification", "regression", "generation"]
    ids: list[str]
    y_true: np.ndarray
    candidate: np.ndarray
    baseline: np.ndarray
    labels: list[str]
    candidate_score: np.ndarray | None = None
    baseline_score: np.ndarray | None = None
    positive_label: str | None = None
    notes: tuple[str, ...] = ()
    candidate_proba: np.ndarray | None = None
    baseline_proba: np.ndarray | None = None
    proba_labels: tuple[str, ...] = ()
    scores: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)


def _examples(items: Sequence[str]) -> str:
    shown = ", ".join(map(str, list(items)[:_SHOW]))
    return shown + (", …" if len(items) > _SHOW else "")


def align_tables(
    candidate: Mapping[str, Any],
    baseline: Mapping[str, Any],
    *,
    task: str,
    names: tuple[str, str] = ("candidate", "baseline"),
    labels: Sequence[str] | None = None,
    allow_truncated: bool = False,
) -> PairedPredictions:
    """Align two ``per_example`` tables (see the performance check) by example id.

    Args:
        candidate: the candidate's table.
        baseline: the baseline's table.
        task: ``classification`` or ``regression``.
        names: how to call the two sides in messages (file names, model names).
        labels: the label set, in order (defaults to the labels seen).
        allow_truncated: compare the kept prefix when a table holds only the first
            ``keep_predictions`` of its examples (the comparison then notes it); refused otherwise.

    Raises:
        ReportError: the tables cover different example ids, or the true labels differ, or a table
            is malformed, or (unless ``allow_truncated``) a table was truncated. The message counts
            the differences and shows a few.
    """
    if task not in ("classification", "regression"):
        raise ReportError(f"comparison of task {task!r} is not supported")
    for table, name in ((candidate, names[0]), (baseline, names[1])):
        for key in ("id", "y_true", "y_pred"):
            col = table.get(key)
            if not isinstance(col, list) or len(col) != len(table.get("id") or []):
                raise ReportError(
                    f"{name}: per_example.{key} is missing or of the wrong length; "
                    "re-run the suite with assay >= 0.1 (report schema 1.1) and "
                    "checks.performance.keep_predictions > 0"
                )
    ids_c = [str(i) for i in candidate["id"]]
    ids_b = [str(i) for i in baseline["id"]]
    pos_b = {i: k for k, i in enumerate(ids_b)}
    if len(pos_b) != len(ids_b) or len(set(ids_c)) != len(ids_c):
        raise ReportError("example ids repeat within a report; ids must be unique")
    only_c = [i for i in ids_c if i not in pos_b]
    set_c = set(ids_c)
    only_b = [i for i in ids_b if i not in set_c]
    notes: list[str] = []
    truncated = [n for t, n in ((candidate, names[0]), (baseline, names[1])) if t.get("truncated")]
    if only_c or only_b:
        hint = (
            f" ({' and '.join(truncated)} kept only the first predictions: raise "
            "checks.performance.keep_predictions)"
            if truncated
            else ""
        )
        raise ReportError(
            f"{names[0]} and {names[1]} were scored on different examples: "
            f"{len(only_c)} of {len(ids_c)} ids only in {names[0]} (e.g. {_examples(only_c)}), "
            f"{len(only_b)} of {len(ids_b)} only in {names[1]} (e.g. {_examples(only_b)}){hint}. "
            "A paired comparison needs both models on the same dataset: run both on the same data "
            "(or put both in one suite, `models: [candidate, baseline]`)"
        )
    if truncated:
        totals = ", ".join(
            f"{n} kept {len(t['id'])} of {t.get('n_total', '?')}"
            for t, n in ((candidate, names[0]), (baseline, names[1]))
            if t.get("truncated")
        )
        if not allow_truncated:
            raise ReportError(
                f"the per-example predictions were truncated ({totals}; "
                "checks.performance.keep_predictions): a comparison over the first rows is not a "
                "comparison on the dataset, and rows in file order are rarely a random sample. "
                "Re-run with checks.performance.keep_predictions at least the dataset's size, or "
                "accept the prefix with allow_truncated=True (assay compare --allow-truncated)"
            )
        notes.append(
            f"compared on the first {len(ids_c)} examples only ({totals}); "
            "the verdict is about that prefix, not the whole dataset"
        )
    order = np.array([pos_b[i] for i in ids_c], dtype=np.int64)

    def column(table: Mapping[str, Any], key: str, idx: np.ndarray | None = None) -> np.ndarray:
        arr = np.asarray(table[key], dtype=object if task == "classification" else np.float64)
        return arr if idx is None else arr[idx]

    yt_c, yt_b = column(candidate, "y_true"), column(baseline, "y_true", order)
    if task == "classification":
        yt_c, yt_b = yt_c.astype(str), yt_b.astype(str)
        differ = np.flatnonzero(yt_c != yt_b)
    else:
        differ = np.flatnonzero(~np.isclose(yt_c, yt_b, rtol=1e-9, atol=1e-12))
    if len(differ):
        shown = ", ".join(f"id {ids_c[i]}: {yt_c[i]} vs {yt_b[i]}" for i in differ[:_SHOW])
        raise ReportError(
            f"{names[0]} and {names[1]} disagree on the true label of {len(differ)} of "
            f"{len(ids_c)} examples ({shown}); they were not scored on the same labelled data"
        )
    pred_c, pred_b = column(candidate, "y_pred"), column(baseline, "y_pred", order)
    if task == "regression":
        return PairedPredictions("regression", ids_c, yt_c, pred_c, pred_b, [], notes=tuple(notes))
    seen = sorted(set(yt_c.tolist()))
    base_labels = list(labels) if labels else seen
    unknown = [lbl for lbl in seen if lbl not in base_labels]
    if unknown:
        raise ReportError(
            f"true labels {_examples(unknown)} are not in the label set {_examples(base_labels)}"
        )
    all_labels = list(base_labels)
    for p in (pred_c, pred_b):
        for lbl in sorted(set(p.astype(str).tolist())):
            if lbl not in all_labels:
                all_labels.append(lbl)
    sc = candidate.get("score")
    sb = baseline.get("score")
    pos_c, pos_bl = candidate.get("positive_label"), baseline.get("positive_label")
    score_c = score_b = None
    positive = None
    if isinstance(sc, list) and isinstance(sb, list) and pos_c == pos_bl and pos_c is not None:
        score_c = np.asarray(sc, dtype=np.float64)
        score_b = np.asarray(sb, dtype=np.float64)[order]
        positive = str(pos_c)
    elif isinstance(sc, list) and isinstance(sb, list):
        notes.append(f"positive labels differ ({pos_c} vs {pos_bl}); AUC is not compared")
    proba_c, proba_b, proba_labels = _proba_columns(candidate, baseline, order, len(ids_c), notes)
    return PairedPredictions(
        "classification",
        ids_c,
        yt_c,
        pred_c.astype(str),
        pred_b.astype(str),
        all_labels,
        score_c,
        score_b,
        positive,
        tuple(notes),
        proba_c,
        proba_b,
        proba_labels,
    )


def _proba_columns(
    candidate: Mapping[str, Any],
    baseline: Mapping[str, Any],
    order: np.ndarray,
    n: int,
    notes: list[str],
) -> tuple[np.ndarray | None, np.ndarray | None, tuple[str, ...]]:
    """Both tables' multiclass ``proba`` matrices, the baseline's rows and columns put in the
    candidate's order (``None`` when either table has none or their classes differ)."""
    pc, pb = candidate.get("proba"), baseline.get("proba")
    lc, lb = candidate.get("proba_labels"), baseline.get("proba_labels")
    if not (isinstance(pc, list) and isinstance(pb, list) and lc and lb):
        return None, None, ()
    lc, lb = [str(x) for x in lc], [str(x) for x in lb]
    if set(lc) != set(lb):
        notes.append(
            f"the score columns name different classes ({_examples(lc)} vs {_examples(lb)}); "
            "multiclass AUC is not compared"
        )
        return None, None, ()
    a = np.asarray(pc, dtype=np.float64)
    b = np.asarray(pb, dtype=np.float64)
    if a.shape != (n, len(lc)) or b.shape != (n, len(lb)):
        raise ReportError(
            f"per_example.proba has shape {a.shape} and {b.shape}; expected ({n}, {len(lc)}): "
            "the table is malformed, re-run the suite"
        )
    b = b[order][:, [lb.index(lbl) for lbl in lc]]
    return a, b, tuple(lc)


def check_label_sets(
    candidate: Sequence[str] | None,
    baseline: Sequence[str] | None,
    names: tuple[str, str],
) -> None:
    """Refuse two reports whose datasets declare different label sets.

    Raises:
        ReportError: naming the labels only one side has.
    """
    if not candidate or not baseline:
        return
    a, b = [str(x) for x in candidate], [str(x) for x in baseline]
    if set(a) != set(b):
        only_a = [x for x in a if x not in b]
        only_b = [x for x in b if x not in a]
        raise ReportError(
            f"{names[0]} and {names[1]} have different label sets: {len(only_a)} only in "
            f"{names[0]} ({_examples(only_a) or '-'}), {len(only_b)} only in {names[1]} "
            f"({_examples(only_b) or '-'}); compare models of the same task and labels"
        )
