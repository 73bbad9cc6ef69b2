"""The digits classifier as a ``python:`` model: it takes ``{"image": path}`` payloads, reads each
PNG and classifies its pixels with the logistic regression ``prepare.py`` trained.

Relative paths (the originals, as written in ``work/test.csv``) are read from this folder; the
robustness check hands perturbed images as absolute paths.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SIZE = 32


def pixels(batch: list[dict[str, Any]]) -> np.ndarray:
    """One row of grey levels in [0, 1] per ``{"image": path}`` payload."""
    rows = []
    for item in batch:
        p = Path(str(item["image"]))
        with Image.open(p if p.is_absolute() else HERE / p) as im:
            a = np.asarray(im.convert("L").resize((SIZE, SIZE)), dtype=np.float64) / 255.0
        rows.append(a.ravel())
    return np.vstack(rows)


class DigitClassifier:
    """Logistic regression over the 32×32 pixels of a digit image."""

    task = "classification"

    def __init__(self) -> None:
        import joblib

        self._weights = HERE / "work" / "model.joblib"
        self._model = joblib.load(self._weights)
        self.classes_ = [str(c) for c in self._model.classes_]

    def fingerprint(self) -> str:
        """The weights' hash: a retrained model is not answered from the old one's cache."""
        return hashlib.sha256(self._weights.read_bytes()).hexdigest()

    def predict(self, batch: list[dict[str, Any]]) -> list[str]:
        proba = self.predict_proba(batch)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def predict_proba(self, batch: list[dict[str, Any]]) -> np.ndarray:
        return np.asarray(self._model.predict_proba(pixels(batch)))
