"""A python: model answering quantiles: the three gradient-boosting fits of ``prepare.py``.

Quantiles fitted separately may cross; they are sorted per row (rearrangement), since assay
refuses quantiles that decrease with the level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

_LO, _HI, _MID, _FEATURES = joblib.load(Path(__file__).resolve().parent / "work" / "gbr.joblib")


def predict(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    X = pd.DataFrame([[p[c] for c in _FEATURES] for p in batch], columns=_FEATURES)
    lo, hi = np.sort(np.c_[_LO.predict(X), _HI.predict(X)], axis=1).T
    return [
        {"value": float(m), "quantiles": {0.05: float(a), 0.95: float(b)}}
        for m, a, b in zip(_MID.predict(X), lo, hi, strict=True)
    ]
