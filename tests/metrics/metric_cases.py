"""The data of the common metric tests: for each task a perfect, a good and a worse model on one
data set, built so that the worse model is worse on every metric with a better direction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.metrics import MetricInfo

N = 200
K = 3


@dataclass(frozen=True)
class Case:
    """One model's predictions on one data set (the inputs of a task's summary)."""

    task: str
    truth: Any
    pred: Any
    labels: tuple[Any, ...] = ()
    proba: Any = None


def _classification(k: int, quality: str) -> Case:
    """``quality``: ``perfect``; ``good`` (15% wrong, calibrated confidence 0.85); ``worse`` (the
    same wrong answers and 20% more, the same confidence)."""
    rng = np.random.default_rng([7, k])
    labels = tuple(f"c{i}" for i in range(k))
    y = rng.integers(0, k, N)
    rank = rng.permutation(N)
    wrong = {"perfect": 0.0, "good": 0.15, "worse": 0.35}[quality]
    flip = rank < round(wrong * N)
    pred = np.where(flip, (y + 1 + np.arange(N) % (k - 1)) % k, y)
    conf = 1.0 if quality == "perfect" else 0.85
    proba = np.full((N, k), (1.0 - conf) / (k - 1))
    proba[np.arange(N), pred] = conf
    lab = np.array(labels)
    return Case("classification", lab[y], lab[pred], labels, proba)


def _regression(quality: str) -> Case:
    rng = np.random.default_rng(11)
    y = 5.0 + 3.0 * rng.standard_normal(N)
    err = rng.normal(0.2, 0.5, N)
    scale = {"perfect": 0.0, "good": 1.0, "worse": 3.0}[quality]
    return Case("regression", y, y + scale * err)


def _multilabel(quality: str) -> Case:
    rng = np.random.default_rng(13)
    truth = (rng.random((N, 4)) < 0.4).astype(int)
    rank = rng.permutation(truth.size).reshape(truth.shape)
    wrong = {"perfect": 0.0, "good": 0.1, "worse": 0.25}[quality]
    pred = np.where(rank < round(wrong * truth.size), 1 - truth, truth)
    return Case("multilabel", truth, pred, ("sport", "news", "tech", "arts"))


_SUBJECTS = ["the cat", "a young dog", "my old teacher", "the red car", "our small team",
             "the new museum", "her brother", "the river"]
_VERBS = ["sat quietly on", "walked slowly past", "looked again at", "waited near",
          "ran around", "stood beside"]
_OBJECTS = ["the wooden bench", "an open window", "the busy market", "a tall tree",
            "the old bridge", "a green field"]
REFUSAL = "I'm sorry, I cannot help with that."
_JSON_ROWS = (5, 11, 17)


def _generation(quality: str) -> Case:
    refs = []
    for i in range(24):
        if i in _JSON_ROWS:
            refs.append(json.dumps({"city": _OBJECTS[i % 6].split()[-1], "n": i}))
        else:
            refs.append(f"{_SUBJECTS[i % 8]} {_VERBS[i % 6]} {_OBJECTS[(i * 5) % 6]} today")
    preds = []
    for i, r in enumerate(refs):
        words = r.split()
        if quality != "perfect" and i % 4 == 0 and i not in _JSON_ROWS:
            words[-1] = "yesterday"
        if quality == "worse" and i % 4 == 1 and i not in _JSON_ROWS:
            words = words[2:]
        text = " ".join(words)
        if quality == "worse" and i in (2, 5):
            text = REFUSAL
        preds.append(text)
    return Case("generation", tuple(refs), tuple(preds))


CASES: dict[str, Callable[[str], Case]] = {
    "binary": lambda q: _classification(2, q),
    "multiclass": lambda q: _classification(K, q),
    "regression": _regression,
    "multilabel": _multilabel,
    "generation": _generation,
}
SCHEMA = {"type": "object", "required": ["city"]}


def _embed(texts: list[str]) -> np.ndarray:
    """A stand-in sentence embedding (hashed bag of words, unit length) for embedding_cosine:
    this test is about how the summary uses the vectors, not about a model."""
    out = np.zeros((len(texts), 64))
    for i, t in enumerate(texts):
        for w in t.lower().split():
            out[i, sum(map(ord, w)) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def case_names(info: MetricInfo) -> list[str]:
    if info.task == "classification":
        return [c for c, kind in (("binary", "binary"), ("multiclass", "multiclass"))
                if info.classes in ("any", kind)]
    return [info.task]
