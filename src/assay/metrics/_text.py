"""Text metrics for generation: per-example scores and corpus scores, each with an interval.

Per-example scores (exact match, token F1, ROUGE, embedding cosine, JSON validity, refusal) are
averaged; their intervals come from a bootstrap over examples, or Wilson for 0/1 scores. Corpus
metrics (BLEU, chrF, TER) are computed from per-example sufficient statistics (n-gram matches,
edit counts) that add up over examples, so a bootstrap replicate is one weighted sum: the resampling
is one matrix product (multinomial counts × statistics), not a re-run of the metric on resampled
texts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.errors import MetricError
from assay.metrics._catalog import metric_info
from assay.metrics._text_scores import (
    _check,
    exact_match_scores,
    json_scores,
    refusal_scores,
    rouge_scores,
    token_f1_scores,
)
from assay.stats import Estimate, Seed, as_generator, wilson_interval

__all__ = ["TextSummary", "bootstrap_mean", "bootstrap_ratio", "corpus_text_metric", "text_summary"]


def _weights(n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial resampling counts: row b says how often each example is drawn in replicate b."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(float)


def bootstrap_mean(
    values: np.ndarray,
    *,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
    proportion: bool | None = None,
) -> Estimate:
    """The mean of per-example scores with a percentile bootstrap interval over examples.

    A proportion (0/1 scores) gets a Wilson interval instead (exact enough and no resampling
    noise). ``proportion``: whether the scores are 0/1 by definition (the catalogue's ``wilson``
    metrics); ``None`` decides from the values, for scores that may or may not be (a judge's).
    A count that happens to be 0 or 1 everywhere (one-word answers) is not a proportion: pass
    ``proportion=False``.
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), level, "none", 0)
    binary = bool(np.isin(v, (0.0, 1.0)).all())
    if proportion and not binary:
        raise MetricError("a proportion's per-example scores must be 0 or 1")
    if binary if proportion is None else proportion:
        return wilson_interval(int(v.sum()), n, level=level)
    rng = as_generator(seed)
    means = _weights(n, n_bootstrap, rng) @ v / n
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Estimate(float(v.mean()), float(lo), float(hi), level, "bootstrap", n)


