"""The Report of a command that produces one check's result without a suite (``assay leakage``,
``assay curves``): gates validated against the paths the command can produce, decided on its
result, and the report files written as ``assay run`` writes them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from assay._runner._evaluate import _environment, write_report_files
from assay._runner._gates import evaluate_gates, validate_gate_paths
from assay._util._redact import redact_record
from assay._version import __version__
from assay.config import Suite
from assay.report._schema import CheckResult, Report

__all__ = ["DEFAULT_LEVEL", "Clock", "single_result_report", "validate_command_gates"]

#: The suite's default confidence level, which the commands use.
DEFAULT_LEVEL: float = Suite.model_fields["level"].default


class Clock:
    """When a command started (for ``created_at`` and ``duration_s``)."""

    def __init__(self) -> None:
        self.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        return round(time.perf_counter() - self._started, 3)


def validate_command_gates(
    gates: Sequence[str], check: str, patterns: Sequence[str], *, command: str
) -> None:
    """Parse ``gates`` and check that each names a metric path ``command`` produces.

    Raises:
        ConfigError: a malformed gate, another check, or a path the command does not produce;
            the message lists the valid paths.
    """
    validate_gate_paths(gates, {check: patterns}, source=f"{command} --gate", runner=command)


def single_result_report(
    result: CheckResult,
    *,
    name: str,
    call: Mapping[str, Any],
    gates: Sequence[str],
    clock: Clock,
    datasets: Sequence[Mapping[str, Any]] = (),
    out: str | Path | None = None,
) -> Report:
    """The Report holding ``result``, with ``gates`` decided on it; written to ``out`` if given.

    Args:
        result: the one check result.
        name: the report's title (``suite_name``).
        call: the command and its options, recorded as the report's ``suite``.
        gates: gate texts, already validated.
        clock: when the command started.
        datasets: what the Report records about the data read.
        out: a folder for ``report.json`` and ``report.html``.
    """
    report = Report(
        assay_version=__version__,
        suite_name=name,
        suite=redact_record({**call, "gates": list(gates)}),  # an mlflow: URI may hold a password
        created_at=clock.created,
        duration_s=clock.elapsed(),
        seed=0,
        level=DEFAULT_LEVEL,
        datasets=[dict(d) for d in datasets],
        models=[],
        environment=_environment(),
        results=[result],
        gates=evaluate_gates(gates, [result], model=result.model),
    )
    if out is not None:
        write_report_files(report, Path(out))
    return report
