"""The HTML report: one self-contained file, readable offline, built only from a ``Report``.

Plotly's JavaScript (its basic bundle: scatter, bar, pie) is inlined once; every figure is embedded
as JSON and drawn by an inline script; CSS is inline; nothing is fetched from the network. Jinja2
autoescapes everything, so user text (inputs, labels, error messages) cannot inject markup.

Each check gets a section chosen by its name from :data:`SECTIONS`: a template and a function that
turns one :class:`CheckResult` into that template's context. A check without an entry gets the
generic section (a metric table). A new pillar adds its section by adding an entry::

    SECTIONS["latency"] = Section("Latency", "section_latency.html.j2", build_latency)
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

from assay.metrics import CATALOG, display_name, find_metric, headline_metrics, metrics_for
from assay.report import _plots
from assay.report._checkpoints_html import build_checkpoints
from assay.report._compare_html import build_compare
from assay.report._fairness_view import build_fairness
from assay.report._findings import findings
from assay.report._html_domain import build_domain_shift
from assay.report._html_drift import build_drift
from assay.report._html_generalization import build_cv, build_generalization, build_leakage
from assay.report._html_generation import build_generation
from assay.report._html_latency import build_latency
from assay.report._html_shadow import build_shadow
from assay.report._html_uncertainty import build_uncertainty
from assay.report._html_weak_slices import build_weak_slices
from assay.report._robustness_html import build_robustness
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["SECTIONS", "Section", "render_html", "write_html"]

TEMPLATES = Path(__file__).parent / "templates"
MAX_EXAMPLES = 20
MAX_ERROR_EXAMPLES = 10
MAX_CELL_CHARS = 240
MAX_FOREST_METRICS = 2
#: Findings listed in the summary; the rest are counted (each section shows its own).
MAX_FINDINGS = 15


def _table_metrics(task: str) -> tuple[str, ...]:
    return tuple(m.name for m in metrics_for(task, shown=("summary", "table")))


#: The metrics listed first in a performance table and compared side by side, in display order
#: (the catalogue's ``shown`` summary and table metrics); the others follow in result order.
CLASSIFICATION_METRICS = _table_metrics("classification")
REGRESSION_METRICS = _table_metrics("regression")
_REGRESSION_NAMES = frozenset(m.name for m in metrics_for("regression"))
#: The order of the per-class statistics (the catalogue's per-class metrics).
_PER_CLASS_ORDER = [m.name for m in CATALOG if m.per_class]


# --------------------------------------------------------------------------- formatting


def _spec(x: float) -> str:
    a = abs(x)
    if a == 0 or 1e-3 <= a < 10:
        return ".3f"
    if 10 <= a < 1000:
        return ".2f"
    if 1000 <= a < 1e6:
        return ".1f"
    return ".3g"


def fmt_num(x: Any, spec: str | None = None) -> str:
    """A number for people: ``undefined`` for NaN/None (never 0), magnitude-aware decimals."""
    if x is None or isinstance(x, bool):
        return "undefined" if x is None else str(x)
    if not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if not math.isfinite(x):
        return "undefined" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    return format(x, spec or _spec(x))


def fmt_estimate(e: Estimate, *, level: float | None = None) -> Markup:
    """``value [lower, upper]`` with the interval muted; the level is shown when it differs."""
    if not e.defined:
        return Markup('<span class="undef" title="undefined: no data or a zero denominator">'
                      "undefined</span>")
    spec = _spec(max(abs(e.value), abs(e.lower) if math.isfinite(e.lower) else 0.0))
    out = Markup('<span class="val">{}</span>').format(fmt_num(e.value, spec))
    if math.isfinite(e.lower) and math.isfinite(e.upper):
        ci = f"[{fmt_num(e.lower, spec)}, {fmt_num(e.upper, spec)}]"
        if level is not None and not math.isclose(e.level, level):
            ci += f" at {e.level:.0%}"
        out += Markup(' <span class="ci" title="{} interval ({})">{}</span>').format(
            f"{e.level:.0%}", e.method, ci)
    else:
        out += Markup(' <span class="ci">(no interval)</span>')
    return out


def fmt_p(p: Any) -> str:
    if p is None or not isinstance(p, (int, float)) or not math.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def truncate(s: Any, n: int = MAX_CELL_CHARS) -> str:
    text = s if isinstance(s, str) else json.dumps(s, default=str) if isinstance(s, (dict, list)) \
        else fmt_num(s)
    return text if len(text) <= n else text[: n - 1] + "…"


def pretty(name: str) -> str:
    """A display name for a metric key: ``f1_macro`` → ``F1 (macro)`` (the catalogue's, else
    made from the key)."""
    shown = display_name(name)
    if shown is not None:
        return shown
    base, _, avg = name.rpartition("_")
    if base and avg in ("macro", "micro", "weighted"):
        return f"{pretty(base)} ({avg})"
    return name.replace("_", " ").capitalize()


def _script_json(text: str) -> str:
    """JSON that is safe inside ``<script>``: no ``<``, ``>``, ``&`` or JS line separators."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --------------------------------------------------------------------------- figures


