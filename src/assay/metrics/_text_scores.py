"""Per-example text scores: exact match, token F1, ROUGE, refusals and JSON validity — one number
per (prediction, reference), which ``text_summary`` averages and compare pairs by example.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.errors import MetricError

__all__ = [
    "REFUSAL_PATTERNS",
    "exact_match_scores",
    "json_scores",
    "normalise_text",
    "refusal_scores",
    "rouge_scores",
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
