"""Shared fixtures for the metric tests: a seed overridable with ASSAY_TEST_SEED."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("ASSAY_TEST_SEED", "12345"))


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
