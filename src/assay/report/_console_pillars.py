"""One short console line per pillar present in a ``Report``: the number that matters most, with
its interval, for robustness, domain shift, weak slices, fairness, generalization, cv, leakage,
drift and compare. Each line reads only the ``CheckResult`` (metric keys as each check writes them); a check
that is absent, or a result without the metric, gives no line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from rich.text import Text

from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["pillar_lines"]

_LABEL_WIDTH = 15


def _fmt(x: float, *, signed: bool = False) -> str:
    if not math.isfinite(x):
        return "undefined"
    a = abs(x)
    spec = ".3f" if a == 0 or 1e-3 <= a < 10 else ".2f" if 10 <= a < 1000 else ".4g"
    s = format(x, ("+" if signed else "") + spec)
    return s.replace("-", "−")


def _ci(e: Estimate | None, *, signed: bool = False) -> str | None:
    if e is None or not e.defined:
        return None
    out = _fmt(e.value, signed=signed)
    if math.isfinite(e.lower) and math.isfinite(e.upper):
        out += f" [{_fmt(e.lower, signed=signed)}, {_fmt(e.upper, signed=signed)}]"
    return out


def _robustness(r: CheckResult) -> str | None:
    m = r.metrics
    flips = [
        (str(row.get("key")), m[f"{row.get('key')}.flip_rate"])
        for row in r.tables.get("perturbations") or []
        if isinstance(row, Mapping)
        and f"{row.get('key')}.flip_rate" in m
        and m[f"{row.get('key')}.flip_rate"].defined
    ]
    parts = []
    failed = [
        (str(row.get("key")), int(row.get("n_errors") or 0), row.get("first_error"))
        for row in r.tables.get("perturbations") or []
        if isinstance(row, Mapping) and row.get("n_errors")
    ]
    if failed:  # a model that raises on perturbed inputs: the finding comes first
        first = max(failed, key=lambda f: f[1])[2]
        parts.append(
            f"model failed on perturbed inputs: {', '.join(f'{f[0]} {f[1]}' for f in failed)}"
            f" (first: {str(first)[:80]})"
        )
    if flips:
        key, worst = max(flips, key=lambda kv: kv[1].value)
        parts.append(f"{key} flip {_ci(worst)}" + (" (worst)" if len(flips) > 1 else ""))
    robust = _ci(m.get("robust_accuracy"))
    if robust:
        parts.append(f"robust accuracy {robust}")
    return " · ".join(parts) or None


def _domain_shift(r: CheckResult) -> str | None:
    parts = []
    gap = _ci(r.metrics.get("gap"), signed=True)
    if gap:
        parts.append(f"unseen − seen {gap}")
    worse = [
        str(d.get("domain"))
        for d in r.tables.get("domains") or []
        if isinstance(d, Mapping) and d.get("worse")
    ]
    if worse:
        parts.append(
            f"{len(worse)} domain{'s' if len(worse) > 1 else ''} worse: "
            + ", ".join(worse[:3])
            + ("…" if len(worse) > 3 else "")
        )
    periods = [
        str(p.get("period"))
        for p in r.tables.get("periods") or []
        if isinstance(p, Mapping)
        and isinstance(p.get("gap"), Mapping)
        and Estimate.from_dict(dict(p["gap"])).upper < 0
    ]
    if periods:
        parts.append(
            f"{len(periods)} period{'s' if len(periods) > 1 else ''} worse than "
            f"{r.tables.get('reference_period')}: "
            + ", ".join(periods[:3])
            + ("…" if len(periods) > 3 else "")
        )
    if not parts and (r.tables.get("domains") or r.tables.get("periods")):
        parts.append("no domain or period worse than its reference")
    return " · ".join(parts) or None


def _weak_slices(r: CheckResult) -> str | None:
    weak = [w for w in r.tables.get("weak") or [] if isinstance(w, Mapping)]
    n_tested = r.tables.get("n_tested")
    if not weak:
        return f"none flagged of {n_tested} tested" if n_tested is not None else None
    names = ", ".join(f"{w.get('kind')}={w.get('value')}" for w in weak[:3])
    return f"{len(weak)} flagged of {n_tested} tested: {names}" + ("…" if len(weak) > 3 else "")


def _fairness(r: CheckResult) -> str | None:
    m = r.metrics
    parts = []
    features = [f for f in r.tables.get("features") or [] if isinstance(f, Mapping)]
    scored = [
        (str(f.get("name")), m[f"{f.get('name')}.demographic_parity_ratio"])
        for f in features
        if not f.get("intersection")
        and f"{f.get('name')}.demographic_parity_ratio" in m
        and m[f"{f.get('name')}.demographic_parity_ratio"].defined
    ]
    if scored:
        name, dp = min(scored, key=lambda kv: kv[1].value)  # the least even feature
        parts.append(f"{name} DP ratio {_ci(dp)}")
    else:  # regression, or no ratio: the largest gap in mean absolute error
        mae = [
            (str(f.get("name")), m[f"{f.get('name')}.mae_difference"])
            for f in features
            if f"{f.get('name')}.mae_difference" in m
            and m[f"{f.get('name')}.mae_difference"].defined
        ]
        if mae:
            name, d = max(mae, key=lambda kv: kv[1].value)
            parts.append(f"{name} MAE difference {_ci(d)}")
    left_out = [
        f"{f.get('name')}: {', '.join(str(x.get('group')) for x in f.get('left_out') or [])}"
        for f in features
        if f.get("left_out")
    ]
    if left_out:  # a group left out of a disparity is a finding the console names
        parts.append(f"left out of disparities (a rate is 0/0): {'; '.join(left_out)}")
    small = sum(
        1
        for f in features
        for g in f.get("groups") or []
        if isinstance(g, Mapping) and g.get("too_small")
    )
    if small:
        suffix = f"({small} group{'s' if small > 1 else ''} too small)"
        if parts:
            parts[-1] += " " + suffix
        else:
            parts.append(suffix)
    flips = [
        (k.split(".")[1], e)
        for k, e in m.items()
        if k.startswith("counterfactual.") and k.endswith(".flip_rate") and e.defined
    ]
    if flips:
        swap, e = max(flips, key=lambda kv: kv[1].value)
        parts.append(f"{swap} swap flips {_ci(e)}")
    return " · ".join(parts) or None


def _generalization(r: CheckResult) -> str | None:
    parts = []
    curves = r.tables.get("curves")
    if isinstance(curves, Mapping) and curves.get("verdict"):
        parts.append(f"overfitting {curves['verdict']}")
    gaps = [
        (k.split(".", 1)[1], e) for k, e in r.metrics.items() if k.startswith("train_test_gap.")
    ]
    if gaps:
        metric, e = gaps[0]
        text = _ci(e, signed=True)
        if text:
            parts.append(f"train–test gap ({metric}) {text}")
    return " · ".join(parts) or None


def _cv(r: CheckResult) -> str | None:
    names = [str(x) for x in r.tables.get("metric_names") or [] if str(x) in r.metrics]
    if not names:
        return None
    text = _ci(r.metrics[names[0]])
    folds, repeats = r.tables.get("folds"), r.tables.get("repeats")
    how = f"{folds} folds" + (f" × {repeats}" if isinstance(repeats, int) and repeats > 1 else "")
    return f"{names[0]} {text} ({how})" if text else None


def _leakage(r: CheckResult) -> str | None:
    m = r.metrics
    exact, near = m.get("exact.count"), m.get("near.count")
    if exact is None:
        return None
    n_exact, n_near = int(exact.value), int(near.value) if near is not None else 0
    if n_exact + n_near == 0:
        return "no test row duplicates a training row"
    rate = m.get("contaminated.rate") if n_near else m.get("exact.rate")
    pct = f" ({rate.value:.2%} of test rows)" if rate is not None and rate.defined else ""
    what = f"{n_exact} exact" + (f" + {n_near} near" if n_near else "")
    return f"{what} duplicate{'s' if n_exact + n_near != 1 else ''}{pct}"


def _compare(r: CheckResult) -> str | None:
    cmp = r.tables.get("comparison")
    if not isinstance(cmp, Mapping):
        return None
    parts = [f"{cmp.get('verdict', '?')} vs {cmp.get('baseline', '?')}"]
    for row in cmp.get("metrics") or []:
        if isinstance(row, Mapping) and isinstance(row.get("difference"), Mapping):
            text = _ci(Estimate.from_dict(dict(row["difference"])), signed=True)
            if text:
                parts.append(f"{row.get('metric')} Δ {text}")
            break
    return " · ".join(parts)


def _generation(r: CheckResult) -> str | None:
    m = r.metrics
    parts = []
    for key, label in (("token_f1", "token F1"), ("exact_match", "exact match")):
        text = _ci(m.get(key))
        if text:
            parts.append(f"{label} {text}")
            break
    for key, label in (
        ("judge.score", "judge score"),
        ("judge.win_rate", "judge win rate"),
        ("unparseable_rate", "unparseable"),
        ("refusal_rate", "refusals"),
    ):
        text = _ci(m.get(key))
        if text and (not key.endswith("_rate") or key == "judge.win_rate" or m[key].value > 0):
            parts.append(f"{label} {text}")
    return " · ".join(parts) or None


def _drift(r: CheckResult) -> str | None:
    share, n_drifted = r.metrics.get("share_drifted"), r.metrics.get("n_drifted")
    if share is None or n_drifted is None or not share.n:
        return None
    drift = r.tables.get("drift") or {}
    others = [
        f"{c.get('role')} {c.get('column')}"
        for c in drift.get("columns") or []
        if isinstance(c, Mapping) and c.get("drifted") and c.get("role") != "feature"
    ]
    verdict = "dataset drift" if drift.get("drifted") else "no dataset drift"
    text = f"{int(n_drifted.value)} of {share.n} feature columns drift ({verdict})"
    text += f" · drifted: {', '.join(others)}" if others else ""
    estimated = _ci(r.metrics.get("estimated.accuracy"))
    if estimated:
        text += f" · estimated accuracy {estimated}"
        realised = r.metrics.get("realised.accuracy")
        if realised is not None and realised.defined:
            text += f", realised {_fmt(realised.value)}"
        alerts = r.metrics.get("performance.n_alerts")
        if alerts is not None and alerts.value:
            windows = "window" if alerts.n == 1 else "windows"
            text += (
                f" · realised outside the estimate in {int(alerts.value)} of {alerts.n} {windows}"
            )
    return text


def _uncertainty(r: CheckResult) -> str | None:
    m = r.metrics
    parts = []
    # a regression model's risk is its mean absolute (or squared) error on the rows kept
    error = (
        "mean " + str(r.tables.get("risk", "absolute_error")).replace("_", " ")
        if r.tables.get("task") == "regression"
        else "error"
    )
    risks = sorted(k for k in m if k.startswith("selective.coverage_") and k.endswith(".risk"))
    if risks:
        k = risks[len(risks) // 2]
        cov = k.removeprefix("selective.coverage_").removesuffix(".risk")
        parts.append(f"{error} {_ci(m[k])} keeping {cov}")
    if "selective.at_risk.referral_rate" in m:
        target = (r.tables.get("selective") or {}).get("at_risk", {}).get("target_risk")
        parts.append(f"refer {_ci(m['selective.at_risk.referral_rate'])} for {error} ≤ {target}")
    if "conformal.coverage" in m:
        nominal = (r.tables.get("conformal") or {}).get("nominal")
        parts.append(f"conformal coverage {_ci(m['conformal.coverage'])} (nominal {nominal})")
    op = r.tables.get("operating_point")
    if op and "operating_point.sensitivity" in m:
        parts.append(
            f"sensitivity {_ci(m['operating_point.sensitivity'])} at {op['target']} {op['value']}"
        )
    per_class = r.tables.get("operating_point_per_class")
    if per_class:
        sens = [
            (m[f"{row['key']}.sensitivity"], row["label"])
            for row in per_class.get("classes") or []
            if f"{row['key']}.sensitivity" in m
        ]
        defined = [(e, lbl) for e, lbl in sens if e.defined]
        if defined:
            worst, label = min(defined, key=lambda x: x[0].value)
            undefined = len(sens) - len(defined)
            parts.append(
                f"lowest sensitivity {_ci(worst)} (class {label}) at {per_class['target']} "
                f"{per_class['value']} per class"
                + (f", {undefined} classes undefined" if undefined else "")
            )
    return " · ".join(p for p in parts if p) or None


#: Pillar label, check name and line builder, in display order.
PILLARS: Sequence[tuple[str, str, Callable[[CheckResult], str | None]]] = (
    ("robustness", "robustness", _robustness),
    ("domain shift", "domain_shift", _domain_shift),
    ("weak slices", "weak_slices", _weak_slices),
    ("fairness", "fairness", _fairness),
    ("uncertainty", "uncertainty", _uncertainty),
    ("generalization", "generalization", _generalization),
    ("cv", "cv", _cv),
    ("leakage", "leakage", _leakage),
    ("drift", "drift", _drift),
    ("compare", "compare", _compare),
    ("finetune cost", "finetune_cost", _compare),
    ("generation", "generation", _generation),
)


def pillar_lines(report: Report, results: Sequence[CheckResult] | None = None) -> list[Text]:
    """One ``Text`` per (pillar, model) present, in pillar order then ``results`` order.

    The model's name leads the line when the report has results from more than one model.
    """
    results = list(report.results if results is None else results)
    multi = len({r.model for r in results}) > 1
    lines: list[Text] = []
    for label, check, build in PILLARS:
        for r in (x for x in results if x.check == check):
            try:
                body = build(r)
            except (KeyError, TypeError, ValueError, AttributeError):
                body = None  # a result from another version of the check: no line, no crash
            if not body:
                continue
            line = Text(label.ljust(_LABEL_WIDTH), style="bold cyan")
            if multi:
                line.append(f"{r.model}: ", style="dim")
            line.append(body)
            lines.append(line)
    return lines
