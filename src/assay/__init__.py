"""assay: is this fine-tuned model ready for the real world?

The public API::

    from assay import evaluate, load_suite, load_dataset, load_model, Report, Estimate

    report = evaluate("suite.yaml")          # run a suite; writes out/report.json and report.html
    report = evaluate(model=pipeline, data=frame, label="diagnosis")   # no suite file (a notebook)
    report.to_frame()                        # every Estimate as a tidy DataFrame
    report.passed                            # every gate passed?
    report.result("performance").metrics["f1_macro"]   # Estimate(value, lower, upper, level, method, n)
    assay.compare_models(new_pipe, old_pipe, data=frame, label="diagnosis")   # paired, one run
    assay.compare_reports("out/report.json", "prod/report.json").verdict   # go / no-go / inconclusive
    assay.check_leakage("train.csv", "test.csv", gates=["leakage.contaminated.rate.upper <= 0.01"])
    assay.diagnose_curves("trainer_state.json", gates=["generalization.curves.severity <= 1"])
    assay.check_drift("ref.parquet", "cur.parquet", gates=["drift.share_drifted.upper <= 0.2"])
    assay.shadow("prod_events.jsonl", "sklearn:new.joblib", gates=["shadow.agreement.lower >= 0.9"])

Names are imported on first use, so ``import assay`` stays fast and a subpackage being imported
does not pull in the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from assay._version import __version__

if TYPE_CHECKING:
    from assay._runner import (
        check_drift,
        check_leakage,
        compare_models,
        compare_reports,
        diagnose_curves,
        evaluate,
        load_suite,
        load_test,
        shadow,
    )
    from assay.compare import shadow_compare
    from assay.config import Suite
    from assay.data import Dataset, load_dataset
    from assay.errors import AssayError
    from assay.models import Model, ModelInfo, Output, load_model
    from assay.report import CheckResult, Report
    from assay.stats import Estimate

_WHERE = {
    "AssayError": "assay.errors",
    "CheckResult": "assay.report",
    "Dataset": "assay.data",
    "Estimate": "assay.stats",
    "Model": "assay.models",
    "ModelInfo": "assay.models",
    "Output": "assay.models",
    "Report": "assay.report",
    "Suite": "assay.config",
    "check_drift": "assay._runner",
    "check_leakage": "assay._runner",
    "compare_models": "assay._runner",
    "compare_reports": "assay._runner",
    "diagnose_curves": "assay._runner",
    "evaluate": "assay._runner",
    "load_dataset": "assay.data",
    "load_model": "assay.models",
    "load_suite": "assay._runner",
    "shadow": "assay._runner",
    "shadow_compare": "assay.compare",
    "load_test": "assay._runner",
}

__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'assay' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
