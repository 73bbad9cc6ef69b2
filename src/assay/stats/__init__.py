"""Intervals and tests: Estimate, Wilson, bootstrap over counts, DeLong, paired tests, corrections."""

from assay.stats._estimate import Estimate

__all__ = ["Estimate"]
