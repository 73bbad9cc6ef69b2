"""Comparing two saved Reports (``assay compare``), and a Report holding that comparison so every
sink (HTML, Markdown) can render it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from assay._version import __version__
from assay.checks._compare import to_check_result
from assay.compare import CompareOptions, Comparison, PairedPredictions, compare_paired
from assay.compare._metrics import GENERATION_COMPARABLE
from assay.compare._paired import align_tables, check_label_sets
from assay.errors import ReportError
from assay.report._schema import CheckResult, Report
from assay.stats import stream

__all__ = ["compare_reports", "comparison_report"]


def _performance(report: Report, name: str, model: str | None) -> CheckResult:
    results = [r for r in report.results if r.check == "performance"]
    if model is not None:
        results = [r for r in results if r.model == model]
    if not results:
        which = f" for model {model!r}" if model else ""
        models = sorted({r.model for r in report.results if r.check == "performance"})
        raise ReportError(
            f"{name}: no performance result{which} (models with one: "
            f"{', '.join(models) or 'none'}); add `performance` to the suite's checks"
        )
    r = results[0]
    if "per_example" not in r.tables:
        raise ReportError(
            f"{name}: the performance result of model {r.model!r} keeps no per-example predictions "
            f"(report schema {report.schema_version}); re-run the suite with this assay and "
            "checks.performance.keep_predictions > 0"
        )
    return r


def _generation(report: Report, model: str | None) -> CheckResult | None:
    """The generation result with per-example scores (of ``model``, or the first), or None."""
    for r in report.results:
        if r.check == "generation" and (model is None or r.model == model):
            return r if "per_example" in r.tables else None
    return None


def _paired_generation(rc: CheckResult, rb: CheckResult, names: tuple[str, str]) -> Any:
    """Two generation results' per-example scores, paired by example id."""
    tc, tb = rc.tables["per_example"], rb.tables["per_example"]
    ids_c, ids_b = [str(i) for i in tc["id"]], [str(i) for i in tb["id"]]
    only_c, only_b = sorted(set(ids_c) - set(ids_b)), sorted(set(ids_b) - set(ids_c))
    if only_c or only_b:
        raise ReportError(
            f"{names[0]} and {names[1]} scored different examples ({len(only_c)} only in the "
            f"first, e.g. {only_c[:3]}; {len(only_b)} only in the second, e.g. {only_b[:3]}); "
            "compare reports made on the same data set, where both models answered every example"
        )
    at_b = {i: k for k, i in enumerate(ids_b)}
    order = [at_b[i] for i in ids_c]
    metrics = [m for m in GENERATION_COMPARABLE if m in tc and m in tb]
    scores = {
        m: (np.asarray(tc[m], dtype=float), np.asarray(tb[m], dtype=float)[order])
        for m in metrics
    }
    empty = np.array([""] * len(ids_c), dtype=object)
    return PairedPredictions("generation", ids_c, empty, empty, empty, [], scores=scores)


def _labels(report: Report, dataset: str) -> list[str] | None:
    for d in report.datasets:
        if d.get("name") == dataset and d.get("labels"):
            return [str(x) for x in d["labels"]]
    return None


def compare_reports(
    candidate: Report | str | Path,
    baseline: Report | str | Path,
    options: CompareOptions | None = None,
    *,
    candidate_model: str | None = None,
    baseline_model: str | None = None,
    allow_truncated: bool = False,
    where: str = "compare_reports",
) -> Comparison:
    """Compare the candidate's Report with the baseline's, example by example.

    Both Reports must hold the performance check's per-example predictions on the same example ids
    with the same labels; or, for generated text (reports without a performance result), the
    generation check's per-example scores on the same example ids.

    Args:
        candidate: the candidate's Report or report.json path.
        baseline: the baseline's (production) Report or path.
        options: metrics, margins and test settings.
        candidate_model: which model of the candidate Report (default: its first).
        baseline_model: which model of the baseline Report (default: its first).
        allow_truncated: compare the kept prefix when a report kept only the first
            ``keep_predictions`` predictions (refused otherwise; the comparison notes it).
        where: who asks, for messages and advice (``"assay compare"`` names the CLI's options).

    Returns:
        The :class:`~assay.compare.Comparison` with its verdict.

    Raises:
        ReportError: a report cannot be read, lacks per-example predictions, or the two cover
            different ids or label sets.

    Example:
        >>> c = compare_reports("out/report.json", "prod/report.json")  # doctest: +SKIP
        >>> c.verdict  # doctest: +SKIP
        'go'
    """
    names = (
        str(candidate) if not isinstance(candidate, Report) else "candidate",
        str(baseline) if not isinstance(baseline, Report) else "baseline",
    )
    rep_c = candidate if isinstance(candidate, Report) else Report.load(candidate)
    rep_b = baseline if isinstance(baseline, Report) else Report.load(baseline)
    gen_c, gen_b = _generation(rep_c, candidate_model), _generation(rep_b, baseline_model)
    has_perf = any(r.check == "performance" for r in rep_c.results)
    if gen_c is not None and gen_b is not None and not has_perf:
        # generated text: the two generation results' per-example scores, paired by id
        rc, rb = gen_c, gen_b
        paired = _paired_generation(gen_c, gen_b, names)
    else:
        rc = _performance(rep_c, names[0], candidate_model)
        rb = _performance(rep_b, names[1], baseline_model)
        task_c, task_b = rc.tables.get("task"), rb.tables.get("task")
        if task_c != task_b:
            raise ReportError(
                f"{names[0]} is {task_c} and {names[1]} is {task_b}; nothing to compare"
            )
        labels_c, labels_b = _labels(rep_c, rc.dataset), _labels(rep_b, rb.dataset)
        check_label_sets(labels_c, labels_b, names)
        paired = align_tables(
            rc.tables["per_example"],
            rb.tables["per_example"],
            task=str(task_c),
            names=names,
            labels=labels_c,
            allow_truncated=allow_truncated,
        )
    model_b = rb.model if rb.model != rc.model else f"{rb.model} ({names[1]})"
    return compare_paired(
        paired,
        options,
        candidate=rc.model,
        baseline=model_b,
        dataset=rc.dataset,
        level=rep_c.level,
        # the compare check's stream for this candidate: the same intervals as in its suite
        seed=stream(rep_c.seed, "compare", rc.model),
        where=where,
    )


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
