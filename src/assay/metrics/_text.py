"""Text metrics for generation: per-example scores and corpus scores, each with an interval.

Per-example scores (exact match, token F1, ROUGE, embedding cosine, JSON validity, refusal) are
averaged; their intervals come from a bootstrap over examples, or Wilson for 0/1 scores. Corpus
metrics (BLEU, chrF, TER) are computed from per-example sufficient statistics (n-gram matches,
edit counts) that add up over examples, so a bootstrap replicate is one weighted sum: the resampling
is one matrix product (multinomial counts × statistics), not a re-run of the metric on resampled
texts.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.errors import MetricError
from assay.stats import Estimate, Seed, as_generator, wilson_interval

__all__ = [
    "REFUSAL_PATTERNS",
    "TextSummary",
    "bootstrap_mean",
    "corpus_text_metric",
    "exact_match_scores",
    "json_scores",
    "normalise_text",
    "refusal_scores",
    "rouge_scores",
    "text_summary",
    "token_f1_scores",
]

#: Phrases that mark a refusal (matched case-insensitively at word boundaries).
REFUSAL_PATTERNS: tuple[str, ...] = (
    r"i can(?:no|')t (?:help|assist|comply|do that|provide)",
    r"i(?: am|'m) (?:sorry|unable|not able)",
    r"i (?:won't|will not) (?:help|assist|provide)",
    r"as an ai\b",
    r"i apologi[sz]e",
    r"cannot (?:help|assist) with",
)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def _check(preds: Sequence[str], refs: Sequence[str]) -> None:
    if len(preds) != len(refs):
        raise MetricError(
            f"predictions and references differ in length ({len(preds)} vs {len(refs)}); "
            "give one reference per prediction"
        )


def normalise_text(
    text: str,
    *,
    lowercase: bool = True,
    strip_punctuation: bool = True,
    strip_articles: bool = False,
) -> str:
    """Normalise for comparison; whitespace is always collapsed.

    Example:
        >>> normalise_text("  The  Cat, sat! ", strip_articles=True)
        'cat sat'
    """
    if lowercase:
        text = text.lower()
    if strip_punctuation:
        text = text.translate(_PUNCT)
    if strip_articles:
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match_scores(preds: Sequence[str], refs: Sequence[str], **normalise: bool) -> np.ndarray:
    """1.0 where the normalised prediction equals the normalised reference, else 0.0."""
    _check(preds, refs)
    return np.array(
        [
            float(normalise_text(p, **normalise) == normalise_text(r, **normalise))
            for p, r in zip(preds, refs)
        ]
    )


def token_f1_scores(preds: Sequence[str], refs: Sequence[str], **normalise: bool) -> np.ndarray:
    """Token-overlap F1 per example (bag of words after normalisation; SQuAD's definition).

    Two empty texts score 1; one empty text scores 0.
    """
    _check(preds, refs)
    out = np.empty(len(preds))
    for i, (p, r) in enumerate(zip(preds, refs)):
        pt = normalise_text(p, **normalise).split()
        rt = normalise_text(r, **normalise).split()
        if not pt or not rt:
            out[i] = float(pt == rt)
            continue
        common = sum((Counter(pt) & Counter(rt)).values())
        if common == 0:
            out[i] = 0.0
            continue
        precision, recall = common / len(pt), common / len(rt)
        out[i] = 2 * precision * recall / (precision + recall)
    return out


def rouge_scores(preds: Sequence[str], refs: Sequence[str]) -> dict[str, np.ndarray]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures per example (``rouge-score``, with stemming)."""
    _check(preds, refs)
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise MetricError("ROUGE needs rouge-score: pip install 'assay[hf]'") from None
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    rows = [scorer.score(r, p) for p, r in zip(preds, refs)]
    return {k: np.array([row[k].fmeasure for row in rows]) for k in ("rouge1", "rouge2", "rougeL")}


def refusal_scores(preds: Sequence[str], patterns: Sequence[str] = REFUSAL_PATTERNS) -> np.ndarray:
    """1.0 where the answer matches a refusal pattern."""
    rx = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    return np.array([float(rx.search(p) is not None) for p in preds])


def json_scores(
    preds: Sequence[str], schema: dict[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """``json_valid`` (the answer, stripped of a Markdown code fence, parses as JSON) and, with a
    schema, ``json_schema_valid`` (it parses and conforms; ``jsonschema``)."""
    valid = np.zeros(len(preds))
    conform = np.zeros(len(preds))
    validator = None
    if schema is not None:
        try:
            import jsonschema
        except ImportError:
            raise MetricError(
                "JSON-schema checks need jsonschema: pip install 'assay[hf]'"
            ) from None

        validator = jsonschema.Draft202012Validator(schema)
    for i, p in enumerate(preds):
        text = p.strip()
        fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.DOTALL)
        if fence:
            text = fence.group(1)
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        valid[i] = 1.0
        if validator is not None:
            conform[i] = float(validator.is_valid(obj))
    out = {"json_valid": valid}
    if schema is not None:
        out["json_schema_valid"] = conform
    return out


def _weights(n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial resampling counts: row b says how often each example is drawn in replicate b."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(float)


def bootstrap_mean(
    values: np.ndarray, *, level: float = 0.95, n_bootstrap: int = 1000, seed: Seed = None
) -> Estimate:
    """The mean of per-example scores with a percentile bootstrap interval over examples.

    0/1 scores get a Wilson interval instead (exact enough and no resampling noise).
    """
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), level, "none", 0)
    if np.isin(v, (0.0, 1.0)).all():
        return wilson_interval(int(v.sum()), n, level=level)
    rng = as_generator(seed)
    means = _weights(n, n_bootstrap, rng) @ v / n
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Estimate(float(v.mean()), float(lo), float(hi), level, "bootstrap", n)


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
            values, level=level, n_bootstrap=n_bootstrap, seed=rng
        )
    out.per_example = per
    return out
