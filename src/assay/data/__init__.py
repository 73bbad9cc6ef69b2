"""Datasets: readers, column roles, validation.

``load_dataset`` reads a ``DatasetSpec`` (CSV, TSV, JSONL, Parquet, each optionally ``.gz``,
``.bz2`` or ``.zst``; or a Hugging Face ``save_to_disk`` folder), checks its column roles and rows,
and returns a ``Dataset`` indexed by string ids. ``read_table`` reads any of those formats without
validation, and ``infer_roles`` guesses column roles for ``assay init``.
"""

from assay._types import canonical_label
from assay.data._dataset import Dataset
from assay.data._infer import InferredRoles, infer_roles
from assay.data._load import dataset_from_frame, load_dataset
from assay.data._readers import read_table

__all__ = [
    "Dataset",
    "InferredRoles",
    "canonical_label",
    "dataset_from_frame",
    "infer_roles",
    "load_dataset",
    "read_table",
]
