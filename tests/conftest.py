"""Shared fixtures. Warnings are errors (pyproject); a fixed seed, overridable by ASSAY_TEST_SEED."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture
def seed() -> int:
    """The seed for randomised tests; set ASSAY_TEST_SEED to explore others."""
    return int(os.environ.get("ASSAY_TEST_SEED", "0"))
