"""The weak_slices section of the HTML report: the flagged slices first (what they are, n, the
metric with its interval, the gap to the whole, the adjusted p and a wrong answer or two), then
every candidate that was tested, and a forest plot of the flagged ones against the whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assay.metrics import find_metric
from assay.report import _plots
from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_weak_slices", "slice_definition"]

_KINDS = ("length", "keyword", "cluster")
_MAX_EXAMPLES_PER_SLICE = 2


def _est(x: Any) -> Estimate | None:
    if isinstance(x, Estimate):
        return x
    return Estimate.from_dict(dict(x)) if isinstance(x, Mapping) else None


def _p(p: Any) -> str:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or p != p:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _signed(x: Any) -> str:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or x != x:
        return "—"
    return f"{x:+.3f}".replace("-", "−")


def slice_definition(kind: str, value: str, terms: Any = None) -> tuple[str, str]:
    """``(kind shown, definition)`` of a candidate slice, in words.

    Metadata slices carry their column as the kind; the others are ``length`` (a range of input
    lengths in characters), ``keyword`` (inputs containing a word) and ``cluster`` (a k-means
    cluster of sentence embeddings, described by its most over-represented words).
    """
    if kind == "length":
        return "length", f"input length {value.replace('-', '–')} characters"
    if kind == "keyword":
        return "keyword", f"input contains “{value}”"
    if kind == "cluster":
        about = ", ".join(str(t) for t in terms) if isinstance(terms, list) and terms else ""
        return "cluster", f"embedding cluster {value}" + (f" (about: {about})" if about else "")
    return "metadata", f"{kind} = {value}"


def build_weak_slices(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_weak_slices.html.j2``."""
    t = r.tables
    metric = str(t.get("metric") or "accuracy")
    info = find_metric(metric)
    pretty_metric = info.display if info is not None else metric.capitalize()
    lower_is_better = info is not None and info.lower_is_better
    overall = _est(t.get("overall"))
    raw_clusters = t.get("clusters")
    clusters: Mapping[str, Any] = raw_clusters if isinstance(raw_clusters, Mapping) else {}
    weak: list[dict[str, Any]] = []
    for row in t.get("weak") or []:
        if not isinstance(row, Mapping):
            continue
        kind, value = str(row.get("kind", "")), str(row.get("value", ""))
        shown_kind, definition = slice_definition(kind, value, row.get("terms"))
        aliases = [str(a) for a in row.get("aliases") or []]
        if aliases:  # other candidates that select exactly these rows
            definition += f" (the same rows as {', '.join(aliases)})"
        examples = [e for e in row.get("examples") or [] if isinstance(e, Mapping)]
        weak.append(
            {
                "kind": shown_kind,
                "definition": definition,
                "key": row.get("key"),
                "n": row.get("n"),
                "est": _est(row.get("metric")),
                "gap": _signed(row.get("gap")),
                "p": _p(row.get("p_adjusted")),
                "examples": examples[:_MAX_EXAMPLES_PER_SLICE],
            }
        )
    candidates: list[dict[str, Any]] = []
    for row in t.get("candidates") or []:
        if not isinstance(row, Mapping):
            continue
        kind, value = str(row.get("kind", "")), str(row.get("value", ""))
        shown_kind, definition = slice_definition(kind, value, clusters.get(value))
        candidates.append(
            {
                "kind": shown_kind,
                "definition": definition,
                "n": row.get("n"),
                "est": _est(row.get("metric")),
                "p": _p(row.get("p_adjusted")),
                "flagged": bool(row.get("flagged")),
            }
        )
    raw_tested = t.get("tested")
    tested: Mapping[str, Any] = raw_tested if isinstance(raw_tested, Mapping) else {}
    by_kind: dict[str, int] = {}
    for kind, count in tested.items():
        shown = kind if kind in _KINDS else "metadata"
        by_kind[shown] = by_kind.get(shown, 0) + int(count)
    plots = []
    points = [
        {
            "name": f"{w['definition']} (n={w['n']})",
            "value": w["est"].value,
            "lower": w["est"].lower,
            "upper": w["est"].upper,
            "n": w["n"],
            "flagged": True,
            "too_small": False,
        }
        for w in weak
        if w["est"] is not None and w["est"].defined
    ]
    if points:
        fig = _plots.forest_figure(
            points, metric=metric, overall=overall.value if overall is not None else None
        )
        fig.update_layout(
            title={"text": f"{pretty_metric} of the flagged slices (dashed: whole set)"}
        )
        plots.append(figs.add(fig, f"{metric} of flagged slices"))
    # The check repeats each flagged slice as a flag; the table says it better, so those are
    # left out of the findings listed under it.
    slice_flags = tuple(
        f"{row.get('kind')}={row.get('value')} (n="
        for row in t.get("weak") or []
        if isinstance(row, Mapping)
    )
    return {
        "metric": metric,
        "lower_is_better": lower_is_better,
        "overall": overall,
        "weak": weak,
        "candidates": candidates,
        "n_tested": t.get("n_tested"),
        "by_kind": sorted(by_kind.items()),
        "n_too_small": t.get("n_too_small"),
        "min_n": t.get("min_n"),
        "alpha": t.get("alpha"),
        "notes": [str(n) for n in t.get("notes") or []],
        "other_flags": [f for f in r.flags if not f.startswith(slice_flags)]
        if slice_flags
        else list(r.flags),
        "plots": plots,
    }
