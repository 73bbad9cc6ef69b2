"""A Markdown summary of a Report, sized for a pull-request comment: verdict, comparison, gates,
headline metrics with intervals, findings. Built from the Report alone."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.metrics import metrics_for
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = [
    "Code",
    "md_cell",
    "md_estimate",
    "md_num",
    "md_table",
    "render_markdown",
    "uncertainty_lines",
    "write_markdown",
]

#: GitHub rejects comments over 65,536 characters; findings are cut well before that.
MAX_FINDINGS = 20
#: The metrics of the headline table, in order (those present are shown): the catalogue's summary
#: metrics of classification, then of regression.
_HEADLINE = tuple(
    m.name
    for task in ("classification", "regression")
    for m in metrics_for(task, shown=("summary",))
)


def md_num(x: Any) -> str:
    """A number for a table; ``undefined`` for NaN/None."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "undefined"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    a = abs(x)
    return format(x, ".3f" if a == 0 or 1e-3 <= a < 10 else ".3g" if a < 1e-3 else ".2f")


def md_estimate(e: Estimate | None) -> str:
    """``0.812 [0.790, 0.833]``, or ``undefined``."""
    if e is None:
        return "—"
    if not e.defined:
        return "undefined"
    if math.isfinite(e.lower) and math.isfinite(e.upper):
        return f"{md_num(e.value)} [{md_num(e.lower)}, {md_num(e.upper)}]"
    return md_num(e.value)


class Code(str):
    """Text shown as inline code in a table cell (only pipes and newlines are escaped)."""


