"""A Report that holds a comparison of two Reports, so every sink (HTML, Markdown) can render it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from assay._version import __version__
from assay.compare._compare import Comparison
from assay.compare._reports import to_check_result
from assay.report._schema import Report

__all__ = ["comparison_report"]


def comparison_report(
    c: Comparison, candidate: Report | str | Path, baseline: Report | str | Path
) -> Report:
    """The comparison and both models' performance results as one Report (no gates).

    The per-example tables are dropped (the comparison already used them)."""
    rc = candidate if isinstance(candidate, Report) else Report.load(candidate)
    rb = baseline if isinstance(baseline, Report) else Report.load(baseline)
    results = [to_check_result(c)]
    for rep, model in ((rc, c.candidate), (rb, c.baseline)):
        for r in rep.results:
            if r.check == "performance":
                tables = {k: v for k, v in r.tables.items() if k != "per_example"}
                results.append(r.model_copy(update={"model": model, "tables": tables}))
                break
    models = [{**m, "name": c.candidate} for m in rc.models[:1]]
    models += [{**m, "name": c.baseline} for m in rb.models[:1]]
    return Report(
        assay_version=__version__,
        suite_name=f"{c.candidate} vs {c.baseline}",
        suite={
            "compare": {
                "candidate": str(candidate if not isinstance(candidate, Report) else rc.suite_name),
                "baseline": str(baseline if not isinstance(baseline, Report) else rb.suite_name),
            }
        },
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        duration_s=0.0,
        seed=rc.seed,
        level=c.level,
        datasets=rc.datasets,
        models=models,
        environment=rc.environment,
        results=results,
        notes=list(c.notes),
    )
