"""The performance check on a streamed run: one mergeable sketch instead of the rows.

What it keeps, whatever the number of rows (see :class:`PerformanceState`): the
:class:`~assay.metrics.ClassificationSketch` (confusion counts, per-block sums, score
histograms), the first ``keep_predictions`` rows for the ``per_example`` table (a cap, as in
memory), and the 20 most confident mistakes for the examples. Count metrics and their intervals
are the same numbers as in memory; what the sketch bins (AUC, average precision) it says, with
the bound of the binning (``tables["binned_auc"]``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.checks._predictions import Unscored
from assay.checks._stream import Chunk, StreamFacts
from assay.metrics import SUMMARY_SOURCES, ClassificationSketch, metrics_for
from assay.metrics._classification import summary_from_counts
from assay.stats import hashed_block_codes

__all__ = ["PerformanceState", "examples_of", "not_computed_without_proba", "per_example_of"]

#: Blocks of the block bootstrap (log loss, Brier, ECE): as many as in memory.
N_BLOCKS = 1000
_MAX_EXAMPLES = 20
_MAX_INPUT_CHARS = 500


@dataclass
class PerformanceState:
    """The streamed performance check's statistics (see the module docstring).

    Attributes:
        sketch: the mergeable classification statistics.
        seed: seeds the rows' bootstrap blocks (the suite's seed).
        keep_below: rows of the data file below this number can be among the first
            ``keep`` scored rows (``keep`` plus the rows dropped); the others are not collected.
        keep: rows of the ``per_example`` table.
        inputs: the data columns that make an example's input text.
    """

    sketch: ClassificationSketch
    seed: int
    keep_below: int
    keep: int
    inputs: list[str]
    kept: list[dict[str, Any]] = field(default_factory=list)
    #: the most confident mistakes: (-confidence, data row, example)
    mistakes: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    #: the first mistakes in row order (shown when some rows had no probabilities)
    first_mistakes: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)

    def add(self, chunk: Chunk) -> None:
        blocks = hashed_block_codes(chunk.rows, N_BLOCKS, self.seed)
        self.sketch.add(chunk.y_true, chunk.y_pred, blocks=blocks, proba=chunk.proba)
        early = np.flatnonzero(chunk.rows < self.keep_below)
        if len(early):
            part: dict[str, Any] = {
                "id": chunk.ids[early],
                "y_true": chunk.y_true[early],
                "y_pred": chunk.y_pred[early],
            }
            if chunk.proba is not None:
                part["proba"] = chunk.proba[early]
            self.kept.append(part)
        wrong = np.flatnonzero(chunk.y_true != chunk.y_pred)
        if not len(wrong):
            return
        if chunk.proba is not None:
            conf = chunk.proba[wrong, chunk.y_pred[wrong]]
            order = np.lexsort((chunk.rows[wrong], -conf))[:_MAX_EXAMPLES]
        else:
            conf = np.full(len(wrong), np.nan)
            order = np.arange(min(len(wrong), _MAX_EXAMPLES))
        for j in order:
            i = int(wrong[j])
            confidence = None if np.isnan(conf[j]) else float(conf[j])
            key = 0.0 if confidence is None else -confidence
            self.mistakes.append((key, int(chunk.rows[i]), self._example(chunk, i, confidence)))
        self.mistakes = heapq.nsmallest(_MAX_EXAMPLES, self.mistakes, key=lambda m: m[:2])
        for i in wrong[:_MAX_EXAMPLES].tolist():
            self.first_mistakes.append((0.0, int(chunk.rows[i]), self._example(chunk, i, None)))
        self.first_mistakes = heapq.nsmallest(
            _MAX_EXAMPLES, self.first_mistakes, key=lambda m: m[1]
        )

    def _example(self, chunk: Chunk, i: int, confidence: float | None) -> dict[str, Any]:
        return {
            "id": str(chunk.ids[i]),
            "input": _input_text(chunk, i, self.inputs),
            "y_true": int(chunk.y_true[i]),
            "y_pred": int(chunk.y_pred[i]),
            "confidence": confidence,
        }

    def merge(self, other: PerformanceState) -> None:
        self.sketch.merge(other.sketch)
        self.kept += other.kept
        self.mistakes = heapq.nsmallest(
            _MAX_EXAMPLES, self.mistakes + other.mistakes, key=lambda m: m[:2]
        )
        self.first_mistakes = heapq.nsmallest(
            _MAX_EXAMPLES, self.first_mistakes + other.first_mistakes, key=lambda m: m[1]
        )


def new_state(
    facts: StreamFacts,
    *,
    positive: int | None,
    n_bins: int,
    keep: int,
    seed: int,
    inputs: list[str],
) -> PerformanceState:
    """An empty state for the labels of ``facts``."""
    k = len(facts.labels)
    sketch = ClassificationSketch(
        k, proba=facts.has_proba, positive=positive, n_blocks=N_BLOCKS, n_bins=n_bins
    )
    dropped = facts.unscored.counts["rows_dropped"]
    return PerformanceState(sketch, seed, keep + dropped, keep, inputs)


def per_example_of(
    state: PerformanceState, labels: list[str], *, n: int, positive: int | None
) -> dict[str, Any]:
    """The ``per_example`` table (as :func:`assay.checks._performance.per_example_table`)."""
    k = min(state.keep, n)

    def take(key: str) -> np.ndarray:
        return np.concatenate([p[key] for p in state.kept])[:k] if state.kept else np.empty(0)

    names = np.asarray(labels, dtype=object)
    table: dict[str, Any] = {
        "id": [str(i) for i in take("id")],
        "n_total": n,
        "truncated": k < n,
        "y_true": names[take("y_true").astype(np.intp)].tolist(),
        "y_pred": names[take("y_pred").astype(np.intp)].tolist(),
    }
    if state.kept and "proba" in state.kept[0]:
        proba = take("proba")
        real = [i for i, lbl in enumerate(labels) if not lbl.startswith("(")]
        if len(real) == 2:
            pos = positive if positive is not None else real[1]
            table["positive_label"] = labels[pos]
            table["score"] = [round(float(x), 9) for x in proba[:, pos]]
        elif len(real) > 2:
            table["proba_labels"] = [labels[i] for i in real]
            table["proba"] = np.round(proba[:, real], 9).tolist()
    return table


def examples_of(
    state: PerformanceState, labels: list[str], *, has_proba: bool
) -> list[dict[str, Any]]:
    """The most confident mistakes (the first ones without probabilities), as the in-memory
    check lists them."""
    out = []
    chosen = state.mistakes if has_proba else state.first_mistakes
    for _, _, e in sorted(chosen, key=lambda m: m[:2]):
        row: dict[str, Any] = {
            "id": e["id"],
            "input": e["input"],
            "label": labels[e["y_true"]],
            "prediction": labels[e["y_pred"]],
        }
        if has_proba and e["confidence"] is not None:
            row["confidence"] = e["confidence"]
        out.append(row)
    return out


def not_computed_without_proba(unscored: Unscored, *, n_rows: int, model: str) -> dict[str, str]:
    """Metric path → why it is missing, for the probability metrics of a run where some answers
    (or all) came without probabilities (in memory and streamed alike)."""
    k = unscored.counts["no_probabilities"]
    first = unscored.examples.get("no_probabilities", [])
    if k:
        reason = (
            f"{k} of {n_rows} rows {'has' if k == 1 else 'have'} no probabilities"
            + (f" (first: {first[0]})" if first else "")
            + "; every answer needs them for the probability metrics"
        )
    else:
        reason = f"model {model!r} gives no class probabilities with its labels"
    out: dict[str, str] = {}
    for m in metrics_for("classification", sources=SUMMARY_SOURCES):
        if m.needs_proba:
            out[m.name] = reason
            if m.per_class:
                out[f"per_class.*.{m.name}"] = reason
    return out


def summary_of(
    state: PerformanceState,
    facts: StreamFacts,
    *,
    level: float,
    seed: Any,
    positive_label: str | None,
    n_bootstrap: int,
) -> Any:
    """The metrics summary: from the sketch, or from the counts alone when some rows had no
    probabilities."""
    if facts.has_proba:
        return state.sketch.summary(
            facts.labels, level=level, n_bootstrap=n_bootstrap, seed=seed, zero_division="nan"
        )
    return summary_from_counts(
        state.sketch.cm,
        facts.labels,
        positive_label=positive_label,
        level=level,
        n_bootstrap=n_bootstrap,
        seed=seed,
        zero_division="nan",
    )


def _input_text(chunk: Chunk, i: int, inputs: list[str]) -> str:
    if not inputs:
        return ""
    if len(inputs) == 1:
        text = str(chunk.columns[inputs[0]][i])
    else:
        text = ", ".join(f"{c}={chunk.columns[c][i]}" for c in inputs)
    return text if len(text) <= _MAX_INPUT_CHARS else text[:_MAX_INPUT_CHARS] + "…"