@dataclass
class Figures:
    """Collects the figures of one render; ids are sequential so a render is deterministic."""

    items: list[tuple[str, str, str]] = field(default_factory=list)  # (id, title, json)

    def add(self, fig: go.Figure, title: str) -> dict[str, str]:
        kinds = {t.type for t in fig.data} - BUNDLE_TRACES
        if kinds:
            raise ValueError(f"{title}: trace type {sorted(kinds)} is not in the report's plotly.js")
        fid = f"fig-{len(self.items) + 1}"
        self.items.append((fid, title, fig.to_json()))
        return {"id": fid, "title": title, "height": str(fig.layout.height or 360)}

    def script_json(self) -> Markup:
        body = ",".join(f'"{fid}":{js}' for fid, _, js in self.items)
        return Markup(_script_json("{" + body + "}"))


# --------------------------------------------------------------------------- sections


Builder = Callable[[CheckResult, Figures, Report], dict[str, Any]]


@dataclass(frozen=True)
class Section:
    """How one check is drawn: a title, a template in ``templates/``, and a context builder."""

    title: str
    template: str
    build: Builder


def _direction(name: str) -> str:
    """The catalogue's direction of a metric key; ``higher`` for keys it does not know."""
    info = find_metric(name)
    return "higher" if info is None else info.direction


def _metric_rows(metrics: Mapping[str, Estimate], names: Iterable[str]) -> list[dict[str, Any]]:
    return [
        {"name": k, "pretty": pretty(k), "est": metrics[k], "direction": _direction(k)}
        for k in names if k in metrics
    ]


def _task(r: CheckResult) -> str:
    task = r.tables.get("task")
    if task in ("classification", "regression"):
        return str(task)
    return "regression" if _REGRESSION_NAMES & set(r.metrics) else "classification"


def _headline(r: CheckResult) -> list[dict[str, Any]]:
    task = _task(r)
    names = [k for k in headline_metrics(task) if k in r.metrics][:3]
    return _metric_rows(r.metrics, names)


def _per_class(r: CheckResult) -> dict[str, Any] | None:
    cells: dict[str, dict[str, Estimate]] = {}
    stats: list[str] = []
    for k, e in r.metrics.items():
        if not k.startswith("per_class."):
            continue
        label, _, stat = k[len("per_class."):].rpartition(".")
        cells.setdefault(label, {})[stat] = e
        if stat not in stats:
            stats.append(stat)
    if not cells:
        return None
    order = _PER_CLASS_ORDER
    stats = sorted(stats, key=lambda s: (order.index(s) if s in order else len(order), s))
    labels = [str(x) for x in r.tables.get("labels") or []]
    ordered = [lab for lab in labels if lab in cells] + [lab for lab in cells if lab not in labels]
    return {"stats": stats, "pretty": [pretty(s) for s in stats],
            "rows": [{"label": lab, "cells": [cells[lab].get(s) for s in stats]}
                     for lab in ordered]}


def _fmt_map(metrics: Mapping[str, Estimate], keys: Mapping[str, str]) -> dict[str, str]:
    """``{curve name: formatted value}`` for the legend of a curve figure."""
    out = {}
    for curve, key in keys.items():
        e = metrics.get(key)
        if e is not None and e.defined:
            out[curve] = f"{e.value:.3f}"
    return out


