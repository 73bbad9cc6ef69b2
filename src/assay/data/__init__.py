"""Datasets: readers, column roles, validation."""

from assay.data._dataset import Dataset
from assay.data._labels import canonical_label

__all__ = ["Dataset", "canonical_label"]