def md_cell(x: Any) -> str:
    """Text safe inside a Markdown table cell: no pipes, newlines or raw HTML."""
    if isinstance(x, Code):
        return "`" + str(x).replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"
    s = str(x).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    return s.replace("<", "&lt;").replace(">", "&gt;")


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """A GitHub table; ``align`` has one of ``l``/``r`` per column (default left)."""
    sep = ["---:" if (align[i : i + 1] == "r") else "---" for i in range(len(header))]
    out = ["| " + " | ".join(md_cell(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return out


def _comparison_lines(r: CheckResult) -> list[str]:
    c = r.tables.get("comparison")
    if not isinstance(c, Mapping):
        return []
    icon = {"go": "✅", "no-go": "❌"}.get(str(c.get("verdict")), "⚠️")
    lines = [
        f"### {icon} Comparison: **{str(c.get('verdict', '')).upper()}** — "
        f"{md_cell(r.model)} against {md_cell(c.get('baseline', ''))} "
        f"(n = {md_num(r.n)} paired examples, α = {md_num(c.get('alpha'))}, Holm)",
        "",
    ]
    rows = []
    for m in c.get("metrics") or []:
        d = Estimate.from_dict(dict(m.get("difference") or {}))
        rows.append(
            [
                m.get("metric"),
                md_num(m.get("candidate")),
                md_num(m.get("baseline")),
                md_estimate(d),
                md_num(m.get("p_holm")),
                md_num(m.get("margin")),
                m.get("status"),
            ]
        )
    lines += md_table(
        [
            "metric",
            r.model,
            str(c.get("baseline", "")),
            "difference [interval]",
            "p (Holm)",
            "margin",
            "status",
        ],
        rows,
        "lrrrrrl",
    )
    lines.append("")
    lines += [f"- {md_cell(x)}" for x in c.get("reasons") or []]
    lines.append("")
    return lines


def _headline(report: Report) -> list[str]:
    perf = [r for r in report.results if r.check == "performance"]
    if not perf:
        return []
    names = [k for k in _HEADLINE if any(k in r.metrics for r in perf)]
    cols = [
        f"{r.model}" + (f" · {r.dataset}" if len({p.dataset for p in perf}) > 1 else "")
        for r in perf
    ]
    lines = [f"### Metrics ({report.level:.0%} intervals)", ""]
    lines += md_table(
        ["metric", *cols],
        [[k, *(md_estimate(r.metrics.get(k)) for r in perf)] for k in names],
        "l" + "r" * len(perf),
    )
    return [*lines, ""]


_UNCERTAINTY_CALIBRATION = ("ece", "ece_equal_mass", "classwise_ece", "brier", "log_loss")


_PER_CLASS = ("sensitivity", "specificity", "precision")


def uncertainty_lines(r: CheckResult) -> list[str]:
    """Markdown lines (tables) of one uncertainty result; every value with its interval."""
    m, t = r.metrics, r.tables
    split = t.get("split") or {}
    fitted = (
        f" (fitted on {md_num(split.get('n_calibration'))} calibration rows, measured on "
        f"{md_num(split.get('n_test'))} test rows)"
        if split
        else ""
    )
    lines = [f"**uncertainty · {md_cell(r.model)} · {md_cell(r.dataset)}**{fitted}", ""]
    rows = []
    regression = t.get("task") == "regression"
    risk = str(t.get("risk", "absolute_error")).replace("_", " ")
    for key in sorted(k for k in m if k.startswith("selective.coverage_") and k.endswith(".risk")):
        cov = key.removeprefix("selective.coverage_").removesuffix(".risk")
        what = f"mean {risk}" if regression else "error rate"
        rows.append(
            [
                f"{what} keeping {cov} of cases (by spread)"
                if regression
                else f"{what} keeping {cov} of cases",
                md_estimate(m[key]),
                key,
            ]
        )
    for kind, what in (("at_risk", "no guarantee"), ("guaranteed", "SGR guarantee")):
        key = f"selective.{kind}.referral_rate"
        if key in m:
            target = (t.get("selective") or {}).get("at_risk", {}).get("target_risk")
            bound = f"mean {risk}" if regression else "error"
            rows.append(
                [f"referral rate for {bound} ≤ {md_num(target)} ({what})", md_estimate(m[key]), key]
            )
    conformal = t.get("conformal")
    if "conformal.coverage" in m and conformal:
        rows.append(
            [
                f"conformal coverage ({conformal.get('method')}, nominal "
                f"{md_num(conformal.get('nominal'))})",
                md_estimate(m["conformal.coverage"]),
                "conformal.coverage",
            ]
        )
        if regression:
            rows.append(
                [
                    "conformal mean interval width",
                    md_estimate(m.get("conformal.width", m["conformal.size"])),
                    "conformal.width",
                ]
            )
        else:
            rows.append(
                ["conformal mean set size", md_estimate(m["conformal.size"]), "conformal.size"]
            )
        for g in conformal.get("groups") or []:
            key = f"conformal.groups.{g['group']}.coverage"
            rows.append([f"conformal coverage, {g['group']}", md_estimate(m.get(key)), key])
    for k in _UNCERTAINTY_CALIBRATION:
        if f"calibration.{k}" in m:
            rows.append(
                [
                    f"{k} (after temperature scaling: "
                    f"{md_estimate(m.get(f'calibration.temperature_scaled.{k}'))})",
                    md_estimate(m[f"calibration.{k}"]),
                    f"calibration.{k}",
                ]
            )
    op = t.get("operating_point")
    if op:
        for k in ("sensitivity", "specificity", "precision", "cost"):
            key = f"operating_point.{k}"
            if key in m:
                rows.append(
                    [
                        f"{k} at {op['target']} {md_num(op['value'])} ({op['positive_label']} "
                        "positive)",
                        md_estimate(m[key]),
                        key,
                    ]
                )
    rows = [[what, value, Code(f"uncertainty.{path}")] for what, value, path in rows]
    lines += md_table(["", "value [interval]", "gate path"], rows, "lrl")
    lines.append("")
    per_class = t.get("operating_point_per_class")
    if per_class:
        lines += [
            f"Operating point per class (one-vs-rest, threshold chosen on the calibration rows "
            f"to hold {per_class['target']} {md_num(per_class['value'])}):",
            "",
        ]
        rows = []
        for row in per_class.get("classes") or []:
            key = row["key"]
            rows.append(
                [
                    row["label"],
                    "∞"
                    if row.get("threshold") is None and not row.get("error")
                    else md_num(row.get("threshold")),
                    *(md_estimate(m.get(f"{key}.{k}")) for k in _PER_CLASS),
                    Code(f"uncertainty.{key}.*"),
                ]
            )
        lines += md_table(["class", "threshold", *_PER_CLASS, "gate paths"], rows, "lrrrrl")
        lines.append("")
    return lines


def render_markdown(report: Report, *, title: str | None = None) -> str:
    """The Markdown summary of ``report``.

    Example:
        >>> from assay.report import Report
        >>> r = Report(assay_version="0.1.0", suite_name="demo", suite={}, created_at="2024-01-01",
        ...            duration_s=1.0, seed=0, level=0.95, datasets=[], models=[], environment={})
        >>> "NO GATES" in render_markdown(r)
        True
    """
    if not report.gates:
        verdict, icon = "NO GATES", "⚠️"
    else:
        verdict, icon = ("PASS", "✅") if report.passed else ("FAIL", "❌")
    failed = sum(not g.passed for g in report.gates)
    lines = [f"## {icon} {verdict} — {md_cell(title or report.suite_name)}", ""]
    detail = (
        "no gates declared"
        if not report.gates
        else f"{failed} of {len(report.gates)} gates failed"
        if failed
        else f"all {len(report.gates)} gates passed"
    )
    lines += [
        f"{detail} · assay {report.assay_version} · {report.created_at} · seed "
        f"{report.seed} · {report.level:.0%} intervals",
        "",
    ]
    for r in report.results:
        if r.check == "compare":
            lines += _comparison_lines(r)
    if report.gates:
        lines += ["### Gates", ""]
        lines += md_table(
            ["", "gate", "observed", "threshold", "detail"],
            [
                [
                    "✅" if g.passed else "❌",
                    Code(g.gate),
                    md_num(g.observed),
                    md_num(g.threshold),
                    g.detail,
                ]
                for g in report.gates
            ],
            "llrrl",
        )
        lines.append("")
    lines += _headline(report)
    uncertainty = [r for r in report.results if r.check == "uncertainty"]
    if uncertainty:
        lines += ["### Uncertainty", ""]
        for r in uncertainty:
            lines += uncertainty_lines(r)
    findings = [
        f"**{r.check}** · {r.model}: {f}"
        for r in report.results
        if r.check != "compare"
        for f in r.flags
    ] + list(report.notes)
    errors = [
        f"**{r.check}** · {r.model}: {r.errors.n_errors} of {r.errors.n_requests} rows had a "
        f"failed model call ({r.errors.treatment})"
        for r in report.results
        if r.errors.n_errors
    ]
    if findings or errors:
        lines += ["### Findings", ""]
        shown = (errors + findings)[:MAX_FINDINGS]
        lines += [f"- {md_cell(x)}" for x in shown]
        if len(errors + findings) > len(shown):
            lines.append(f"- … and {len(errors + findings) - len(shown)} more in the HTML report")
        lines.append("")
    checks = sorted({r.check for r in report.results})
    lines += [
        "<details><summary>Provenance</summary>",
        "",
        *md_table(
            ["", ""],
            [
                ["checks", ", ".join(checks) or "none"],
                [
                    "models",
                    ", ".join(f"{m.get('name')} ({m.get('spec', '')})" for m in report.models),
                ],
                [
                    "data",
                    ", ".join(
                        f"{d.get('name')}: {d.get('path', '')} "
                        f"({md_num(d.get('n_valid'))} rows, {d.get('fingerprint', '')})"
                        for d in report.datasets
                    ),
                ],
                ["duration", f"{report.duration_s:.1f} s"],
            ],
        ),
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def write_markdown(report: Report, path: str | Path, *, title: str | None = None) -> Path:
    """Write :func:`render_markdown` (UTF-8) to ``path``; return it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_markdown(report, title=title), encoding="utf-8")
    return p
