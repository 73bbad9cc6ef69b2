"""Intervals and tests: Estimate, Wilson, bootstrap over counts, DeLong, tests, corrections."""

from assay.stats._bootstrap import hashed_block_codes
from assay.stats._delong import delong_auc
from assay.stats._difference import mean_difference, proportion_difference
from assay.stats._estimate import Estimate
from assay.stats._paired import paired_proportion_difference
from assay.stats._paired_tests import (
    PairedAUC,
    TestResult,
    holm,
    mcnemar_test,
    min_detectable_effect,
    paired_delong,
    required_sample_size,
)
from assay.stats._policy import ZeroDivision
from assay.stats._random import Seed, as_generator, stream
from assay.stats._resampling import corrected_resampled_t
from assay.stats._tests import benjamini_hochberg, two_proportion_test
from assay.stats._wilson import wilson_interval

__all__ = [
    "Estimate",
    "PairedAUC",
    "Seed",
    "TestResult",
    "ZeroDivision",
    "as_generator",
    "benjamini_hochberg",
    "corrected_resampled_t",
    "delong_auc",
    "hashed_block_codes",
    "holm",
    "mcnemar_test",
    "mean_difference",
    "min_detectable_effect",
    "paired_delong",
    "paired_proportion_difference",
    "proportion_difference",
    "required_sample_size",
    "stream",
    "two_proportion_test",
    "wilson_interval",
]
