"""The suite configuration."""

from assay.config._load import load_suite, suite_from_dict
from assay.config._starter import write_starter_suite
from assay.config._suite import ColumnRoles, DatasetSpec, EngineSettings, Suite

__all__ = [
    "ColumnRoles",
    "DatasetSpec",
    "EngineSettings",
    "Suite",
    "load_suite",
    "suite_from_dict",
    "write_starter_suite",
]