def build_performance(r: CheckResult, figs: Figures, report: Report) -> dict[str, Any]:
    """Metric table, per-class table and the figures of a performance result."""
    task = _task(r)
    known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    head = [k for k in known if k in r.metrics]
    rest = [k for k in r.metrics if k not in head and not k.startswith("per_class.")]
    t = r.tables
    plots: list[dict[str, str]] = []
    labels = [str(x) for x in t.get("labels") or []]
    confusion = None
    if task == "classification":
        cm = t.get("confusion_matrix")
        if isinstance(cm, list) and cm and labels and len(cm) == len(labels):
            confusion = _confusion_table(labels, cm)
        roc = t.get("roc_curve")
        if isinstance(roc, Mapping) and roc:
            binary = "fpr" in roc
            auc = (_fmt_map(r.metrics, {"": "roc_auc"}) if binary else
                   _fmt_map(r.metrics, {lab: f"per_class.{lab}.roc_auc" for lab in roc}))
            plots.append(figs.add(_plots.roc_figure(roc, auc=auc), "ROC curve"))
        pr = t.get("pr_curve")
        if isinstance(pr, Mapping) and pr:
            ap = (_fmt_map(r.metrics, {"": "average_precision"}) if "recall" in pr else
                  _fmt_map(r.metrics, {lab: f"per_class.{lab}.average_precision" for lab in pr}))
            plots.append(figs.add(_plots.pr_figure(pr, ap=ap), "Precision-recall curve"))
        rel = t.get("reliability")
        if isinstance(rel, Mapping) and rel.get("count"):
            ece = _fmt_map(r.metrics, {"": "ece"}).get("")
            plots.append(figs.add(_plots.reliability_figure(rel, ece=ece), "Reliability diagram"))
    quantiles: list[tuple[str, str]] = []
    if task == "regression":
        sc = t.get("scatter")
        if isinstance(sc, Mapping) and sc.get("y_true"):
            plots.append(figs.add(_plots.scatter_figure(sc), "Predicted vs true"))
        rq = t.get("residual_quantiles")
        if isinstance(rq, Mapping) and rq.get("q"):
            plots.append(figs.add(_plots.residual_quantiles_figure(rq), "Residual quantiles"))
            pairs = list(zip(rq.get("q", []), rq.get("value", []), strict=False))
            finite = [abs(v) for _, v in pairs if isinstance(v, (int, float)) and math.isfinite(v)]
            spec = _spec(max(finite, default=0.0))  # one format for the whole row
            quantiles = [(fmt_num(q, "g"), fmt_num(v, spec)) for q, v in pairs]
    return {
        "task": task,
        "labels": labels,
        "metrics": _metric_rows(r.metrics, head + rest),
        "per_class": _per_class(r),
        "confusion": confusion,
        "plots": plots,
        "quantiles": quantiles,
    }


