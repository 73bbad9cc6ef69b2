"""``check_drift``: a current file against a reference file, as a Report (``assay drift``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from assay._runner._evaluate import clear_report_files
from assay._runner._single import Clock, single_result_report, validate_command_gates
from assay.checks._drift import DRIFT_GATE_PATTERNS, drift_flags, drift_metrics
from assay.config._suite import DatasetSpec
from assay.data import Dataset, load_dataset
from assay.drift import detect_drift
from assay.report._schema import CheckResult, Report

__all__ = ["check_drift"]


def check_drift(
    reference: str | Path,
    current: str | Path,
    *,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    prediction: str | Sequence[str] | None = None,
    probabilities: Sequence[str] | None = None,
    label: str | None = None,
    text: Sequence[str] | None = None,
    methods: str | Mapping[str, str] = "auto",
    thresholds: Mapping[str, float] | Literal["reference"] | None = None,
    alpha: float = 0.05,
    correction: Literal["bh", "bonferroni", "none"] = "bh",
    drift_share: float = 0.5,
    max_categories: int = 1000,
    window_size: int | None = None,
    time_column: str | None = None,
    every: str | None = None,
    gates: Sequence[str] = (),
    out: str | Path | None = None,
    seed: int = 0,
) -> Report:
    """Compare a current data file with a reference file column by column; return a Report.

    The Report holds one ``drift`` result shaped as the suite's drift check writes it (without
    a model): ``share_drifted``, ``columns.<column>.<statistic>``, ``quality.<column>.<rate>``
    and the whole :class:`~assay.drift.DriftResult` in ``tables["drift"]``. Gates read
    ``drift.<metric>[.lower|.upper|.value] <op> <number>``. Options are those of
    :func:`assay.drift.detect_drift`.

    Args:
        reference: the reference rows (CSV, JSONL, Parquet …).
        current: the current rows.
        exclude: columns left out (ids).
        gates: gates on the result, e.g. ``"drift.share_drifted.upper <= 0.2"``.
        out: a folder to write ``report.json`` and ``report.html`` into (both or neither).
        seed: the seed of permutation tests and subsamples (text drift).

    Returns:
        The Report; ``report.passed`` says whether every gate passed.

    Raises:
        ConfigError: a gate naming a metric drift does not produce (the valid paths are
            listed), an unknown column, method or option.
        DataError: a file cannot be read, or has no rows.

    Example:
        >>> r = check_drift("ref.parquet", "cur.parquet",
        ...                 gates=["drift.share_drifted.upper <= 0.2"])  # doctest: +SKIP
        >>> r.passed, r.result("drift").metrics["share_drifted"]  # doctest: +SKIP
    """
    clock = Clock()
    if out is not None:
        clear_report_files(out)  # a failed run leaves no earlier pass behind
    validate_command_gates(gates, "drift", DRIFT_GATE_PATTERNS, command="assay drift")
    ref_ds = _load(Path(reference), "reference")
    cur_ds = _load(Path(current), "current")
    drop = list(exclude)
    ref = ref_ds.frame.drop(columns=[c for c in drop if c in ref_ds.frame.columns])
    cur = cur_ds.frame.drop(columns=[c for c in drop if c in cur_ds.frame.columns])
    result = detect_drift(
        ref.reset_index(drop=True),
        cur.reset_index(drop=True),
        columns=columns,
        prediction=prediction,
        probabilities=probabilities,
        label=label,
        text=text,
        methods=methods,  # type: ignore[arg-type]
        thresholds=thresholds,
        alpha=alpha,
        correction=correction,
        drift_share=drift_share,
        max_categories=max_categories,
        window_size=window_size,
        time_column=time_column,
        every=every,
        seed=seed,
    )
    check = CheckResult(
        check="drift",
        model=f"{Path(current).name} vs {Path(reference).name}",
        dataset=cur_ds.name,
        n=len(cur),
        metrics=drift_metrics(result),
        tables={"drift": result.to_dict(), "reference": ref_ds.name},
        flags=drift_flags(result),
    )
    options = {
        "reference": str(Path(reference).resolve()),
        "current": str(Path(current).resolve()),
        "columns": list(columns) if columns is not None else None,
        "exclude": list(exclude),
        "prediction": prediction,
        "probabilities": list(probabilities) if probabilities else None,
        "label": label,
        "text": list(text) if text else None,
        "methods": methods if isinstance(methods, str) else dict(methods),
        "thresholds": thresholds if not isinstance(thresholds, Mapping) else dict(thresholds),
        "alpha": alpha,
        "correction": correction,
        "drift_share": drift_share,
        "max_categories": max_categories,
        "window_size": window_size,
        "time_column": time_column,
        "every": every,
        "seed": seed,
    }
    return single_result_report(
        check,
        name=f"drift {Path(current).name} vs {Path(reference).name}",
        call={"command": "assay drift", "options": options},
        gates=gates,
        clock=clock,
        datasets=[ref_ds.info(), cur_ds.info()],
        out=out,
    )


def _load(path: Path, name: str) -> Dataset:
    """Every column and row of ``path`` (no roles: nothing is validated away)."""
    return load_dataset(DatasetSpec(path=str(path.resolve())), name=name)
