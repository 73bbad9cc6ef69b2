"""``diagnose_curves``: the overfitting diagnosis of a training log, as a Report
(``assay curves``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assay._runner._evaluate import clear_report_files
from assay._runner._single import (
    DEFAULT_LEVEL,
    Clock,
    single_result_report,
    validate_command_gates,
)
from assay.checks._generalization import CURVE_GATE_PATTERNS, curve_findings
from assay.generalization import diagnose, read_log
from assay.report._schema import CheckResult, Report

__all__ = ["diagnose_curves"]


def diagnose_curves(
    source: str | Path,
    *,
    metric: str | None = None,
    train: str | None = None,
    validation: str | None = None,
    smoothing: float = 0.6,
    patience: int = 3,
    mild: float = 0.02,
    severe: float = 0.10,
    gates: Sequence[str] = (),
    out: str | Path | None = None,
) -> Report:
    """Read a training log and say whether (and from which step) the model overfits; return a
    Report.

    The Report holds one ``generalization`` result shaped as the suite's generalization check
    writes it for a log (``checks.generalization.log``): the ``curves`` table and the metrics
    ``curves.severity`` (0 none, 1 mild, 2 severe), ``curves.gap_at_best``, ``curves.gap_at_last``,
    ``curves.validation_rise`` and ``curves.best_step``. Gates read
    ``generalization.curves.<metric>[.value] <op> <number>``.

    Args:
        source: a TensorBoard folder, a ``trainer_state.json`` (or its folder), a CSV/JSONL log,
            or ``mlflow:<tracking uri>#<run id>``.
        metric: the metric to judge (default: a loss).
        train: the training series' name, when matching by name does not find it.
        validation: the validation series' name.
        smoothing: EMA weight for the training curve.
        patience: evaluations in a row for the divergence point.
        mild: relative validation rise (last vs best) for a mild verdict.
        severe: relative validation rise for a severe verdict.
        gates: gates on the result, e.g. ``"generalization.curves.severity <= 1"``.
        out: a folder to write ``report.json`` and ``report.html`` into.

    Returns:
        The Report; ``report.passed`` says whether every gate passed.

    Raises:
        ConfigError: a gate naming a metric this cannot produce (the message lists the valid
            paths), a log that cannot be found or recognised, or no training/validation pair.
        DataError: a malformed log (the message names the file and line).

    Example:
        >>> r = diagnose_curves("runs/exp1/trainer_state.json",
        ...                     gates=["generalization.curves.severity <= 1"])  # doctest: +SKIP
        >>> r.result("generalization").tables["curves"]["verdict"]  # doctest: +SKIP
        'mild'
    """
    clock = Clock()
    if out is not None:
        clear_report_files(out)  # a failed run leaves no earlier pass behind
    validate_command_gates(gates, "generalization", CURVE_GATE_PATTERNS, command="assay curves")
    text = str(source)
    # A path is recorded absolute, as a suite's `log:` is after resolving it against the suite.
    src = text if text.startswith("mlflow:") else str(Path(text).resolve())
    log = read_log(src)
    d = diagnose(
        log,
        metric=metric,
        train=train,
        validation=validation,
        smoothing=smoothing,
        patience=patience,
        mild=mild,
        severe=severe,
    )
    found = curve_findings(log, d, level=DEFAULT_LEVEL)
    result = CheckResult(
        check="generalization",
        model=text,
        dataset="training log",
        n=0,
        metrics=found.metrics,
        tables={"curves": found.table, "notes": []},
        flags=found.flags,
    )
    options = {
        "source": src,
        "metric": metric,
        "train": train,
        "validation": validation,
        "smoothing": smoothing,
        "patience": patience,
        "mild": mild,
        "severe": severe,
    }
    return single_result_report(
        result,
        name=f"curves {text}",
        call={"command": "assay curves", "options": options},
        gates=gates,
        clock=clock,
        out=out,
    )
