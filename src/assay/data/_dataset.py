"""``Dataset``: a validated table with column roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay._types import Payload, canonical_label
from assay.config._suite import DatasetSpec
from assay.data._images import ImageRef, image_payload
from assay.errors import DataError

__all__ = ["Dataset", "row_payloads"]


@dataclass
class Dataset:
    """A dataset after reading and validation.

    Attributes:
        name: its name in the suite (``"test"``).
        spec: the spec it was read with (column roles, label set).
        frame: the valid rows, indexed by id (strings, unique), in file order.
        fingerprint: sha256 of the file bytes (all data files, for a folder); goes into the Report.
        labels: the label set in order (declared, else sorted distinct labels), for classification;
            ``None`` for numeric targets or when there is no label column.
        n_read: rows read before validation.
        dropped: rows dropped under ``on_invalid: skip``, counted by reason.
        dropped_examples: a few dropped rows as ``{"row": n, "id": ..., "reason": ...}`` (row is
            the 1-based data row number in the file).
        row_numbers: the 1-based data row in the file of each row of ``frame`` (empty: row
            ``i`` of the frame is data row ``i + 1``).
        resolved_path: the absolute path the file was read from (``None`` for a table held in
            memory); the Report records it beside ``path`` as written and the content hash.
        images: for an image input, each value of the image column → the file it resolved to
            and the sha256 of its bytes (``assay.data._images``).
    """

    name: str
    spec: DatasetSpec
    frame: pd.DataFrame
    fingerprint: str
    labels: tuple[str, ...] | None
    n_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: list[dict[str, Any]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    resolved_path: str | None = None
    images: dict[str, ImageRef] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.frame.index]

    def row_of(self, id: str) -> int:
        """The 1-based data row of ``id`` in the file, as a user counts it (header not counted)."""
        position = int(self.frame.index.get_loc(id))  # type: ignore[arg-type]
        return self.row_numbers[position] if self.row_numbers else position + 1

    def where(self, id: str) -> str:
        """``"id 'p60' (row 61 of test.csv)"``: how a message names one example."""
        return f"id {id!r} (row {self.row_of(id)} of {self.file_name})"

    @property
    def file_name(self) -> str:
        """The data file's name (its last path part), for messages."""
        return self.spec.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]

    def payloads(self) -> list[Payload]:
        """One model input per row: the text, a dict of features, or ``{"image": path, "sha256":
        hash}`` (the absolute path of the image file and the hash of its bytes, so that the cache
        key covers the image's content)."""
        roles = self.spec
        if roles.input is None:
            raise ValueError(f"dataset {self.name!r} declares no input column")
        if isinstance(roles.input, dict):
            values = [str(v) for v in self.frame[roles.input["image"]].tolist()]
            if self.images:
                return [image_payload(self.images[v]) for v in values]
            return [{"image": v} for v in values]
        return row_payloads(self.frame, roles.input)

    def label_strings(self) -> list[str]:
        """Labels as canonical strings (classification)."""
        if self.spec.label is None:
            raise self._no_label()
        return [canonical_label(v) for v in self.frame[self.spec.label].tolist()]

    def _no_label(self) -> DataError:
        columns = ", ".join(str(c) for c in self.frame.columns)
        return DataError(
            f"data.{self.name} ({self.spec.path}): no `label:` column is declared, and scoring "
            f"needs the true labels. Fix: add `label: <column>` under `data:` in the suite (the "
            f"file's columns: {columns}), or drop the checks that need labels."
        )

    def label_values(self) -> np.ndarray:
        """Labels as floats (regression).

        Raises:
            DataError: a label is not a number; names the file, the row's id and the value.
        """
        if self.spec.label is None:
            raise self._no_label()
        column = self.frame[self.spec.label]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(np.isnan(values) & column.notna().to_numpy())
        if bad.size:
            first = int(bad[0])
            raise DataError(
                f"dataset {self.name!r} ({self.spec.path}), column {self.spec.label!r}: the task "
                f"is regression (the model answers numbers) but {bad.size} label(s) are not "
                f"numbers, e.g. {column.iloc[first]!r} (id {self.frame.index[first]!r}). Fix: if "
                "this is classification, make the model answer class labels (a predictions "
                "file: labels in `prediction` or prob_<label> columns) or set the model's "
                "`task: classification`; if it is regression, correct the labels."
            )
        return values

    def info(self) -> dict[str, Any]:
        """What the Report records about this dataset."""
        return {
            "name": self.name,
            "path": self.spec.path,
            "resolved_path": self.resolved_path,
            "fingerprint": self.fingerprint,
            "n_read": self.n_read,
            "n_valid": len(self.frame),
            "dropped": dict(self.dropped),
            "dropped_examples": list(self.dropped_examples),
            "labels": list(self.labels) if self.labels is not None else None,
            "roles": self.spec.model_dump(
                exclude={"path", "format", "on_invalid", "limit", "labels", "outside_labels"}
            ),
        }


def row_payloads(frame: pd.DataFrame, input: str | list[str]) -> list[Payload]:
    """One model input per row of ``frame``: the text of the ``input`` column, or a dict of the
    ``input`` columns' values (plain Python scalars, NaN as ``None``)."""
    if isinstance(input, str):
        return [str(v) for v in frame[input].tolist()]
    records = frame[list(input)].to_dict(orient="records")
    return [{k: _plain(v) for k, v in r.items()} for r in records]


def _plain(v: Any) -> Any:
    """numpy scalars → Python scalars, NaN → None, so payloads are JSON-stable."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v