def _confusion_table(labels: Sequence[str], matrix: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The confusion matrix as a table of counts (rows true, columns predicted), each cell shaded
    by its share of the true row (``alpha`` in 0..1)."""
    rows = []
    for label, row in zip(labels, matrix, strict=False):
        counts = [int(c) if isinstance(c, (int, float)) and math.isfinite(c) else 0 for c in row]
        total = sum(counts)
        rows.append({
            "label": label,
            "cells": [{"count": c, "share": c / total if total else 0.0} for c in counts],
        })
    return {"labels": list(labels), "rows": rows}


def _overall(report: Report, r: CheckResult, metric: str) -> float | None:
    for other in report.results:
        if (other.check == "performance" and other.model == r.model
                and other.dataset == r.dataset and metric in other.metrics):
            v = other.metrics[metric].value
            return v if math.isfinite(v) else None
    return None


def build_slices(r: CheckResult, figs: Figures, report: Report) -> dict[str, Any]:
    """Slice table with markers, and a forest plot per slice metric."""
    raw = r.tables.get("slices")
    rows_in: list[Mapping[str, Any]] = [x for x in raw if isinstance(x, Mapping)] \
        if isinstance(raw, list) else []
    metric_names: list[str] = []
    rows: list[dict[str, Any]] = []
    for row in rows_in:
        ms = row.get("metrics") or {}
        ests: dict[str, Estimate] = {
            str(k): Estimate.from_dict(dict(v)) if isinstance(v, Mapping) else v
            for k, v in ms.items() if isinstance(v, (Mapping, Estimate))
        }
        for k in ests:
            if k not in metric_names:
                metric_names.append(k)
        rows.append({
            "column": str(row.get("column", "")), "value": str(row.get("value", "")),
            "n": row.get("n"), "too_small": bool(row.get("too_small")),
            "flagged": bool(row.get("flagged")), "p": fmt_p(row.get("p_adjusted")), "ests": ests,
        })
    rows = _numeric_order(rows)
    plots = []
    for metric in metric_names[:MAX_FOREST_METRICS]:
        points = []
        for row in rows:
            e = row["ests"].get(metric)
            if e is None:
                continue
            points.append({"name": f"{row['column']}={row['value']} (n={row['n']})",
                           "value": e.value, "lower": e.lower, "upper": e.upper, "n": row["n"],
                           "flagged": row["flagged"], "too_small": row["too_small"]})
        if points:
            fig = _plots.forest_figure(points, metric=metric,
                                       overall=_overall(report, r, metric))
            plots.append(figs.add(fig, f"{metric} by slice"))
    return {
        "metric_names": metric_names,
        "metric_pretty": [pretty(m) for m in metric_names],
        "rows": rows,
        "min_n": r.tables.get("min_n"),
        "n_flagged": sum(row["flagged"] for row in rows),
        "n_small": sum(row["too_small"] for row in rows),
        "plots": plots,
    }


_NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_BUCKET = re.compile(rf"^[\[(]?\s*({_NUMBER})\s*(?:(?:-|–|,|to)\s*({_NUMBER})?)?\s*[\])]?$")


def _bucket_key(value: str) -> tuple[float, float] | None:
    """``(lower, upper)`` of a number or a range such as ``12-80`` or ``[0.5, 1.0)``; else None."""
    m = _BUCKET.match(value.strip())
    if m is None:
        return None
    low = float(m.group(1))
    return low, float(m.group(2)) if m.group(2) is not None else low


def _numeric_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a column whose values are all numbers or ranges sorted numerically, in place of
    their text order (``2-9`` before ``10-40``); other columns keep their order."""
    by_column: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_column.setdefault(row["column"], []).append(row)
    out: list[dict[str, Any]] = []
    for group in by_column.values():
        keys = [_bucket_key(row["value"]) for row in group]
        if all(k is not None for k in keys):
            order = sorted(range(len(group)), key=lambda i: keys[i])  # type: ignore[arg-type,return-value]
            group = [group[i] for i in order]
        out += group
    return out


def build_generic(r: CheckResult, figs: Figures, report: Report) -> dict[str, Any]:
    """Any check: its metrics in a table, and its tables as (truncated) JSON."""
    return {
        "metrics": _metric_rows(r.metrics, list(r.metrics)),
        "tables": [(k, truncate(v, 2000)) for k, v in r.tables.items()],
    }


SECTIONS: dict[str, Section] = {
    "compare": Section("Comparison", "section_compare.html.j2", build_compare),
    "finetune_cost": Section(
        "What fine-tuning cost", "section_compare.html.j2", build_compare
    ),
    "checkpoints": Section("Checkpoints", "section_checkpoints.html.j2", build_checkpoints),
    "performance": Section("Performance", "section_performance.html.j2", build_performance),
    "slices": Section("Slices", "section_slices.html.j2", build_slices),
    "robustness": Section("Robustness", "section_robustness.html.j2", build_robustness),
    "domain_shift": Section("Domain shift", "section_domain_shift.html.j2", build_domain_shift),
    "weak_slices": Section("Weak slices", "section_weak_slices.html.j2", build_weak_slices),
    "fairness": Section("Fairness", "section_fairness.html.j2", build_fairness),
    "uncertainty": Section("Uncertainty", "section_uncertainty.html.j2", build_uncertainty),
    "generalization": Section("Generalization", "section_generalization.html.j2",
                              build_generalization),
    "cv": Section("Cross-validation", "section_cv.html.j2", build_cv),
    "leakage": Section("Leakage", "section_leakage.html.j2", build_leakage),
    "generation": Section("Generation", "section_generation.html.j2", build_generation),
    "drift": Section("Drift", "section_drift.html.j2", build_drift),
    "shadow": Section("Shadow", "section_shadow.html.j2", build_shadow),
    "latency": Section("Latency under load", "section_latency.html.j2", build_latency),
}
GENERIC = Section("", "section_generic.html.j2", build_generic)


# --------------------------------------------------------------------------- assembly


def _model_order(report: Report) -> list[str]:
    names = [str(m.get("name")) for m in report.models if m.get("name") is not None]
    for r in report.results:
        if r.model not in names:
            names.append(r.model)
    return names


def _ordered(report: Report, results: Iterable[CheckResult]) -> list[CheckResult]:
    order = {name: i for i, name in enumerate(_model_order(report))}
    ds_order = {str(d.get("name")): i for i, d in enumerate(report.datasets)}
    return sorted(results, key=lambda r: (order.get(r.model, len(order)),
                                          ds_order.get(r.dataset, len(ds_order))))


def _subtitle(r: CheckResult, multi_dataset: bool) -> str:
    return f"{r.model} · {r.dataset}" if multi_dataset else r.model


def _comparison(results: Sequence[CheckResult]) -> dict[str, Any] | None:
    """Headline metrics side by side, when several results share a task."""
    by_task: dict[str, list[CheckResult]] = {}
    for r in results:
        by_task.setdefault(_task(r), []).append(r)
    for task, rs in by_task.items():
        if len(rs) < 2:
            continue
        known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
        names = [k for k in known if any(k in r.metrics for r in rs)]
        return {
            "names": names,
            "columns": [f"{r.model} · {r.dataset}" for r in rs],
            "rows": [{"pretty": pretty(k), "name": k, "direction": _direction(k),
                      "cells": [r.metrics.get(k) for r in rs]} for k in names],
        }
    return None


def _rows_table(items: Sequence[Mapping[str, Any]], limit: int) -> dict[str, Any]:
    """Columns (preferred ones first) and truncated cells of at most ``limit`` example rows."""
    preferred = ["id", "key", "input", "label", "prediction", "confidence", "error"]
    cols: list[str] = [c for c in preferred if any(c in ex for ex in items)]
    for ex in items:
        cols += [str(c) for c in ex if c not in cols]
    shown = items[:limit]
    return {
        "columns": cols,
        "rows": [[truncate(ex[c]) if c in ex else "" for c in cols] for ex in shown],
        "total": len(items),
        "shown": len(shown),
    }


def _provenance(report: Report) -> dict[str, Any]:
    datasets = []
    for d in report.datasets:
        dropped = d.get("dropped") or {}
        datasets.append({
            "name": d.get("name"), "path": d.get("path"), "fingerprint": d.get("fingerprint"),
            "n_read": d.get("n_read"), "n_valid": d.get("n_valid"),
            "dropped": sorted(dropped.items()) if isinstance(dropped, Mapping) else [],
            "n_dropped": sum(v for v in dropped.values() if isinstance(v, int))
            if isinstance(dropped, Mapping) else 0,
            "labels": ", ".join(map(str, d.get("labels") or [])),
        })
    models = []
    for m in report.models:
        details = m.get("details") or {}
        models.append({
            "name": m.get("name"), "spec": m.get("spec"), "task": m.get("task"),
            "fingerprint": m.get("fingerprint"),
            "labels": ", ".join(map(str, m.get("labels") or [])),
            "details": [(k, truncate(v, 200)) for k, v in details.items()]
            if isinstance(details, Mapping) else [],
        })
    env = dict(report.environment)
    packages = env.pop("packages", {}) or {}
    engine = dict(report.engine)
    n_req, n_cached = engine.get("n_requests"), engine.get("n_cached")
    if isinstance(n_req, int) and isinstance(n_cached, int) and n_req:
        engine["cache hit rate"] = f"{n_cached / n_req:.1%}"
    if isinstance(engine.get("wall_s"), (int, float)):
        engine["wall_s"] = f"{engine['wall_s']:.1f} s"
    concurrency = engine.get("concurrency")
    if isinstance(concurrency, Mapping):  # model → record: show each record's one-line why
        engine["concurrency"] = "; ".join(
            f"{name}: {rec.get('why', '')}" if isinstance(rec, Mapping) else f"{name}: {rec}"
            for name, rec in concurrency.items()
        )
    return {
        "datasets": datasets, "models": models,
        "environment": [(k, truncate(v, 300)) for k, v in env.items()],
        "packages": sorted(packages.items()) if isinstance(packages, Mapping) else [],
        "engine": [(k, truncate(v) if not isinstance(v, str) else v) for k, v in engine.items()],
        "suite_json": json.dumps(report.suite, indent=2, sort_keys=True, default=str),
    }


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = fmt_num
    env.filters["est"] = fmt_estimate
    env.filters["pretty"] = pretty
    env.filters["truncate_cell"] = truncate
    return env


#: plotly.js's basic bundle (scatter, bar, pie: every chart the report draws), 1.2 MB against
#: 4.8 MB for the whole library; the same plotly.js version plotly.py writes figures for. See
#: static/README.md for where it comes from.
PLOTLY_BUNDLE = Path(__file__).parent / "static" / "plotly-basic.min.js"
#: The trace types the bundle draws; a figure of another type would stay blank.
BUNDLE_TRACES = frozenset({"scatter", "bar", "pie"})


@functools.lru_cache(maxsize=1)
def _plotly_js() -> Markup:
    return Markup(PLOTLY_BUNDLE.read_text(encoding="utf-8"))


def render_html(report: Report) -> str:
    """Render ``report`` as one self-contained HTML page.

    The page works offline: Plotly's JavaScript and the CSS are inlined, and figures are embedded
    as JSON. Rendering is deterministic, so a Report read back from JSON renders identically.

    Args:
        report: the Report to render; nothing else is read.

    Returns:
        The HTML document as a string.

    Example:
        >>> from assay.report import Report
        >>> r = Report(assay_version="0.1.0", suite_name="demo", suite={}, created_at="2024-01-01",
        ...            duration_s=1.0, seed=0, level=0.95, datasets=[], models=[], environment={})
        >>> "NO GATES" in render_html(r)
        True
    """
    figs = Figures()
    results = _ordered(report, report.results)
    checks: list[str] = []
    for name in [*SECTIONS, *(r.check for r in results)]:
        if name not in checks and any(r.check == name for r in results):
            checks.append(name)
    sections = []
    for check in checks:
        spec = SECTIONS.get(check, GENERIC)
        rs = [r for r in results if r.check == check]
        multi_ds = len({r.dataset for r in rs}) > 1
        sections.append({
            "id": f"check-{check}",
            "check": check,
            "title": spec.title or check.replace("_", " ").capitalize(),
            "template": spec.template,
            "comparison": _comparison(rs) if check == "performance" else None,
            "blocks": [{"result": r, "subtitle": _subtitle(r, multi_ds),
                        "ctx": spec.build(r, figs, report)} for r in rs],
        })
    n_failed = sum(not g.passed for g in report.gates)
    verdict = "NO GATES" if not report.gates else ("PASS" if report.passed else "FAIL")
    headline = [{"result": r, "metrics": _headline(r)}
                for r in results if r.check == "performance"]
    # the report keeps the first few failed rows; the total is the check's count of them
    errors = [{"result": r, "examples": {**_rows_table(r.errors.examples, MAX_ERROR_EXAMPLES),
                                          "total": r.errors.n_errors}}
              for r in results if r.errors.n_requests or r.errors.n_errors]
    examples = [{"result": r, **_rows_table(r.examples, MAX_EXAMPLES)}
                for r in results if r.examples]
    found = findings(report)
    template = _env().get_template("report.html.j2")
    return template.render(
        report=report,
        verdict=verdict,
        n_failed=n_failed,
        headline=headline,
        sections=sections,
        errors=errors,
        examples=examples,
        findings=found[:MAX_FINDINGS],
        n_more_findings=max(0, len(found) - MAX_FINDINGS),
        n_ungated_nogo=sum(f.severity == "no-go" and not f.gated for f in found),
        provenance=_provenance(report),
        figures=figs.items,
        figures_json=figs.script_json(),
        plotly_js=_plotly_js(),
    )


def write_html(report: Report, path: str | Path) -> Path:
    """Render ``report`` with :func:`render_html` and write it (UTF-8) to ``path``.

    Parent folders are created. Returns the path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report), encoding="utf-8")
    return p
