"""The generation section of the HTML report: reference metrics with their intervals, lengths,
latency and cost, the judge's verdicts (pointwise score distribution, pairwise win rate with the
position-bias count, agreement with human labels) and the unparseable, refused and mismatched
answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from assay.report._schema import CheckResult, Report
from assay.stats._estimate import Estimate

__all__ = ["build_generation"]

#: (metric key, display name, lower is better), in display order.
QUALITY = (
    ("exact_match", "Exact match", False),
    ("token_f1", "Token F1", False),
    ("bleu", "BLEU", False),
    ("chrf", "chrF", False),
    ("ter", "TER", True),
    ("rouge1", "ROUGE-1", False),
    ("rouge2", "ROUGE-2", False),
    ("rougeL", "ROUGE-L", False),
    ("embedding_cosine", "Embedding cosine (MiniLM)", False),
    ("json_valid", "Valid JSON", False),
    ("json_schema_valid", "Conforms to the JSON schema", False),
)
ANSWERS = (
    ("unparseable_rate", "Named no label (unparseable)", True),
    ("refusal_rate", "Refusals", True),
    ("truncated_rate", "Inputs truncated", True),
)
LENGTHS = (
    ("length_words", "Length (words)", None),
    ("length_chars", "Length (characters)", None),
    ("length_ratio", "Length ÷ reference length", None),
)
SERVING = (
    ("ttft_s", "Time to first token (s)", True),
    ("itl_s", "Inter-token latency (s)", True),
    ("tokens_per_s", "Tokens per second", False),
)
JUDGE = (
    ("judge.score", "Judge score", False),
    ("judge.win_rate", "Win rate against the other model", False),
    ("judge.kappa", "Agreement with human labels (Cohen's κ)", False),
    ("judge.parse_failure_rate", "Judge verdicts not parsed", True),
)
_KINDS = {"unparseable": "named no label", "refusal": "refused", "mismatch": "not an exact match"}
_MAX_EXAMPLES = 20


def _rows(metrics: Mapping[str, Estimate], spec: tuple[tuple[str, str, bool | None], ...]) -> list:
    direction = {True: "lower", False: "higher", None: "none"}
    return [
        {"name": k, "pretty": p, "est": metrics[k], "direction": direction[lower]}
        for k, p, lower in spec
        if k in metrics
    ]


def _score_figure(counts: Mapping[str, int], judge: str) -> go.Figure:
    keys = sorted(counts, key=int)
    fig = go.Figure(
        go.Bar(
            x=keys,
            y=[int(counts[k]) for k in keys],
            marker={"color": "#4c72b0"},
            hovertemplate="score %{x}: %{y} answers<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": f"Scores given by the judge ({judge})"},
        xaxis={"title": "score", "type": "category"},
        yaxis={"title": "answers", "rangemode": "tozero"},
        height=300,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
    )
    return fig


def build_generation(r: CheckResult, figs: Any, report: Report) -> dict[str, Any]:
    """Context of ``section_generation.html.j2``."""
    t = r.tables
    m = r.metrics
    raw_judge = t.get("judge")
    judge: Mapping[str, Any] = raw_judge if isinstance(raw_judge, Mapping) else {}
    plots = []
    counts = judge.get("score_counts")
    if isinstance(counts, Mapping) and any(int(v) for v in counts.values()):
        plots.append(figs.add(_score_figure(counts, str(judge.get("judge", ""))), "judge scores"))
    flips = judge.get("order_flips")
    n_pairs = judge.get("n_pairs")
    verdicts = [v for v in judge.get("verdicts") or [] if isinstance(v, Mapping)]
    raw_usage = t.get("usage")
    usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
    raw_latency = t.get("latency")
    latency: Mapping[str, Any] = raw_latency if isinstance(raw_latency, Mapping) else {}
    examples = []
    for e in r.examples[:_MAX_EXAMPLES]:
        kind = str(e.get("kind", ""))
        examples.append(
            {
                "id": e.get("id"),
                "kind": _KINDS.get(kind, kind),
                "bad": kind in ("unparseable", "refusal"),
                "output": e.get("output", ""),
                "reference": e.get("reference"),
            }
        )
    examples.sort(key=lambda x: not x["bad"])
    return {
        "reference": t.get("reference"),
        "quality": _rows(m, QUALITY),
        "answers": _rows(m, ANSWERS),
        "lengths": _rows(m, LENGTHS),
        "serving": _rows(m, SERVING),
        "judge_rows": _rows(m, JUDGE),
        "judge": {
            "name": judge.get("judge"),
            "mode": judge.get("mode"),
            "n_verdicts": judge.get("n_verdicts"),
            "n_parse_failures": judge.get("n_parse_failures"),
            "order_flips": flips,
            "n_pairs": n_pairs,
            "position_bias": bool(flips),
            "verdicts": verdicts[:10],
        }
        if judge
        else None,
        "usage": [
            (k, int(usage[k]) if k.endswith("_tokens") else usage[k])
            for k in ("prompt_tokens", "completion_tokens", "cost")
            if k in usage
        ],
        "latency": [
            (label, latency[k])
            for k, label in (
                ("mean_s", "mean"),
                ("p50_s", "median"),
                ("p95_s", "95th percentile"),
                ("max_s", "max"),
            )
            if k in latency
        ],
        "examples": examples,
        "flags": list(r.flags),
        "plots": plots,
    }
