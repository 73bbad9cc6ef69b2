"""Intervals and tests: Estimate, Wilson, bootstrap over counts, DeLong, tests, corrections."""

from assay.stats._confusion import ConfusionCounts
from assay.stats._delong import delong_auc
from assay.stats._difference import mean_difference, proportion_difference
from assay.stats._estimate import Estimate
from assay.stats._paired import paired_proportion_difference
from assay.stats._policy import ZeroDivision
from assay.stats._random import RandomState, as_generator
from assay.stats._resampling import corrected_resampled_t
from assay.stats._tests import benjamini_hochberg, two_proportion_test
from assay.stats._wilson import wilson_interval

__all__ = [
    "ConfusionCounts",
    "Estimate",
    "RandomState",
    "ZeroDivision",
    "as_generator",
    "benjamini_hochberg",
    "corrected_resampled_t",
    "delong_auc",
    "mean_difference",
    "paired_proportion_difference",
    "proportion_difference",
    "two_proportion_test",
    "wilson_interval",
]
