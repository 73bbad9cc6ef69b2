"""Fairness: metrics per group, disparities across groups, counterfactual swaps of text."""

from assay.fairness._group_sketch import GroupSketch
from assay.fairness._groups import (
    GroupMetrics,
    ece_rows,
    group_metrics,
    group_regression_metrics,
)
from assay.fairness._lexicon import lexicon_score
from assay.fairness._swaps import Swapper, WordList, builtin_wordlists, load_wordlist

__all__ = [
    "GroupMetrics",
    "GroupSketch",
    "Swapper",
    "WordList",
    "builtin_wordlists",
    "ece_rows",
    "group_metrics",
    "group_regression_metrics",
    "lexicon_score",
    "load_wordlist",
]