def bootstrap_ratio(
    numerators: np.ndarray,
    denominators: np.ndarray,
    *,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
) -> Estimate:
    """``sum(numerators) / sum(denominators)`` with a percentile bootstrap interval over examples.

    A pooled mean: each example contributes a total and a count (an answer's summed gaps between
    tokens and how many gaps), so an example with more items weighs more, as when every item of
    every example is pooled. Examples with a zero denominator add nothing.

    Example:
        >>> bootstrap_ratio(np.array([0.3, 0.1]), np.array([3.0, 1.0]), seed=0).value
        0.1
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    n = len(num)
    if n == 0 or den.sum() <= 0:
        return Estimate(float("nan"), float("nan"), float("nan"), level, "none", 0)
    w = _weights(n, n_bootstrap, as_generator(seed))
    tops, bottoms = w @ num, w @ den
    ok = bottoms > 0
    ratios = tops[ok] / bottoms[ok]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(ratios, [alpha, 1 - alpha])
    return Estimate(float(num.sum() / den.sum()), float(lo), float(hi), level, "bootstrap", n)


def corpus_text_metric(
    name: str,
    preds: Sequence[str],
    refs: Sequence[str],
    *,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
) -> Estimate:
    """BLEU, chrF or TER (sacrebleu, default settings) with a bootstrap interval over examples.

    Each example's sufficient statistics come from sacrebleu; a replicate's statistics are the
    weighted sum ``counts @ stats``, scored with sacrebleu's own formula, so the point value equals
    ``sacrebleu.corpus_bleu`` (etc.) exactly.
    """
    _check(preds, refs)
    try:
        from sacrebleu.metrics import BLEU, CHRF, TER
    except ImportError:
        raise MetricError("BLEU, chrF and TER need sacrebleu: pip install 'assay[hf]'") from None
    metrics: dict[str, Callable[[], Any]] = {"bleu": BLEU, "chrf": CHRF, "ter": TER}
    if name not in metrics:
        raise MetricError(f"unknown corpus metric {name!r}; known: {', '.join(metrics)}")
    metric = metrics[name]()
    n = len(preds)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), level, "none", 0)
    stats = np.asarray(metric._extract_corpus_statistics(list(preds), [list(refs)]), dtype=float)

    def score(row: np.ndarray) -> float:
        values = [round(float(x)) for x in row] if name != "ter" else list(row)
        return float(metric._compute_score_from_stats(values).score)

    value = score(stats.sum(0))
    rng = as_generator(seed)
    replicates = _weights(n, n_bootstrap, rng) @ stats
    if name == "ter":
        # TER = edits / reference length, vectorised directly
        boot = 100.0 * replicates[:, 0] / np.maximum(replicates[:, 1], 1e-12)
    else:
        boot = np.array([score(r) for r in replicates])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return Estimate(value, float(lo), float(hi), level, "bootstrap", n)


@dataclass
class TextSummary:
    """Generation metrics: ``metrics`` (name → Estimate) and ``per_example`` (name → scores)."""

    metrics: dict[str, Estimate] = field(default_factory=dict)
    per_example: dict[str, np.ndarray] = field(default_factory=dict)


def text_summary(
    preds: Sequence[str],
    refs: Sequence[str] | None = None,
    *,
    metrics: Sequence[str] = ("exact_match", "token_f1", "bleu", "chrf", "ter", "rouge"),
    json_schema: dict[str, Any] | None = None,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    normalise: dict[str, bool] | None = None,
    level: float = 0.95,
    n_bootstrap: int = 1000,
    seed: Seed = None,
) -> TextSummary:
    """Every requested metric with its interval.

    Args:
        preds: generated texts.
        refs: references, one per prediction; reference-based metrics are skipped without them.
        metrics: names among exact_match, token_f1, bleu, chrf, ter, rouge, embedding_cosine,
            json, refusal, length.
        json_schema: a JSON schema for ``json_schema_valid``.
        embed: texts → L2-normalised vectors (rows), for ``embedding_cosine``.
        normalise: options of :func:`normalise_text` for exact match and token F1.
        level, n_bootstrap: interval settings.
        seed: the bootstraps' randomness, a :data:`assay.stats.Seed`; the metrics draw from it in
            a fixed order.
    """
    norm = normalise or {}
    out = TextSummary()
    rng = as_generator(seed)
    per: dict[str, np.ndarray] = {}
    if refs is not None:
        _check(preds, refs)
        if "exact_match" in metrics:
            per["exact_match"] = exact_match_scores(preds, refs, **norm)
        if "token_f1" in metrics:
            per["token_f1"] = token_f1_scores(preds, refs, **norm)
        if "rouge" in metrics:
            per.update(rouge_scores(preds, refs))
        if "embedding_cosine" in metrics and embed is not None and len(preds):
            a, b = embed(list(preds)), embed(list(refs))
            per["embedding_cosine"] = np.sum(a * b, axis=1)
        for name in ("bleu", "chrf", "ter"):
            if name in metrics:
                out.metrics[name] = corpus_text_metric(
                    name, preds, refs, level=level, n_bootstrap=n_bootstrap, seed=rng
                )
    if "json" in metrics:
        per.update(json_scores(preds, json_schema))
    if "refusal" in metrics:
        per["refusal_rate"] = refusal_scores(preds)
    if "length" in metrics:
        per["length_words"] = np.array([float(len(p.split())) for p in preds])
        per["length_chars"] = np.array([float(len(p)) for p in preds])
        if refs is not None:
            ref_words = np.array([max(len(r.split()), 1) for r in refs], dtype=float)
            per["length_ratio"] = per["length_words"] / ref_words
    for name, values in per.items():
        out.metrics[name] = bootstrap_mean(
            values,
            level=level,
            n_bootstrap=n_bootstrap,
            seed=rng,
            proportion=metric_info(name, task="generation").interval == "wilson",
        )
    out.per_example = per
    return out
