"""The runner: load a suite, its data and models, run the checks through the engine, apply the
gates and build the Report. Also the other commands that produce Reports (``assay compare``,
``assay leakage``, ``assay drift``, ``assay curves``, ``assay shadow``, checkpoint sweeps) and the starter suite of ``assay init``.

Private: the public names are re-exported from ``assay`` (``assay.evaluate``, ``assay.load_suite``,
``assay.compare_reports``, ``assay.compare_models``, ``assay.check_leakage``,
``assay.check_drift``, ``assay.diagnose_curves``, ``assay.load_test``); the CLI calls them
with the same parameter names.
"""

from assay._runner._checkpoints import checkpoint_series, evaluate_checkpoints, find_checkpoints
from assay._runner._compare import compare_reports, comparison_report
from assay._runner._compare_models import compare_models
from assay._runner._curves import diagnose_curves
from assay._runner._drift import check_drift
from assay._runner._evaluate import evaluate, write_report_files
from assay._runner._gates import (
    Gate,
    evaluate_gates,
    parse_gate,
    validate_gate_paths,
    validate_gates,
)
from assay._runner._leakage import check_leakage
from assay._runner._load_command import load_test
from assay._runner._shadow import shadow, shadow_report
from assay._runner._starter import write_starter_suite
from assay._runner._suite import load_suite, suite_from_dict, validate_suite

__all__ = [
    "Gate",
    "check_drift",
    "check_leakage",
    "checkpoint_series",
    "compare_models",
    "compare_reports",
    "comparison_report",
    "diagnose_curves",
    "evaluate",
    "evaluate_checkpoints",
    "evaluate_gates",
    "find_checkpoints",
    "load_suite",
    "load_test",
    "parse_gate",
    "shadow",
    "shadow_report",
    "suite_from_dict",
    "validate_gate_paths",
    "validate_gates",
    "validate_suite",
    "write_report_files",
    "write_starter_suite",
]
