"""Text metrics against sacrebleu / rouge-score and literal implementations."""

from __future__ import annotations

import numpy as np
import pytest

sacrebleu = pytest.importorskip("sacrebleu")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

from assay.errors import MetricError  # noqa: E402
from assay.metrics import corpus_text_metric, text_summary  # noqa: E402
from assay.metrics._text import bootstrap_mean  # noqa: E402
from assay.metrics._text_scores import (  # noqa: E402
    exact_match_scores,
    json_scores,
    refusal_scores,
    token_f1_scores,
)

PREDS = [
    "the cat sat on the mat",
    "a quick brown fox",
    "I'm sorry, I cannot help with that.",
    "hello world",
    "the dog barked loudly at night",
    '{"a": 1}',
]
REFS = [
    "the cat sat on a mat",
    "the quick brown fox jumps",
    "paris is the capital",
    "Hello, world!",
    "a dog barked at night",
    '{"a": 1}',
]


@pytest.mark.parametrize(
    "name,ref",
    [
        ("bleu", lambda p, r: sacrebleu.corpus_bleu(p, [r]).score),
        ("chrf", lambda p, r: sacrebleu.corpus_chrf(p, [r]).score),
        ("ter", lambda p, r: sacrebleu.corpus_ter(p, [r]).score),
    ],
)
def test_corpus_metrics_equal_sacrebleu_and_intervals_cover(name: str, ref) -> None:  # type: ignore[no-untyped-def]
    est = corpus_text_metric(name, PREDS, REFS, n_bootstrap=300, seed=0)
    assert est.value == pytest.approx(ref(PREDS, REFS), abs=1e-9)
    assert est.lower <= est.value <= est.upper and est.n == len(PREDS)


def test_bleu_bootstrap_matches_resampling_the_texts() -> None:
    """A replicate from summed statistics equals sacrebleu on the resampled texts."""
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(PREDS), len(PREDS))
    p = [PREDS[i] for i in idx]
    r = [REFS[i] for i in idx]
    from sacrebleu.metrics import BLEU

    b = BLEU()
    stats = np.asarray(b._extract_corpus_statistics(PREDS, [REFS]))
    counts = np.bincount(idx, minlength=len(PREDS))
    summed = [int(x) for x in counts @ stats]
    assert b._compute_score_from_stats(summed).score == pytest.approx(
        sacrebleu.corpus_bleu(p, [r]).score, abs=1e-9
    )


def test_exact_match_and_token_f1_literal() -> None:
    assert exact_match_scores(PREDS, REFS).tolist() == [0, 0, 0, 1, 0, 1]
    f1 = token_f1_scores(["the cat sat", ""], ["cat sat down", ""])
    # common = {cat, sat}: P = 2/3, R = 2/3
    assert f1.tolist() == pytest.approx([2 / 3, 1.0])
    assert exact_match_scores(["The cat"], ["cat"], strip_articles=True).tolist() == [1.0]


def test_rouge_matches_rouge_score() -> None:
    s = text_summary(PREDS, REFS, metrics=["rouge"], n_bootstrap=100, seed=0)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    ref = np.mean([scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(PREDS, REFS)])
    assert s.metrics["rougeL"].value == pytest.approx(ref, abs=1e-12)


def test_json_refusal_and_binary_intervals_are_wilson() -> None:
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
    j = json_scores(['{"a": 1}', '```json\n{"a": "x"}\n```', "nope"], schema)
    assert j["json_valid"].tolist() == [1, 1, 0] and j["json_schema_valid"].tolist() == [1, 0, 0]
    assert refusal_scores(PREDS).tolist() == [0, 0, 1, 0, 0, 0]
    est = bootstrap_mean(np.array([1.0, 0.0, 1.0, 1.0]))
    assert est.method == "wilson" and est.value == 0.75


def test_bootstrap_mean_interval_coverage() -> None:
    """About 95% of intervals cover the true mean (exponential scores, n = 40)."""
    rng = np.random.default_rng(0)
    hits = 0
    trials = 300
    for _ in range(trials):
        v = rng.exponential(1.0, 40)
        e = bootstrap_mean(v, n_bootstrap=400, seed=rng)
        hits += e.lower <= 1.0 <= e.upper
    assert 0.88 <= hits / trials <= 0.98


def test_word_counts_of_one_word_answers_are_not_given_a_wilson_interval() -> None:
    # one-word answers: length_words is 1 everywhere, a count and not a proportion (issue: it got
    # Wilson's interval, [0.93, 1.0] for a mean of exactly 1 word)
    preds = ["positive", "negative", "positive"] * 20
    refs = ["positive", "negative", "negative"] * 20
    s = text_summary(preds, refs, metrics=("exact_match", "length"), n_bootstrap=200, seed=0)
    words = s.metrics["length_words"]
    assert words.method == "bootstrap" and words.value == words.lower == words.upper == 1.0
    assert s.metrics["length_ratio"].method == "bootstrap"
    # a proportion still gets Wilson's interval, as the catalogue says
    assert s.metrics["exact_match"].method == "wilson"
    with pytest.raises(MetricError, match="0 or 1"):
        bootstrap_mean(np.array([0.0, 2.0]), proportion=True)
