"""Leakage and contamination: duplicates between train and test, label leakage, memorisation."""

from assay.leakage._duplicates import DuplicateReport, find_duplicates, normalise
from assay.leakage._embedding import embedding_duplicates
from assay.leakage._memorisation import Probe, continuation_match, split_prompt
from assay.leakage._tabular import FeatureLeak, label_leakage

__all__ = [
    "DuplicateReport",
    "FeatureLeak",
    "Probe",
    "continuation_match",
    "embedding_duplicates",
    "find_duplicates",
    "label_leakage",
    "normalise",
    "split_prompt",
]
