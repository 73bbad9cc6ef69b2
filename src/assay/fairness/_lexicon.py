"""A small sentiment lexicon for scoring generated text in counterfactual tests.

``lexicon_score(text)`` = ``Σ polarity(w) / (number of scored words)``, in ``[-1, 1]``, over the
words found in the lexicon (``wordlists/sentiment_lexicon.yaml``); a word within three tokens
after a negator (``not``, ``never``, ``n't`` …), in the same clause, has its polarity reversed. A text with no lexicon
word scores 0. This is deliberately simple and transparent; VADER or an LLM judge can replace it
once the language-model adapters exist.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import yaml

__all__ = ["lexicon_score", "polarity"]

_TOKEN = re.compile(r"n't|[a-z]+(?:'[a-z]+)?|[.,;:!?]")
_NEGATION_WINDOW = 3
NEUTRAL_BAND = 0.05


@functools.lru_cache(maxsize=1)
def _lexicon() -> tuple[dict[str, float], frozenset[str]]:
    text = resources.files("assay.fairness").joinpath("wordlists/sentiment_lexicon.yaml")
    raw = yaml.safe_load(text.read_text(encoding="utf-8"))
    words: dict[str, float] = {}
    for sign, key in ((1.0, "positive"), (-1.0, "negative")):
        for strength, ws in raw[key].items():
            for w in ws:
                words[str(w).lower()] = sign * float(strength)
    return words, frozenset(str(w) for w in raw["negators"])


def lexicon_score(text: str) -> float:
    """Sentiment of ``text`` in ``[-1, 1]`` (0 when no lexicon word occurs).

    Example:
        >>> lexicon_score("a great film"), lexicon_score("not a great film")
        (0.6, -0.6)
    """
    words, negators = _lexicon()
    tokens = _TOKEN.findall(text.lower().replace("n't", " n't"))
    total, hits, since_negator = 0.0, 0, _NEGATION_WINDOW + 1
    for tok in tokens:
        if tok in negators:
            since_negator = 0
            continue
        if tok in ".,;:!?":  # a clause ends: negation does not reach past it
            since_negator = _NEGATION_WINDOW + 1
            continue
        since_negator += 1
        p = words.get(tok)
        if p is None:
            continue
        total += -p if since_negator <= _NEGATION_WINDOW else p
        hits += 1
    return total / hits if hits else 0.0


def polarity(score: float) -> str:
    """``positive``, ``negative`` or ``neutral`` (within ±0.05 of zero)."""
    return (
        "positive" if score > NEUTRAL_BAND else "negative" if score < -NEUTRAL_BAND else "neutral"
    )
