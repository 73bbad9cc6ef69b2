"""The suite configuration."""

from assay.config._suite import ColumnRoles, DatasetSpec, EngineSettings, Suite

__all__ = ["ColumnRoles", "DatasetSpec", "EngineSettings", "Suite"]
