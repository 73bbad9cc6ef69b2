"""The suite configuration: the ``Suite`` model and reading it from YAML.

``read_suite`` validates a file's fields; ``assay.load_suite`` (the runner) also validates each
check's options and the gates against the whole suite, which needs the check registry.
"""

from assay.config._load import ENV_OVERRIDES, read_suite, read_suite_dict
from assay.config._suite import ColumnRoles, DatasetSpec, EngineSettings, Suite

__all__ = [
    "ENV_OVERRIDES",
    "ColumnRoles",
    "DatasetSpec",
    "EngineSettings",
    "Suite",
    "read_suite",
    "read_suite_dict",
]
