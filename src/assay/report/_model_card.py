"""A model card in Markdown, filled from a Report: intended use (from the suite), metrics with
intervals, fairness, robustness, limitations and data provenance (after Mitchell et al. 2019,
"Model Cards for Model Reporting"). Sections with nothing in the Report say so."""

from __future__ import annotations

from pathlib import Path

from assay.report._markdown import (
    Code,
    md_cell,
    md_estimate,
    md_num,
    md_table,
    uncertainty_lines,
)
from assay.report._schema import CheckResult, Report

__all__ = ["render_model_card", "write_model_card"]

MAX_ROWS = 25
#: Pillar checks and the card section that shows them.
PILLARS = {
    "fairness": "Fairness",
    "robustness": "Robustness",
    "generalization": "Generalization",
    "cv": "Generalization",
    "leakage": "Generalization",
    "domain_shift": "Robustness",
    "slices": "Performance by slice",
}


def _metrics(rs: list[CheckResult], level: float, *, limit: int = MAX_ROWS) -> list[str]:
    lines: list[str] = []
    for r in rs:
        keys = [k for k in r.metrics if not k.startswith("per_class.")][:limit]
        if not keys:
            continue
        more = len(r.metrics) - len(keys)
        lines += [
            f"**{md_cell(r.check)} · {md_cell(r.dataset)}** (n = {md_num(r.n)}, "
            f"{level:.0%} intervals)",
            "",
        ]
        lines += md_table(
            ["metric", "value [interval]", "method"],
            [[k, md_estimate(r.metrics[k]), r.metrics[k].method] for k in keys],
            "lrl",
        )
        if more > 0:
            lines.append(f"\n_… {more} more metrics in report.json._")
        lines.append("")
        lines += [f"- ⚠️ {md_cell(f)}" for f in r.flags[:10]]
        if r.flags:
            lines.append("")
    return lines


def render_model_card(report: Report, *, model: str | None = None) -> str:
    """A model card for ``model`` (default: the suite's first, the one gates speak about).

    Example:
        >>> from assay.report import Report
        >>> r = Report(assay_version="0.1.0", suite_name="demo", suite={"intended_use": "demos"},
        ...            created_at="2024-01-01", duration_s=1.0, seed=0, level=0.95, datasets=[],
        ...            models=[{"name": "m", "spec": "python:f"}], environment={})
        >>> "demos" in render_model_card(r)
        True
    """
    info = next((m for m in report.models if model is None or m.get("name") == model), {})
    name = str(model or info.get("name") or "model")
    mine = [r for r in report.results if r.model == name]
    suite = report.suite
    lines = [
        f"# Model card: {md_cell(name)}",
        "",
        f"_Filled by assay {report.assay_version} from the evaluation `{md_cell(report.suite_name)}` "
        f"of {report.created_at}. Every number has its {report.level:.0%} confidence interval._",
        "",
        "## Model details",
        "",
    ]
    details = [
        ["name", name],
        ["spec", info.get("spec", "")],
        ["task", info.get("task", "")],
        ["labels", ", ".join(map(str, info.get("labels") or []))],
        ["fingerprint", info.get("fingerprint", "")],
    ]
    for k, v in (info.get("details") or {}).items():
        details.append([k, v])
    lines += md_table(["", ""], [[k, v] for k, v in details if v not in ("", None)])
    lines += ["", "## Intended use", ""]
    lines.append(
        md_cell(suite.get("intended_use") or "Not stated: add `intended_use:` to the suite.")
    )
    if suite.get("description"):
        lines += ["", md_cell(suite["description"])]
    lines += ["", "## Metrics", ""]
    perf = [r for r in mine if r.check == "performance"]
    lines += _metrics(perf, report.level) or ["No performance check in this evaluation.", ""]
    sections: dict[str, list[CheckResult]] = {}
    for r in mine:
        if r.check in PILLARS:
            sections.setdefault(PILLARS[r.check], []).append(r)
    for title in ("Performance by slice", "Fairness", "Robustness", "Generalization"):
        lines += [f"## {title}", ""]
        lines += _metrics(sections.get(title, []), report.level) or [
            f"Not evaluated: the suite has no {title.lower()} check. Treat this as unknown, "
            "not as fine.",
            "",
        ]
    uncertainty = [r for r in mine if r.check == "uncertainty"]
    if uncertainty:  # abstention, conformal sets, calibration, operating point
        lines += ["## Uncertainty", ""]
        for r in uncertainty:
            lines += uncertainty_lines(r)
    comparisons = [r for r in mine if r.check == "compare"]
    if report.gates or comparisons:
        lines += ["## Decision", ""]
        for g in report.gates:
            lines.append(
                f"- {'✅' if g.passed else '❌'} {md_cell(Code(g.gate))} — observed "
                f"{md_num(g.observed)}"
            )
        for r in comparisons:
            c = r.tables.get("comparison") or {}
            lines.append(
                f"- Against {md_cell(c.get('baseline'))}: **{str(c.get('verdict')).upper()}**"
                + "".join(f"; {md_cell(x)}" for x in (c.get("reasons") or [])[:3])
            )
        lines.append("")
    lines += ["## Limitations", ""]
    limits = [f"{r.check}: {f}" for r in mine for f in r.flags] + list(report.notes)
    limits += [
        f"gate failed: {g.gate} ({g.detail or 'observed ' + md_num(g.observed)})"
        for g in report.gates
        if not g.passed
    ]
    limits += [
        f"{r.check}: {r.errors.n_errors} of {r.errors.n_requests} rows had a failed model call"
        for r in mine
        if r.errors.n_errors
    ]
    absent = [t for t in ("Fairness", "Robustness", "Generalization") if t not in sections]
    if absent:
        limits.append(f"not evaluated: {', '.join(a.lower() for a in absent)}")
    limits.append("the evaluation data may not represent production traffic; monitor after release")
    lines += [f"- {md_cell(x)}" for x in limits[:40]]
    lines += ["", "## Evaluation data", ""]
    lines += md_table(
        ["dataset", "path", "rows", "labels", "fingerprint"],
        [
            [
                d.get("name"),
                d.get("path"),
                md_num(d.get("n_valid")),
                ", ".join(map(str, d.get("labels") or [])),
                d.get("fingerprint"),
            ]
            for d in report.datasets
        ],
        "llrll",
    )
    env = report.environment
    pkgs = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items())
    lines += [
        "",
        "## Provenance",
        "",
        f"assay {report.assay_version}, report schema {report.schema_version}, seed "
        f"{report.seed}, Python {env.get('python', '?')} on {env.get('platform', '?')}"
        + (f"; {pkgs}" if pkgs else "")
        + ".",
        "",
    ]
    return "\n".join(lines)


def write_model_card(report: Report, path: str | Path, *, model: str | None = None) -> Path:
    """Write :func:`render_model_card` (UTF-8) to ``path``; return it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_model_card(report, model=model), encoding="utf-8")
    return p
