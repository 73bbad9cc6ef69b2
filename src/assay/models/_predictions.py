"""``predictions:`` — a file of predictions made elsewhere, looked up by example id."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from assay._types import ModelInfo, Output, Payload, Task, canonical_label
from assay.errors import ModelError
from assay.models._convert import (
    file_sha256,
    parse_task,
    probabilities_from,
    quantiles_from,
    resolve_path,
    spread_from,
)
from assay.models._registry import check_options, register_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PREDICTION_COLUMNS",
    "PREDICTION_FORMATS",
    "PROBABILITY_PREFIX",
    "PredictionsModel",
]

_OPTIONS = {"task", "id", "column", "format", "missing_ids"}
_MISSING_IDS = ("error", "skip")
#: The prediction column: the first of these present (``options["column"]`` picks another).
PREDICTION_COLUMNS = ("prediction", "label", "value", "text")
PREDICTION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PROBABILITY_PREFIX = "prob_"
_SPREAD = "spread"
_QUANTILE_PREFIX = "q_"


class PredictionsModel:
    """Answers looked up by example id in a predictions file.

    File format (CSV, TSV, JSONL or Parquet): an ``id`` column (``options["id"]`` renames it)
    matching the dataset's ids, and one prediction column — the first present of ``prediction``,
    ``label``, ``value``, ``text`` (``options["column"]`` picks another). Class probabilities, when
    given, are ``prob_<label>`` columns, or in JSONL a ``probabilities`` object per row. Without
    a prediction column every row is labelled with its most probable class; with one, an empty
    cell is refused when the file loads (file, row, column), except for generated text, where it
    is an error for that id. A row whose probability cells are all empty has no probabilities
    (counted as ``performance.unscored.no_probabilities``); one empty, negative or above-1 cell
    among others is refused, naming the file, row and column.

    A regression file may add the model's uncertainty (read by the uncertainty check): a
    ``spread`` column (a predicted standard deviation or another non-negative scale of the
    error) and quantile columns ``q_<level>`` (``q_0.05``, ``q_0.95``; level in (0, 1)). An empty
    spread cell, or a row whose quantile cells are all empty, leaves that row without them
    (counted by the check as ``skipped.no_spread``); a negative or non-finite spread, a quantile
    cell that is not a number or empty among filled ones, and quantiles that decrease with the
    level are refused when the file loads, naming the file, row and column.

    The task is ``options["task"]`` if given, else: ``label`` column or probabilities present →
    classification; ``value`` → regression; ``text`` → generation; for ``prediction``: strings,
    integers, booleans and floats that are all whole numbers → classification, other floats →
    regression.

    Payloads are ``{"id": ...}`` (it declares :class:`~assay._types.AnswersById`); an id the file
    lacks makes ``predict`` raise for its batch, and the engine then asks item by item, so only
    that id ends as an error. :meth:`coverage` (:class:`~assay._types.CoversIds`) says which ids
    the file answers; the runner refuses a file that lacks dataset ids unless the option
    ``missing_ids: skip`` lets it score the rest (``performance.unscored.ids_missing`` counts
    them). :meth:`locate` (:class:`~assay._types.LocatesAnswers`) names the file row of an id.
    """

    keyed_by_id: Literal[True] = True

    def __init__(
        self,
        *,
        name: str,
        spec: str,
        path: Path,
        answers: dict[str, Output | str],
        rows: dict[str, int],
        task: Task,
        labels: tuple[str, ...] | None,
        fingerprint: str,
        details: dict[str, Any],
    ) -> None:
        self._name = name
        self._path = path
        self._answers = answers
        self._rows = rows
        self._info = ModelInfo(
            name=name,
            spec=spec,
            task=task,
            fingerprint=fingerprint,
            labels=labels,
            details=details,
        )

    def info(self) -> ModelInfo:
        return self._info

    def __len__(self) -> int:
        return len(self._answers)

    def locate(self, id: str) -> str | None:
        """``"row 61 of preds.csv"``: the 1-based data row of ``id``'s answer in the file."""
        row = self._rows.get(id)
        return None if row is None else f"row {row} of {self._path.name}"

    def coverage(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(dataset ids without a prediction, in dataset order; prediction ids not in the
        dataset, in file order)."""
        wanted = [str(i) for i in ids]
        wanted_set = set(wanted)
        missing = [i for i in wanted if i not in self._answers]
        extra = [i for i in self._answers if i not in wanted_set]
        return missing, extra

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        outputs: list[Output] = []
        for payload in batch:
            if not isinstance(payload, Mapping) or "id" not in payload:
                raise ModelError(
                    f"model {self._name!r} answers by id and expects {{'id': ...}} inputs; "
                    f"got {type(payload).__name__}"
                )
            key = _id_string(payload["id"])
            answer = self._answers.get(key)
            if answer is None:
                raise ModelError(f"{self._path.name} has no prediction for id {key!r}")
            if isinstance(answer, str):
                raise ModelError(answer)
            outputs.append(answer)
        return outputs


def _id_string(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item"):  # numpy scalar
        return _id_string(value.item())
    return str(value).strip()


def _read(path: Path, fmt: str, id_col: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, dtype={id_col: str}, keep_default_na=True)
    if fmt == "tsv":
        return pd.read_csv(path, sep="\t", dtype={id_col: str}, keep_default_na=True)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False, precise_float=True)
    return pd.read_parquet(path)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v))
    except TypeError:
        return False


@register_model("predictions")
def _load_predictions(
    target: str,
    *,
    name: str,
    spec: str,
    trust: bool,
    base_dir: Path,
    options: dict[str, Any],
) -> PredictionsModel:
    check_options(options, _OPTIONS, name=name, prefix="predictions")
    missing_ids = options.get("missing_ids", "error")
    if missing_ids not in _MISSING_IDS:
        raise ModelError(
            f"models.{name}.options.missing_ids: {missing_ids!r} is not one of "
            f"{', '.join(_MISSING_IDS)}; error refuses a file that lacks dataset ids, skip scores "
            "the rest and counts them"
        )
    path = resolve_path(target, base_dir)
    fmt = options.get("format") or PREDICTION_FORMATS.get(path.suffix.lower())
    if fmt not in set(PREDICTION_FORMATS.values()):
        raise ModelError(
            f"models.{name}: cannot tell the format of {path.name}; use one of "
            f"{', '.join(sorted(PREDICTION_FORMATS))}, or set the format option (csv, tsv, jsonl, parquet)"
        )
    if not path.is_file():
        raise ModelError(f"models.{name}: predictions file {path} does not exist")
    id_col = str(options.get("id") or "id")
    try:
        frame = _read(path, fmt, id_col)
    except Exception as exc:
        raise ModelError(
            f"models.{name}: cannot read {path.name} as {fmt}: {type(exc).__name__}: {exc}"
        ) from exc
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    where = f"models.{name}: {path.name}"
    if id_col not in columns:
        raise ModelError(
            f"{where} has no {id_col!r} column; its columns: {', '.join(columns) or 'none'}; "
            "add an id column matching the dataset's ids (or set the id option)"
        )
    column = options.get("column")
    if column is not None and column not in columns:
        raise ModelError(
            f"{where} has no {column!r} column (the column option); its columns: "
            f"{', '.join(columns)}"
        )
    if column is None:
        column = next((c for c in PREDICTION_COLUMNS if c in columns), None)
    prob_cols = [c for c in columns if c.startswith(PROBABILITY_PREFIX) and len(c) > len(PROBABILITY_PREFIX)]
    has_prob_object = "probabilities" in columns
    if column is None and not prob_cols and not has_prob_object:
        raise ModelError(
            f"{where} has no prediction column; name it one of {', '.join(PREDICTION_COLUMNS)} (or set the "
            f"column option); its columns: {', '.join(columns)}"
        )

    ids = [_id_string(v) if not _missing(v) else "" for v in frame[id_col].tolist()]
    empty = [i + 1 for i, v in enumerate(ids) if v == ""]
    if empty:
        raise ModelError(
            f"{where}: row(s) {', '.join(map(str, empty[:10]))} have an empty {id_col!r}; every "
            "prediction needs the id of its example"
        )
    seen: dict[str, int] = {}
    dups: dict[str, list[int]] = {}
    for row, i in enumerate(ids, start=1):
        if i in seen:
            dups.setdefault(i, [seen[i]]).append(row)
        else:
            seen[i] = row
    if dups:
        shown = "; ".join(
            f"{k!r} (rows {', '.join(map(str, v))})" for k, v in list(dups.items())[:5]
        )
        raise ModelError(
            f"{where}: {len(dups)} id(s) appear more than once: {shown}; keep one prediction per id"
        )

    task = parse_task(options.get("task"), name=name) or _infer_task(
        frame, column, has_probs=bool(prob_cols) or has_prob_object
    )
    prob_labels = [c[len(PROBABILITY_PREFIX) :] for c in prob_cols]
    values = frame[column].tolist() if column is not None else [None] * len(frame)
    if column is not None and task != "generation":
        _refuse_empty_cells(values, ids, column=column, where=where)
    prob_rows = _probability_cells(frame, prob_cols, ids, where=where) if prob_cols else None
    prob_objects = frame["probabilities"].tolist() if has_prob_object else None
    q_cols = _quantile_columns(columns) if task == "regression" else {}
    has_spread = task == "regression" and _SPREAD in columns and column != _SPREAD
    uncertain = (
        _uncertainty_cells(frame, has_spread, q_cols, ids, where=where)
        if has_spread or q_cols
        else None
    )

    answers: dict[str, Output | str] = {}
    seen_labels: set[str] = set()
    for row, (key, value) in enumerate(zip(ids, values, strict=True), start=1):
        at = f"{path.name} row {row} (id {key!r})"
        probs: dict[str, float] | None = None
        if prob_rows is not None and not np.isnan(prob_rows[row - 1]).all():
            probs = probabilities_from(
                dict(zip(prob_labels, prob_rows[row - 1], strict=True)), where=at
            )
        if prob_objects is not None and isinstance(prob_objects[row - 1], Mapping):
            probs = {**(probs or {}), **probabilities_from(prob_objects[row - 1], where=at)}
        probs = probs or None
        try:
            answers[key] = _answer(value, probs, task=task, at=at)
        except ModelError as exc:
            answers[key] = str(exc)  # reported for this id when asked, not at load
            continue
        answer = answers[key]
        if uncertain is not None and isinstance(answer, Output):
            spread, quantiles = uncertain[row - 1]
            answers[key] = dataclasses.replace(answer, spread=spread, quantiles=quantiles)
        out = answers[key]
        if isinstance(out, Output) and out.label is not None:
            seen_labels.add(out.label)

    labels: tuple[str, ...] | None = None
    if task == "classification":
        labels = (
            tuple(canonical_label(x) for x in prob_labels)
            if prob_labels
            else tuple(sorted(seen_labels))
        )
    return PredictionsModel(
        name=name,
        spec=spec,
        path=path,
        answers=answers,
        rows={key: row for row, key in enumerate(ids, start=1)},
        task=task,
        labels=labels,
        fingerprint=file_sha256(path, extra=options),
        details={
            "adapter": "predictions",
            "file": path.name,
            "format": fmt,
            "rows": len(frame),
            "id_column": id_col,
            "column": column,
            "probability_columns": prob_cols,
            "spread_column": _SPREAD if has_spread else None,
            "quantile_columns": list(q_cols.values()),
            "missing_ids": missing_ids,
        },
    )


def _refuse_empty_cells(values: list[Any], ids: list[str], *, column: str, where: str) -> None:
    empty = [row for row, v in enumerate(values, start=1) if _missing(v) or v == ""]
    if empty:
        shown = ", ".join(f"{row} (id {ids[row - 1]!r})" for row in empty[:5])
        raise ModelError(
            f"{where}: {len(empty)} row(s) have an empty {column!r} cell: row {shown}"
            f"{', …' if len(empty) > 5 else ''}. Fix: fill in the prediction, or leave the "
            f"{column!r} column out so that every row is labelled with its most probable class"
        )


def _probability_cells(
    frame: pd.DataFrame, prob_cols: list[str], ids: list[str], *, where: str
) -> np.ndarray:
    """The ``prob_*`` cells as floats; a row with every cell empty has no probabilities (NaN
    row). Raises ModelError naming the file, row and column of a cell that is not a number, is
    empty among filled cells, or lies outside [0, 1]."""
    cells = frame[prob_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    raw = frame[prob_cols].to_numpy(dtype=object)
    for r in range(cells.shape[0]):
        nan = np.isnan(cells[r])
        if nan.all() and all(_missing(v) for v in raw[r]):
            continue
        for j, col in enumerate(prob_cols):
            at = f"{where} row {r + 1} (id {ids[r]!r}), column {col!r}"
            value = raw[r, j]
            if nan[j] and not _missing(value):
                raise ModelError(f"{at}: {value!r} is not a number; write a probability in [0, 1]")
            if nan[j]:
                raise ModelError(
                    f"{at} is empty (or NaN) while the row's other probability columns are filled. Fix: "
                    "give every class its probability (0 for none), or leave all of them empty "
                    "for a row without probabilities"
                )
            if not 0.0 <= cells[r, j] <= 1.0:
                raise ModelError(
                    f"{at}: probability {cells[r, j]:g} is outside [0, 1]; write the class "
                    "probabilities (softmax outputs), not scores or logits"
                )
    return cells


def _quantile_columns(columns: list[str]) -> dict[float, str]:
    """``q_<level>`` columns, level → column name (names whose tail is not a number are not
    quantile columns)."""
    out: dict[float, str] = {}
    for c in columns:
        if not c.startswith(_QUANTILE_PREFIX):
            continue
        try:
            level = float(c[len(_QUANTILE_PREFIX) :])
        except ValueError:
            continue
        out[level] = c
    return out


def _uncertainty_cells(
    frame: pd.DataFrame,
    has_spread: bool,
    q_cols: dict[float, str],
    ids: list[str],
    *,
    where: str,
) -> list[tuple[float | None, dict[float, float] | None]]:
    """Each row's spread and quantiles (``None`` where the row has none). Raises ModelError
    naming the file, row and column of a bad cell."""
    for level, col in q_cols.items():
        if not 0.0 < level < 1.0:
            raise ModelError(
                f"{where}: column {col!r}: quantile level {level:g} is outside (0, 1); name "
                "quantile columns q_<level>, e.g. q_0.05 and q_0.95"
            )
    spreads = frame[_SPREAD].tolist() if has_spread else [None] * len(frame)
    q_raw = {level: frame[col].tolist() for level, col in q_cols.items()}
    out: list[tuple[float | None, dict[float, float] | None]] = []
    for r, s in enumerate(spreads):
        at = f"{where} row {r + 1} (id {ids[r]!r})"
        spread = None
        if not _missing(s) and s != "":
            spread = spread_from(s, where=f"{at}, column {_SPREAD!r}")
        cells = {level: q_raw[level][r] for level in q_cols}
        empty = [lv for lv, v in cells.items() if _missing(v) or v == ""]
        quantiles = None
        if cells and len(empty) < len(cells):
            if empty:
                raise ModelError(
                    f"{at}, column {q_cols[empty[0]]!r} is empty (or NaN) while the row's other "
                    "quantile columns are filled. Fix: give every quantile, or leave all of them "
                    "empty for a row without quantiles"
                )
            for level, v in cells.items():
                try:
                    float(v)
                except (TypeError, ValueError):
                    raise ModelError(
                        f"{at}, column {q_cols[level]!r}: {v!r} is not a number"
                    ) from None
            levels = sorted(cells)
            for lo, hi in itertools.pairwise(levels):
                if float(cells[hi]) < float(cells[lo]):
                    raise ModelError(
                        f"{at}, column {q_cols[hi]!r}: {float(cells[hi]):g} is below column "
                        f"{q_cols[lo]!r} ({float(cells[lo]):g}); quantiles must not decrease with "
                        "the level"
                    )
            quantiles = quantiles_from(cells, where=at)
        out.append((spread, quantiles))
    return out


def _answer(value: Any, probs: dict[str, float] | None, *, task: Task, at: str) -> Output:
    if _missing(value):
        if task == "classification" and probs:
            return Output(label=max(probs, key=probs.__getitem__), probabilities=probs)
        raise ModelError(f"{at} has no prediction")
    if hasattr(value, "item"):
        value = value.item()
    if task == "classification":
        return Output(label=canonical_label(value), probabilities=probs)
    if task == "regression":
        try:
            return Output(value=float(value))
        except (TypeError, ValueError):
            raise ModelError(f"{at}: prediction {value!r} is not a number") from None
    if task == "generation":
        return Output(text=str(value))
    try:
        return Output(embedding=[float(x) for x in value])
    except (TypeError, ValueError):
        raise ModelError(f"{at}: prediction is not a vector of numbers") from None


def _infer_task(frame: pd.DataFrame, column: str | None, *, has_probs: bool) -> Task:
    if column is None or has_probs or column == "label":
        return "classification"
    if column == "value":
        return "regression"
    if column == "text":
        return "generation"
    series = frame[column].dropna()
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
        return "classification"
    if pd.api.types.is_float_dtype(series):
        whole = bool(((series % 1) == 0).all())
        return "classification" if whole else "regression"
    return "classification"
